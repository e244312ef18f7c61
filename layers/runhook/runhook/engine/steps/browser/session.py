"""One browser step execution: Chromium launched, the actions run in order, Chromium gone.

This is the only module that imports Playwright (its sync API); the browser function
imports it when a browser step runs, the light step function never does.

- one browser and one context per execution (a persistent context on a unique
  user-data dir, so the session's processes can be found and ended: procs.py);
- every request the page makes goes through route interception and the SSRF guard
  (runhook.netguard) — redirect hops and subresources included, WebSockets too; in
  the local cloud loopback targets are allowed, in deployed stages they are refused;
- downloads are refused, service workers blocked (they would bypass interception),
  at most `max_pages` pages may be open, a response declaring more than
  `max_response_bytes` fails the step, screenshots are capped;
- each action has a timeout (its own `timeoutSeconds`, else the default) cut to what
  is left of the step's timeout; a click that timed out is retried (a warning);
- a watchdog thread ends the browser's processes when the run is cancelled or the
  step overruns its deadline by `kill_grace`, so a stuck page never outlives its step;
- Chromium is always closed and its processes and profile removed, also on failure,
  timeout and cancel.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import (
    BrowserContext,
    Download,
    Page,
    Playwright,
    Request,
    Response,
    Route,
    WebSocketRoute,
    sync_playwright,
)
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from runhook.adapters.artifacts import ArtifactStore
from runhook.engine import redact
from runhook.engine.steps.base import StepFailure, short
from runhook.engine.steps.browser import procs
from runhook.engine.steps.browser.guardproxy import BLOCKED_HEADER, GuardProxy
from runhook.engine.steps.browser.options import BrowserOptions
from runhook.models import LogLevel
from runhook.netguard import BlockedTarget, CheckedTarget, check_url
from runhook.tasks.definition import (
    ClickAction,
    ExtractAction,
    FillAction,
    GotoAction,
    PressAction,
    ScreenshotAction,
    SelectAction,
    WaitForAction,
)

log = logging.getLogger("runhook.engine.browser")

Log = Callable[[LogLevel, str], None]
Render = Callable[[str], str]
MAX_BLOCKED_LINES = 5  # warnings about refused requests per step (then one summary)
_NO_NETWORK_SCHEMES = frozenset({"data", "blob", "about"})


def _size(n: int) -> str:
    return (
        f"{n} B" if n < 1024 else f"{n / 1024:.1f} KB" if n < 1048576 else f"{n / 1048576:.1f} MB"
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


class _Watchdog(threading.Thread):
    """Ends the session's Chromium processes on cancel or past the hard deadline."""

    def __init__(
        self,
        marker: str,
        hard_deadline: float,
        should_stop: Callable[[], bool] | None,
        interval: float,
        clock: Callable[[], float],
    ) -> None:
        super().__init__(name="runhook-browser-watchdog", daemon=True)
        self.marker = marker
        self.hard_deadline = hard_deadline
        self.should_stop = should_stop
        self.interval = interval
        self.clock = clock
        self.fired: str | None = None  # "cancelled" | "deadline"
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(self.interval):
            reason: str | None = None
            if self.clock() >= self.hard_deadline:
                reason = "deadline"
            elif self.should_stop is not None:
                try:
                    reason = "cancelled" if self.should_stop() else None
                except Exception:  # a failed status check must not stop the step
                    log.warning("browser watchdog: status check failed", exc_info=True)
            if reason:
                self.fired = reason
                left = procs.kill(procs.session_processes(self.marker))
                if left:
                    log.warning("browser watchdog: processes %s survived SIGKILL", sorted(left))
                return

    def stop(self) -> None:
        self._done.set()


