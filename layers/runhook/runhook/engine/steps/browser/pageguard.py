"""What the pages of one browser session may reach and load (imports Playwright).

- route interception checks every request a page makes (documents, subresources, XHR)
  and every WebSocket against the SSRF guard, and aborts refused ones (a warning in
  the run's log, at most MAX_BLOCKED_LINES of them);
- the guard proxy (guardproxy.py) sees the redirect hops the browser follows by itself:
  its refusals are drained here;
- downloads are refused, at most `max_pages` pages may be open, a response declaring
  more than `max_response_bytes` (or a session past `max_transfer_bytes`) fails the step.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from urllib.parse import urlsplit

from playwright.sync_api import (
    BrowserContext,
    Download,
    Page,
    Request,
    Response,
    Route,
    WebSocketRoute,
)
from playwright.sync_api import Error as PlaywrightError

from runhook.engine import redact
from runhook.engine.steps.base import StepFailure, short
from runhook.engine.steps.browser.guardproxy import GuardProxy
from runhook.engine.steps.browser.options import BrowserOptions, human_size
from runhook.models import LogLevel
from runhook.netguard import BlockedTarget, CheckedTarget

log = logging.getLogger("runhook.engine.browser")

Log = Callable[[LogLevel, str], None]
MAX_BLOCKED_LINES = 5  # warnings about refused requests per step (then one summary)
_NO_NETWORK_SCHEMES = frozenset({"data", "blob", "about"})


class PageGuard:
    """The SSRF guard and the limits, applied to a browser context and its pages."""

    def __init__(
        self,
        *,
        options: BrowserOptions,
        log: Log,
        check: Callable[[str], CheckedTarget],
        proxy: GuardProxy,
    ) -> None:
        self.options = options
        self.log = log
        self.check = check
        self.proxy = proxy
        self.blocked = 0  # requests refused so far
        self._cache: dict[tuple[str, str, int | None], str | None] = {}
        self._violation: StepFailure | None = None

    def install(self, context: BrowserContext) -> None:
        context.route("**/*", self._on_route)
        context.route_web_socket("**/*", self._on_websocket)
        context.on("page", self._on_page)

    def watch_page(self, page: Page) -> None:
        page.on("download", self._on_download)
        page.on("response", self._on_response)

    def raise_violation(self) -> None:
        """Fail the step if a limit was passed since (a response, the session's transfer)."""
        if self._violation is not None:
            raise self._violation
        if self.proxy.over_limit:
            raise StepFailure(
                "transfer_too_large",
                f"the pages loaded more than {human_size(self.options.max_transfer_bytes)}, "
                "the most a browser step may transfer",
            )

    def drain_refusals(self) -> list[tuple[str, str]]:
        """Connections the proxy refused since the last call (redirect hops, and Chromium's
        own background requests, which is why they go to the process log, not the run's)."""
        drained: list[tuple[str, str]] = []
        while not self.proxy.refusals.empty():
            url, reason = self.proxy.refusals.get_nowait()
            log.info("guard proxy refused %s: %s", redact.url(url), reason)
            drained.append((url, reason))
        return drained

    def refusal(self, url: str) -> tuple[str, str] | None:
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
        if cache_key in self._cache:
            reason = self._cache[cache_key]
            return ("target_not_allowed", reason) if reason else None
        target = url if checked == scheme else checked + url[len(scheme) :]
        try:
            self.check(target)
        except BlockedTarget as exc:
            if exc.code == "target_not_allowed":
                self._cache[cache_key] = str(exc)
            return (exc.code, str(exc))
        self._cache[cache_key] = None
        return None

    # -- Playwright's callbacks -----------------------------------------------------------
    def _on_route(self, route: Route, request: Request) -> None:
        refusal = self.refusal(request.url)
        try:
            if refusal is None:
                route.continue_()
                return
            self._note_blocked(request.url, refusal[1])
            route.abort("blockedbyclient")
        except PlaywrightError:
            pass  # the page or the browser went away meanwhile

    def _on_websocket(self, ws: WebSocketRoute) -> None:
        refusal = self.refusal(ws.url)
        try:
            if refusal is None:
                ws.connect_to_server()
                return
            self._note_blocked(ws.url, refusal[1])
            ws.close(code=1008, reason="blocked")
        except PlaywrightError:
            pass

    def _note_blocked(self, url: str, reason: str) -> None:
        self.blocked += 1
        if self.blocked <= MAX_BLOCKED_LINES:
            self.log("warning", f"Blocked request to {redact.url(url)}: {reason}")
        elif self.blocked == MAX_BLOCKED_LINES + 1:
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
        self.watch_page(page)

    def _on_download(self, download: Download) -> None:
        self.log("warning", f"Download refused: {short(download.suggested_filename, 100)}")

    def _on_response(self, response: Response) -> None:
        declared = response.headers.get("content-length", "")
        if not declared.isdigit() or int(declared) <= self.options.max_response_bytes:
            return
        if self._violation is None:
            self._violation = StepFailure(
                "response_too_large",
                f"{redact.url(response.url)} answered {human_size(int(declared))}, more "
                f"than the {human_size(self.options.max_response_bytes)} a browser step "
                "may load",
            )
        with contextlib.suppress(PlaywrightError):
            response.frame.page.close()
