"""Stops a browser session from outside: the run was cancelled, or the step overran.

Playwright's sync API cannot be interrupted from another thread, so the watchdog acts
on processes (no Playwright here):

1. it ends the session's Chromium (found by its user-data dir: procs.py), again and
   again for `driver_grace` seconds, so that a Chromium the driver is still starting
   is ended too. A pending page call (goto, click, ...) then fails at once;
2. if the session has not left Playwright by then (context closed, driver stopped),
   it ends the session's Playwright driver as well: every call in flight fails at once.

Step 2 exists because some Playwright calls never notice that Chromium died. The launch
(launch_persistent_context) waits for the first page to initialise and load once that
page is attached; killed then, it waited for its own timeout (30 s): a cancel during
the launch took ~31 s instead of ~1 s. Closing a context whose Chromium was killed
during the launch does not return at all. The driver, still starting, is ended too.
The grace lets the driver tidy up (its temporary directories) when ending Chromium
was enough.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable

from runhook.engine.steps.browser import procs

log = logging.getLogger("runhook.engine.browser")

SWEEP_INTERVAL = 0.1  # seconds between two searches for Chromium processes in the grace


class Watchdog(threading.Thread):
    """Ends the session's Chromium (then its driver) on cancel or past the hard deadline.

    `fired` says why ("cancelled" | "deadline"); it is set before any process is ended,
    so the session, whose call then fails, can tell a stop from a crash.
    """

    def __init__(
        self,
        marker: str,
        hard_deadline: float,
        should_stop: Callable[[], bool] | None,
        interval: float,
        clock: Callable[[], float],
        driver_grace: float = 1.0,
    ) -> None:
        super().__init__(name="runhook-browser-watchdog", daemon=True)
        self.marker = marker
        self.hard_deadline = hard_deadline
        self.should_stop = should_stop
        self.interval = interval
        self.clock = clock
        self.driver_grace = driver_grace
        self.fired: str | None = None  # "cancelled" | "deadline"
        self._done = threading.Event()
        self._lock = threading.Lock()  # stop() vs. ending the driver
        self._find_driver: Callable[[], int | None] = lambda: None

    def watch_driver(self, find: Callable[[], int | None]) -> None:
        """How to find the session's Playwright driver (a child of this process): asked
        when it must be ended, so that a driver still starting can be ended too."""
        with self._lock:
            self._find_driver = find

    def stop(self) -> None:
        """The session has left Playwright: from now on nothing is ended from here."""
        with self._lock:
            self._done.set()

    def run(self) -> None:
        while not self._done.wait(self.interval):
            reason = self._reason()
            if reason:
                self.fired = reason
                self._end_chromium()
                self._end_driver()
                return

    def _reason(self) -> str | None:
        if self.clock() >= self.hard_deadline:
            return "deadline"
        if self.should_stop is None:
            return None
        try:
            return "cancelled" if self.should_stop() else None
        except Exception:  # a failed status check must not stop the step
            log.warning("browser watchdog: status check failed", exc_info=True)
            return None

    def _end_chromium(self) -> None:
        """End Chromium now and whatever of it appears within the grace (or until stop())."""
        grace_ends = time.monotonic() + self.driver_grace
        while True:
            left = procs.kill(procs.session_processes(self.marker))
            if left:
                log.warning("browser watchdog: processes %s survived SIGKILL", sorted(left))
            wait = min(SWEEP_INTERVAL, grace_ends - time.monotonic())
            if wait <= 0 or self._done.wait(wait):
                return

    def _end_driver(self) -> None:
        with self._lock:
            pid = self._find_driver()
            if self._done.is_set() or pid is None:
                return
            if procs.parent(pid) != os.getpid():  # gone (and its pid maybe reused)
                return
            log.info("browser watchdog: ending the Playwright driver (pid %s)", pid)
            procs.kill({pid})
        procs.kill(procs.session_processes(self.marker))  # one it started meanwhile
