"""Playwright's Node.js driver and Chromium's persistent context for one browser session.

Split from session.py (which orchestrates a step: guards, actions, evidence, records)
because starting and leaving Playwright has rules of its own: the driver and Chromium
start in two stages so a stop between them launches nothing; the driver's pid is found
so the watchdog can end it; and leaving closes the context, ends Chromium and only then
stops the driver (which waits for the browsers it launched), reading the transport
error a killed driver leaves behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from playwright.sync_api import BrowserContext, Playwright, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from runhook.engine.steps.base import StepFailure
from runhook.engine.steps.browser import procs
from runhook.engine.steps.browser.actions import StepBudget, first_line
from runhook.engine.steps.browser.options import BrowserOptions
from runhook.engine.steps.browser.watchdog import Watchdog

log = logging.getLogger("runhook.engine.browser")


def _transport(manager: Any) -> Any:
    """The pipe transport to the Node.js driver of `manager` (sync_playwright()).

    Playwright has no public API for it (playwright 1.65, pinned); None if that changes.
    The unit tests then fail (`driver_pid` is checked after every session, and no
    transport error may be left unread)."""
    return getattr(getattr(manager, "_client", None), "_transport", None)


def _driver_pid(manager: Any) -> int | None:
    """The pid of the Node.js driver `manager` started (None until it runs)."""
    pid = getattr(getattr(_transport(manager), "_proc", None), "pid", None)
    return pid if isinstance(pid, int) else None


def _read_driver_error(manager: Any) -> None:
    """Read the error the transport records when the driver is ended under it.

    Once the driver has started nothing awaits that error, so a driver the watchdog
    ended left it unread, and asyncio logged "Future exception was never retrieved"
    (an error line per stopped step) when it was collected."""
    future = getattr(_transport(manager), "on_error_future", None)
    if isinstance(future, asyncio.Future) and future.done() and not future.cancelled():
        future.exception()


class BrowserLaunch:
    """The driver and the context of one session; `check_stop` fails the step when the
    watchdog stopped the browser or a limit was passed (the session's check)."""

    def __init__(
        self, options: BrowserOptions, budget: StepBudget, check_stop: Callable[[], None]
    ) -> None:
        self.options = options
        self.budget = budget
        self.check_stop = check_stop
        self.driver_pid: int | None = None  # Playwright's Node.js driver, once started
        self.context: BrowserContext | None = None
        self._manager: Any = None  # sync_playwright(), once the driver is being started
        self._playwright: Playwright | None = None

    def start_driver(self, watchdog: Watchdog) -> None:
        manager = self._manager = sync_playwright()
        watchdog.watch_driver(lambda: _driver_pid(manager))
        try:
            self._playwright = manager.start()
        except Exception:  # the driver did not start, or the watchdog ended it
            self.check_stop()
            raise
        finally:
            self.driver_pid = _driver_pid(manager)
        if self.driver_pid is None:
            log.warning("Playwright's driver process not found: a stop cannot end it")
        self.check_stop()  # stopped while the driver started: launch nothing

    def launch(self, profile: str, proxy_server: str, har_path: str | None) -> BrowserContext:
        """Chromium on `profile`, every request through `proxy_server` (the guard proxy)."""
        self.context = self._launch(profile, proxy_server, har_path)
        return self.context

    def _launch(self, profile: str, proxy_server: str, har_path: str | None) -> BrowserContext:
        options = self.options
        budget = min(options.launch_timeout, self.budget.remaining())
        if budget <= 0:
            raise self.budget.exceeded("launching Chromium")
        width, height = options.viewport
        assert self._playwright is not None
        try:
            return self._playwright.chromium.launch_persistent_context(
                profile,
                executable_path=options.executable_path,
                headless=True,
                chromium_sandbox=False,
                args=[
                    *options.flags(),
                    f"--proxy-server={proxy_server}",
                    "--proxy-bypass-list=<-loopback>",
                ],
                env=options.environment(),
                timeout=budget * 1000,
                accept_downloads=False,
                service_workers="block",
                viewport={"width": width, "height": height},
                record_har_path=har_path,
                record_har_content="omit",
            )
        except PlaywrightError as exc:
            self.check_stop()
            if budget < options.launch_timeout and self.budget.remaining() <= 0.1:
                raise self.budget.exceeded("launching Chromium") from exc
            raise StepFailure(
                "browser_unavailable",
                f"cannot start Chromium ({options.executable_path}): {first_line(exc)}",
                retryable=True,
            ) from exc

    def leave(self, profile: str) -> None:
        """Close the context and stop the driver while the watchdog is still armed.

        After a stop both calls may wait for a browser that is gone (closing a context
        whose Chromium was killed during the launch never returns): the watchdog then
        ends the driver and they fail at once. Chromium is ended before the driver is
        stopped because the driver, when it exits, waits for the browsers it launched."""
        if self.context is not None:
            with contextlib.suppress(Exception):
                self.context.close()
        procs.end_session(profile)
        if self._playwright is not None:
            with contextlib.suppress(Exception):
                self._playwright.stop()
        if self._manager is not None:
            _read_driver_error(self._manager)