class BrowserSession:
    """Runs one browser step's actions; `run()` returns the step's result."""

    def __init__(
        self,
        actions: list[Any],
        *,
        run_id: str,
        render: Render,
        log: Log,
        timeout: float,
        options: BrowserOptions,
        store: ArtifactStore,
        should_stop: Callable[[], bool] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.actions = actions
        self.run_id = run_id
        self.render = render
        self.log = log
        self.timeout = timeout
        self.options = options
        self.store = store
        self.should_stop = should_stop
        self.clock = clock
        self.deadline = clock() + timeout
        self.extracted: dict[str, Any] = {}
        self.screenshots: dict[str, Any] = {}
        self.metrics: dict[str, float] = {}
        self._guard_cache: dict[tuple[str, str, int | None], str | None] = {}
        self._blocked = 0
        self._violation: StepFailure | None = None
        self._watchdog: _Watchdog | None = None
        self._page: Page | None = None
        self._proxy: GuardProxy | None = None
        self.profile: str | None = None  # the unique user-data dir (marks the processes)

    # -- the session ----------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        options = self.options
        profile = tempfile.mkdtemp(prefix="runhook-chromium-", dir=options.tmp_dir)
        self.profile = profile
        watchdog = _Watchdog(
            profile,
            self.deadline + options.kill_grace,
            self.should_stop,
            options.cancel_poll_interval,
            self.clock,
        )
        self._watchdog = watchdog
        playwright: Playwright | None = None
        context: BrowserContext | None = None
        proxy = GuardProxy(
            allow_private=options.allow_private_targets,
            max_bytes=options.max_transfer_bytes,
            checker=self._check,
        )
        self._proxy = proxy
        try:
            proxy.start()
            watchdog.start()
            started = time.monotonic()
            playwright = sync_playwright().start()
            context = self._launch(playwright, profile)
            self.metrics["launch_ms"] = (time.monotonic() - started) * 1000
            self.log("info", f"Chromium started in {self.metrics['launch_ms']:.0f} ms")
            page = context.pages[0] if context.pages else context.new_page()
            self._page = page
            self._watch_page(page)
            flow_started = time.monotonic()
            for number, action in enumerate(self.actions, start=1):
                self._check_stop()
                self._perform(number, action, page)
            self.metrics["actions_ms"] = (time.monotonic() - flow_started) * 1000
            self._check_stop()
            return {
                "url": redact.url(page.url),
                "title": self._title(page),
                "extracted": self.extracted,
                "screenshots": self.screenshots,
            }
        finally:
            watchdog.stop()
            self._drain_refusals()
            if context is not None:
                with contextlib.suppress(Exception):
                    context.close()
            if playwright is not None:
                with contextlib.suppress(Exception):
                    playwright.stop()
            left = procs.kill(procs.session_processes(profile))
            if left:
                log.warning("Chromium processes %s survived the session", sorted(left))
            proxy.stop()
            shutil.rmtree(profile, ignore_errors=True)

    def _launch(self, playwright: Playwright, profile: str) -> BrowserContext:
        options = self.options
        budget = min(options.launch_timeout, self._remaining())
        if budget <= 0:
            raise self._step_timeout("launching Chromium")
        width, height = options.viewport
        try:
            context = playwright.chromium.launch_persistent_context(
                profile,
                executable_path=options.executable_path,
                headless=True,
                chromium_sandbox=False,
                args=[
                    *options.flags(),
                    f"--proxy-server={self._proxy.server_url if self._proxy else ''}",
                    "--proxy-bypass-list=<-loopback>",
                ],
                env=options.environment(),
                timeout=budget * 1000,
                accept_downloads=False,
                service_workers="block",
                viewport={"width": width, "height": height},
            )
        except PlaywrightError as exc:
            self._check_stop()
            if budget < options.launch_timeout and self._remaining() <= 0.1:
                raise self._step_timeout("launching Chromium") from exc
            raise StepFailure(
                "browser_unavailable",
                f"cannot start Chromium ({options.executable_path}): {_first_line(exc)}",
                retryable=True,
            ) from exc
        context.route("**/*", self._on_route)
        context.route_web_socket("**/*", self._on_websocket)
        context.on("page", self._on_page)
        return context

    # -- guards and limits ----------------------------------------------------------------
    def _check(self, url: str) -> CheckedTarget:
        return check_url(url, allow_private=self.options.allow_private_targets)

    def _drain_refusals(self) -> list[tuple[str, str]]:
        """Connections the proxy refused since the last call (redirect hops, and Chromium's
        own background requests, which is why they go to the process log, not the run's)."""
        proxy = self._proxy
        drained: list[tuple[str, str]] = []
        while proxy is not None and not proxy.refusals.empty():
            url, reason = proxy.refusals.get_nowait()
            log.info("guard proxy refused %s: %s", redact.url(url), reason)
            drained.append((url, reason))
        return drained

    def _refusal(self, url: str) -> tuple[str, str] | None:
        """(code, reason) when the page may not reach `url`; None when it may."""
        try:
            parts = urlsplit(url)
            scheme = parts.scheme.lower()
            port = parts.port
        except ValueError:
            return ("invalid_url", f"invalid URL {url!r}")
        if scheme in _NO_NETWORK_SCHEMES:
            return None
        checked = {"ws": "http", "wss": "https"}.get(scheme, scheme)
        cache_key = (checked, (parts.hostname or "").lower(), port)
        if cache_key in self._guard_cache:
            reason = self._guard_cache[cache_key]
            return ("target_not_allowed", reason) if reason else None
        target = url if checked == scheme else checked + url[len(scheme) :]
        try:
            self._check(target)
        except BlockedTarget as exc:
            if exc.code == "target_not_allowed":
                self._guard_cache[cache_key] = str(exc)
            return (exc.code, str(exc))
        self._guard_cache[cache_key] = None
        return None

    def _on_route(self, route: Route, request: Request) -> None:
        refusal = self._refusal(request.url)
        try:
            if refusal is None:
                route.continue_()
                return
            self._note_blocked(request.url, refusal[1])
            route.abort("blockedbyclient")
        except PlaywrightError:
            pass  # the page or the browser went away meanwhile

    def _on_websocket(self, ws: WebSocketRoute) -> None:
        refusal = self._refusal(ws.url)
        try:
            if refusal is None:
                ws.connect_to_server()
                return
            self._note_blocked(ws.url, refusal[1])
            ws.close(code=1008, reason="blocked")
        except PlaywrightError:
            pass

    def _note_blocked(self, url: str, reason: str) -> None:
        self._blocked += 1
        if self._blocked <= MAX_BLOCKED_LINES:
            self.log("warning", f"Blocked request to {redact.url(url)}: {reason}")
        elif self._blocked == MAX_BLOCKED_LINES + 1:
            self.log("warning", "More requests were blocked (not logged one by one)")

    def _on_page(self, page: Page) -> None:
        context = page.context
        if len(context.pages) > self.options.max_pages:
            self.log(
                "warning",
                f"A page tried to open more than {self.options.max_pages} pages: closed it",
            )
            with contextlib.suppress(PlaywrightError):
                page.close()
            return
        self._watch_page(page)

    def _watch_page(self, page: Page) -> None:
        page.on("download", self._on_download)
        page.on("response", self._on_response)

    def _on_download(self, download: Download) -> None:
        self.log("warning", f"Download refused: {short(download.suggested_filename, 100)}")

    def _on_response(self, response: Response) -> None:
        declared = response.headers.get("content-length", "")
        if not declared.isdigit() or int(declared) <= self.options.max_response_bytes:
            return
        if self._violation is None:
            self._violation = StepFailure(
                "response_too_large",
                f"{redact.url(response.url)} answered {_size(int(declared))}, more than the "
                f"{_size(self.options.max_response_bytes)} a browser step may load",
            )
        with contextlib.suppress(PlaywrightError):
            response.frame.page.close()

    # -- time -----------------------------------------------------------------------------
    def _remaining(self) -> float:
        return self.deadline - self.clock()

    def _action_timeout(self, action: Any) -> tuple[float, bool]:
        """Seconds for this action, and whether the step's deadline is what bounds it."""
        wanted = float(action.timeoutSeconds or self.options.default_action_timeout)
        remaining = self._remaining()
        if remaining <= 0:
            raise self._step_timeout(self._describe(action))
        return (wanted, False) if wanted <= remaining else (remaining, True)

    def _step_timeout(self, what: str) -> StepFailure:
        return StepFailure(
            "step_timeout",
            f"{what}: the browser step did not finish within its timeout of {self.timeout:g} s",
            retryable=True,
        )

    def _check_stop(self) -> None:
        self._drain_refusals()
        if self._violation is not None:
            raise self._violation
        if self._proxy is not None and self._proxy.over_limit:
            raise StepFailure(
                "transfer_too_large",
                f"the pages loaded more than {_size(self.options.max_transfer_bytes)}, "
                "the most a browser step may transfer",
            )
        watchdog = self._watchdog
        fired = watchdog.fired if watchdog is not None else None
        if fired == "cancelled":
            raise StepFailure("cancelled", "the run was cancelled: the browser was stopped")
        if fired == "deadline":
            raise self._step_timeout("the browser was stopped")

    # -- actions --------------------------------------------------------------------------
    @staticmethod
    def _describe(action: Any) -> str:
        target = getattr(action, "selector", None) or getattr(action, "url", None) or ""
        return f"{action.action} {short(target, 120)}".strip()

    def _perform(self, number: int, action: Any, page: Page) -> None:
        what = f"action {number} ({self._describe(action)})"
        seconds, bounded_by_step = self._action_timeout(action)
        try:
            self._dispatch(action, page, seconds)
        except StepFailure:
            raise
        except PlaywrightTimeoutError as exc:
            self._check_stop()
            if bounded_by_step or self._remaining() <= 0:
                raise self._step_timeout(what) from exc
            raise StepFailure(
                "browser_timeout",
                f"{what}: {self._timeout_reason(action)} within {seconds:g} s",
                retryable=True,
            ) from exc
        except PlaywrightError as exc:
            self._check_stop()
            raise StepFailure("browser_error", f"{what}: {_first_line(exc)}") from exc

    @staticmethod
    def _timeout_reason(action: Any) -> str:
        if isinstance(action, GotoAction):
            return "the page did not load"
        if isinstance(action, WaitForAction):
            return f"{action.selector!r} did not become {action.state}"
        if isinstance(action, ExtractAction | ScreenshotAction):
            selector = getattr(action, "selector", None)
            return f"{selector!r} did not appear" if selector else "no screenshot"
        return f"{action.selector!r} was not found or not ready"

    def _dispatch(self, action: Any, page: Page, seconds: float) -> None:
        ms = seconds * 1000
        if isinstance(action, GotoAction):
            self._goto(action, page, ms)
        elif isinstance(action, ClickAction):
            self._click(action, page, seconds)
        elif isinstance(action, FillAction):
            value = self.render(action.value)
            page.locator(action.selector).fill(value, timeout=ms)
            self.log("info", f"Filled {action.selector} ({len(value)} characters)")
        elif isinstance(action, SelectAction):
            values = (
                [self.render(v) for v in action.value]
                if isinstance(action.value, list)
                else self.render(action.value)
            )
            chosen = page.locator(action.selector).select_option(values, timeout=ms)
            self.log("info", f"Selected {short(chosen, 100)} in {action.selector}")
        elif isinstance(action, PressAction):
            page.locator(action.selector).press(action.key, timeout=ms)
            self.log("info", f"Pressed {action.key} in {action.selector}")
        elif isinstance(action, WaitForAction):
            started = time.monotonic()
            page.locator(action.selector).first.wait_for(state=action.state, timeout=ms)
            took = (time.monotonic() - started) * 1000
            self.log("info", f"{action.selector} is {action.state} (after {took:.0f} ms)")
        elif isinstance(action, ExtractAction):
            self._extract(action, page, ms)
        elif isinstance(action, ScreenshotAction):
            self._screenshot(action, page, ms)
        else:  # pragma: no cover - the definition's union is closed
            raise StepFailure("invalid_action", f"unknown browser action {action!r}")

    def _goto(self, action: GotoAction, page: Page, ms: float) -> None:
        url = self.render(action.url).strip()
        refusal = self._refusal(url)
        if refusal is not None:
            raise StepFailure(refusal[0], f"goto {redact.url(url)} refused: {refusal[1]}")
        started = time.monotonic()
        self._drain_refusals()
        blocked_before = self._blocked
        try:
            response = page.goto(url, timeout=ms, wait_until=action.waitUntil)
        except PlaywrightError as exc:
            hops = self._drain_refusals()
            text = str(exc)
            if "ERR_BLOCKED_BY_CLIENT" in text and self._blocked > blocked_before:
                raise self._refused(url, None) from exc
            if "ERR_TUNNEL_CONNECTION_FAILED" in text and hops:
                raise self._refused(url, hops[-1]) from exc
            raise
        if response is not None and response.headers.get(BLOCKED_HEADER.lower()):
            hops = self._drain_refusals()
            raise self._refused(url, hops[-1] if hops else None)
        took = (time.monotonic() - started) * 1000
        status = response.status if response is not None else None
        shown = f"{status}, {took:.0f} ms" if status is not None else f"{took:.0f} ms"
        self.log("info", f"Navigated to {redact.url(page.url)} ({shown})")
        if status is not None and status >= 400:
            self.log("warning", f"{redact.url(page.url)} answered {status}")

    def _refused(self, url: str, hop: tuple[str, str] | None) -> StepFailure:
        where = (
            f" at {redact.url(hop[0])}: {hop[1]}"
            if hop
            else " (a redirect to a non-public address)"
        )
        return StepFailure(
            "target_not_allowed",
            f"goto {redact.url(url)}: the navigation was refused by the target guard{where}",
        )

    def _click(self, action: ClickAction, page: Page, seconds: float) -> None:
        attempts = 1 + max(0, self.options.click_retries)
        locator = page.locator(action.selector)
        for attempt in range(1, attempts + 1):
            try:
                locator.click(timeout=seconds * 1000)
                break
            except PlaywrightTimeoutError:
                self._check_stop()
                if attempt >= attempts or self._remaining() <= 0.1:
                    raise
                self.log(
                    "warning",
                    f"Retrying element click after timeout: {action.selector} "
                    f"(attempt {attempt + 1}/{attempts})",
                )
                seconds, _ = self._action_timeout(action)
        self.log("info", f"Clicked {action.selector}")

    def _cap(self, name: str, value: str | None) -> str | None:
        limit = self.options.max_extract_chars
        if value is None or len(value) <= limit:
            return value
        self.log("warning", f"{name}: cut to {limit} characters (was {len(value)})")
        return value[:limit]

    def _extract(self, action: ExtractAction, page: Page, ms: float) -> None:
        locator = page.locator(action.selector)
        locator.first.wait_for(state="attached", timeout=ms)
        elements = locator.all() if action.all else [locator.first]
        values: list[str | None] = []
        for element in elements:
            if action.from_ == "text":
                raw: str | None = element.inner_text(timeout=ms).strip()
            elif action.from_ == "html":
                raw = element.inner_html(timeout=ms)
            else:
                raw = element.get_attribute(action.attribute or "", timeout=ms)
            values.append(self._cap(action.name, raw))
        result: Any = values if action.all else values[0]
        self.extracted[action.name] = result
        self.log("info", f"Extracted {action.name} from {action.selector}: {short(result, 120)}")

    def _screenshot(self, action: ScreenshotAction, page: Page, ms: float) -> None:
        cap = self.options.max_screenshot_bytes
        data = page.screenshot(full_page=action.fullPage, type="png", timeout=ms)
        if len(data) > cap and action.fullPage:
            self.log(
                "warning",
                f"full-page screenshot {action.name} is {_size(len(data))}, over "
                f"{_size(cap)}: taking the viewport only",
            )
            data = page.screenshot(full_page=False, type="png", timeout=ms)
        if len(data) > cap:
            raise StepFailure(
                "screenshot_too_large",
                f"screenshot {action.name} is {_size(len(data))}, more than {_size(cap)}",
            )
        name = f"{action.name}.png"
        self.screenshots[action.name] = self.store.put(self.run_id, name, data, "image/png")
        self.log("info", f"Saved screenshot {name} ({_size(len(data))})")

    @staticmethod
    def _title(page: Page) -> str | None:
        try:
            return page.title()
        except PlaywrightError:
            return None
