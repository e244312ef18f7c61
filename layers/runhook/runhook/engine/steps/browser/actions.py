"""The actions of a browser step, performed on one page (imports Playwright).

Each action has a timeout (its own `timeoutSeconds`, else the default) cut to what is
left of the step's timeout (StepBudget); a click that timed out is retried (a warning);
a Playwright error becomes the step's failure, unless the session was stopped meanwhile
(`check_stop` raises the stop's failure then: cancelled, step_timeout, a limit). An
action with `ifVisible` runs only if that selector is visible when its turn comes
(checked at once): a task's login actions are skipped when a saved session is signed in.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from runhook.adapters.artifacts import ArtifactStore
from runhook.engine import redact
from runhook.engine.steps.base import StepFailure, short
from runhook.engine.steps.browser.guardproxy import BLOCKED_HEADER
from runhook.engine.steps.browser.options import BrowserOptions, human_size
from runhook.engine.steps.browser.pageguard import Log, PageGuard
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

Render = Callable[[str], str]


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def describe(action: Any) -> str:
    target = getattr(action, "selector", None) or getattr(action, "url", None) or ""
    return f"{action.action} {short(target, 120)}".strip()


class StepBudget:
    """The step's timeout: its deadline, what is left of it, the failure past it."""

    def __init__(self, timeout: float, clock: Callable[[], float]) -> None:
        self.timeout = timeout
        self.clock = clock
        self.deadline = clock() + timeout

    def remaining(self) -> float:
        return self.deadline - self.clock()

    def exceeded(self, what: str) -> StepFailure:
        return StepFailure(
            "step_timeout",
            f"{what}: the browser step did not finish within its timeout of {self.timeout:g} s",
            retryable=True,
        )

    def for_action(self, action: Any, default: float) -> tuple[float, bool]:
        """Seconds for this action, and whether the step's deadline is what bounds it."""
        wanted = float(action.timeoutSeconds or default)
        remaining = self.remaining()
        if remaining <= 0:
            raise self.exceeded(describe(action))
        return (wanted, False) if wanted <= remaining else (remaining, True)


class ActionRunner:
    """Performs actions on a page; collects what they extract and the screenshots."""

    def __init__(
        self,
        *,
        run_id: str,
        render: Render,
        log: Log,
        options: BrowserOptions,
        store: ArtifactStore,
        budget: StepBudget,
        guard: PageGuard,
        check_stop: Callable[[], None],
    ) -> None:
        self.run_id = run_id
        self.render = render
        self.log = log
        self.options = options
        self.store = store
        self.budget = budget
        self.guard = guard
        self.check_stop = check_stop
        self.extracted: dict[str, Any] = {}
        self.screenshots: dict[str, Any] = {}

    def perform(self, number: int, action: Any, page: Page) -> None:
        what = f"action {number} ({describe(action)})"
        seconds, bounded_by_step = self._timeout(action)
        try:
            if action.ifVisible and not page.locator(action.ifVisible).first.is_visible():
                self.log("info", f"Skipped {what}: {action.ifVisible} is not visible")
                return
            self._dispatch(action, page, seconds)
        except StepFailure:
            raise
        except PlaywrightTimeoutError as exc:
            self.check_stop()
            if bounded_by_step or self.budget.remaining() <= 0:
                raise self.budget.exceeded(what) from exc
            raise StepFailure(
                "browser_timeout",
                f"{what}: {self._timeout_reason(action)} within {seconds:g} s",
                retryable=True,
            ) from exc
        except PlaywrightError as exc:
            self.check_stop()
            raise StepFailure("browser_error", f"{what}: {first_line(exc)}") from exc

    def _timeout(self, action: Any) -> tuple[float, bool]:
        return self.budget.for_action(action, self.options.default_action_timeout)

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
        refusal = self.guard.refusal(url)
        if refusal is not None:
            raise StepFailure(refusal[0], f"goto {redact.url(url)} refused: {refusal[1]}")
        started = time.monotonic()
        self.guard.drain_refusals()
        blocked_before = self.guard.blocked
        try:
            response = page.goto(url, timeout=ms, wait_until=action.waitUntil)
        except PlaywrightError as exc:
            hops = self.guard.drain_refusals()
            text = str(exc)
            if "ERR_BLOCKED_BY_CLIENT" in text and self.guard.blocked > blocked_before:
                raise self._refused(url, None) from exc
            if "ERR_TUNNEL_CONNECTION_FAILED" in text and hops:
                raise self._refused(url, navigation_hop(hops)) from exc
            raise
        if response is not None and response.headers.get(BLOCKED_HEADER.lower()):
            hops = self.guard.drain_refusals()
            raise self._refused(url, navigation_hop(hops))
        took = (time.monotonic() - started) * 1000
        status = response.status if response is not None else None
        shown = f"{status}, {took:.0f} ms" if status is not None else f"{took:.0f} ms"
        self.log("info", f"Navigated to {redact.url(page.url)} ({shown})")
        if status is not None and status >= 400:
            self.log("warning", f"{redact.url(page.url)} answered {status}")

    @staticmethod
    def _refused(url: str, hop: tuple[str, str] | None) -> StepFailure:
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
                self.check_stop()
                if attempt >= attempts or self.budget.remaining() <= 0.1:
                    raise
                self.log(
                    "warning",
                    f"Retrying element click after timeout: {action.selector} "
                    f"(attempt {attempt + 1}/{attempts})",
                )
                seconds, _ = self._timeout(action)
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
                f"full-page screenshot {action.name} is {human_size(len(data))}, over "
                f"{human_size(cap)}: taking the viewport only",
            )
            data = page.screenshot(full_page=False, type="png", timeout=ms)
        if len(data) > cap:
            raise StepFailure(
                "screenshot_too_large",
                f"screenshot {action.name} is {human_size(len(data))}, more than {human_size(cap)}",
            )
        name = f"{action.name}.png"
        self.screenshots[action.name] = self.store.put(self.run_id, name, data, "image/png")
        self.log("info", f"Saved screenshot {name} ({human_size(len(data))})")


# Hosts Chromium calls on its own (sign-in, component and safe-browsing updates) despite
# --disable-background-networking; the guard refuses them too, and they must not be
# reported as the navigation's refused hop.
CHROMIUM_SERVICE_HOSTS = ("accounts.google.com", "clients2.google.com")
CHROMIUM_SERVICE_SUFFIXES = (".googleapis.com", ".gvt1.com")


def navigation_hop(hops: list[tuple[str, str]]) -> tuple[str, str] | None:
    """The refusal that stopped a navigation: the last one not made by Chromium itself."""
    ours = [hop for hop in hops if not _chromium_service(hop[0])]
    return (ours or hops)[-1] if hops else None


def _chromium_service(url: str) -> bool:
    host = (urlsplit(url if "://" in url else f"//{url}").hostname or "").lower()
    return host in CHROMIUM_SERVICE_HOSTS or host.endswith(CHROMIUM_SERVICE_SUFFIXES)
