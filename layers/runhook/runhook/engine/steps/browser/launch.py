"""Playwright's Node.js driver and Chromium's persistent context for one browser session.

Split from session.py (which orchestrates a step: guards, actions, evidence, records)
because starting and leaving Playwright has rules of its own: the driver and Chromium
start in two stages so a stop between them launches nothing; the driver's pid is found
so the watchdog can end it; and leaving closes the context, ends Chromium and only then
stops the driver (which waits for the browsers it launched), reading the transport
error a killed driver leaves behind.

A warm container keeps its driver (issue 16 §5: starting Playwright's Node.js driver is
about half of a launch). The driver only launches browsers: each session still gets its
own Chromium on its own fresh profile, ended when the session leaves, so no page, cookie
or process is shared between runs. The driver is kept only by the main thread (where
Lambda calls a handler, one invocation at a time: Playwright's sync API is bound to the
thread that started it) and only after a session that was not stopped; a session the
watchdog stopped, or a kept driver that has died, gets a new one. `release_kept_driver`
stops it (at interpreter exit, too). While a driver is kept, Playwright's event loop
stays running in the main thread, so nothing else there may use asyncio (asyncio.run
fails): the import contract allows asyncio only here and in the API.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
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


@dataclass(frozen=True)
class _Driver:
    """A started Playwright driver: sync_playwright(), its Playwright and its pid."""

    manager: Any
    playwright: Playwright
    pid: int | None


_kept: _Driver | None = None  # the main thread's driver between two sessions


def _may_keep() -> bool:
    return threading.current_thread() is threading.main_thread()


def _take_kept() -> _Driver | None:
    """The kept driver, handed to one session (None: none, or it died meanwhile)."""
    global _kept
    driver, _kept = _kept, None
    if driver is None:
        return None
    pid = driver.pid
    if pid is not None and procs.alive(pid) and procs.parent(pid) == os.getpid():
        return driver
    _stop(driver)  # died (or was ended) while kept: read its error, start a new one
    return None


def _keep(driver: _Driver) -> None:
    global _kept
    if _kept is not None:  # never two: stop the older one
        _stop(_kept)
    _kept = driver


def _stop(driver: _Driver) -> None:
    with contextlib.suppress(Exception):
        driver.playwright.stop()
    _read_driver_error(driver.manager)


def release_kept_driver() -> None:
    """Stop the kept driver, if any (a later session starts its own)."""
    global _kept
    driver, _kept = _kept, None
    if driver is not None:
        _stop(driver)


atexit.register(release_kept_driver)


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
        self.reused_driver = False  # the driver was kept from an earlier session

    def start_driver(self, watchdog: Watchdog) -> None:
        kept = _take_kept() if self.options.keep_driver and _may_keep() else None
        if kept is not None:
            self._manager, self._playwright, self.driver_pid = (
                kept.manager,
                kept.playwright,
                kept.pid,
            )
            self.reused_driver = True
            pid = kept.pid
            watchdog.watch_driver(lambda: pid)
            self.check_stop()
            return
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

    def leave(self, profile: str, stopped: bool = False) -> None:
        """Close the context and stop (or keep) the driver while the watchdog is armed.

        After a stop both calls may wait for a browser that is gone (closing a context
        whose Chromium was killed during the launch never returns): the watchdog then
        ends the driver and they fail at once. Chromium is ended before the driver is
        stopped because the driver, when it exits, waits for the browsers it launched.
        The driver is kept for the next session unless the session was `stopped`."""
        if self.context is not None:
            with contextlib.suppress(Exception):
                self.context.close()
        procs.end_session(profile)
        if self._playwright is None:
            if self._manager is not None:
                _read_driver_error(self._manager)
            return
        driver = _Driver(self._manager, self._playwright, self.driver_pid)
        if self.options.keep_driver and not stopped and _may_keep() and driver.pid is not None:
            _keep(driver)
        else:
            _stop(driver)
