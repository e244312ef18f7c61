"""One browser step execution: Chromium launched, the actions run in order, Chromium gone.

This module and the three it drives (launch.py: Playwright's driver and Chromium;
pageguard.py: what pages may reach and load; actions.py: the actions) are the only ones
that import Playwright (its sync API); the browser function imports them when a browser
step runs, the light step function never does.

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
- a watchdog thread (watchdog.py) ends the browser's processes, and if need be the
  Playwright driver, when the run is cancelled or the step overruns its deadline by
  `kill_grace`, so a stuck page or launch never outlives its step;
- Chromium is always ended and the profile removed, also on failure, timeout and
  cancel; the driver too after a stop, else a warm container keeps it for its next
  step (launch.py);
- a named session's storage state is loaded before the first action and read back when
  the step succeeds (`state`, saved by the kind); a failure leaves the page's
  screenshot, HTML and console log (evidence.py), and `record` adds a HAR or a trace.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections.abc import Callable
from typing import Any

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page

from runhook.adapters.artifacts import ArtifactStore
from runhook.engine import redact
from runhook.engine.steps.base import StepFailure
from runhook.engine.steps.browser import procs
from runhook.engine.steps.browser.actions import ActionRunner, Render, StepBudget, first_line
from runhook.engine.steps.browser.evidence import ConsoleLog, Records, capture_failure
from runhook.engine.steps.browser.guardproxy import GuardProxy
from runhook.engine.steps.browser.launch import BrowserLaunch
from runhook.engine.steps.browser.options import BrowserOptions
from runhook.engine.steps.browser.pageguard import Log, PageGuard
from runhook.engine.steps.browser.watchdog import Watchdog
from runhook.netguard import CheckedTarget, check_url

log = logging.getLogger("runhook.engine.browser")


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
        step_id: str = "browser",
        storage_state: dict[str, Any] | None = None,
        keep_state: bool = False,
        record: tuple[str, ...] = (),
        may_trace: Callable[[], bool] = lambda: True,
    ) -> None:
        """`step_id` names the failure artifacts; `storage_state` is loaded before the
        first action, and with `keep_state` the final one is kept in `state`; `record`
        ("har", "trace") adds those artifacts, a trace only if `may_trace()` at the end
        (false once the step resolved a secret: a trace cannot be masked)."""
        self.step_id = step_id
        self.storage_state = storage_state
        self.keep_state = keep_state
        self.record = record
        self.may_trace = may_trace
        self.state: dict[str, Any] | None = None
        self.console = ConsoleLog()
        self._har_path: str | None = None
        self._tracing = False
        self._records = Records(store=store, run_id=run_id, step_id=step_id, log=log)
        self.actions = actions
        self.run_id = run_id
        self.render = render
        self.log = log
        self.timeout = timeout
        self.options = options
        self.store = store
        self.should_stop = should_stop
        self.clock = clock
        self.budget = StepBudget(timeout, clock)
        self.deadline = self.budget.deadline
        self.metrics: dict[str, float] = {}
        self.profile: str | None = None  # the unique user-data dir (marks the processes)
        self._browser = BrowserLaunch(options, self.budget, self._check_stop)
        self._watchdog: Watchdog | None = None
        self._proxy: GuardProxy | None = None
        self._guard: PageGuard | None = None
        self._runner: ActionRunner | None = None

    @property
    def driver_pid(self) -> int | None:
        """Playwright's Node.js driver, once started (tests check it ended)."""
        return self._browser.driver_pid

    @property
    def driver_reused(self) -> bool:
        """Whether this session used a driver kept by an earlier one (launch.py)."""
        return self._browser.reused_driver

    @property
    def extracted(self) -> dict[str, Any]:
        return self._runner.extracted if self._runner else {}

    @property
    def screenshots(self) -> dict[str, Any]:
        return self._runner.screenshots if self._runner else {}

    # -- the session ----------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        profile = tempfile.mkdtemp(prefix="runhook-chromium-", dir=self.options.tmp_dir)
        self.profile = profile
        if "har" in self.record:
            self._har_path = f"{profile}.har"  # beside the profile: written when it closes
        watchdog, proxy, runner = self._assemble(profile)
        page: Page | None = None
        try:
            proxy.start()
            watchdog.start()
            page = self._start_browser(profile)
            flow_started = time.monotonic()
            for number, action in enumerate(self.actions, start=1):
                self._check_stop()
                runner.perform(number, action, page)
            self.metrics["actions_ms"] = (time.monotonic() - flow_started) * 1000
            self._check_stop()
            context = self._browser.context
            if self.keep_state and context is not None:
                self.state = dict(context.storage_state())
            return {
                "url": redact.url(page.url),
                "title": self._title(page),
                "extracted": runner.extracted,
                "screenshots": runner.screenshots,
            }
        except StepFailure as failure:
            if page is not None and failure.code != "cancelled":
                failure.artifacts = capture_failure(
                    page,
                    store=self.store,
                    run_id=self.run_id,
                    step_id=self.step_id,
                    console=self.console,
                    max_screenshot_bytes=self.options.max_screenshot_bytes,
                )
            raise
        finally:
            self._stop_trace(profile)
            self._shut_down(profile)
            self._save_har()

    def _assemble(self, profile: str) -> tuple[Watchdog, GuardProxy, ActionRunner]:
        options = self.options
        watchdog = self._watchdog = Watchdog(
            profile,
            self.deadline + options.kill_grace,
            self.should_stop,
            options.cancel_poll_interval,
            self.clock,
            options.driver_grace,
        )
        proxy = self._proxy = GuardProxy(
            allow_private=options.allow_private_targets,
            max_bytes=options.max_transfer_bytes,
            checker=self._check,
        )
        guard = self._guard = PageGuard(
            options=options, log=self.log, check=self._check, proxy=proxy
        )
        runner = self._runner = ActionRunner(
            run_id=self.run_id,
            render=self.render,
            log=self.log,
            options=options,
            store=self.store,
            budget=self.budget,
            guard=guard,
            check_stop=self._check_stop,
        )
        return watchdog, proxy, runner

    def _start_browser(self, profile: str) -> Page:
        """The driver, Chromium and the guarded first page; a stop meanwhile ends it all."""
        started = time.monotonic()
        assert self._watchdog is not None and self._proxy is not None
        self._browser.start_driver(self._watchdog)
        # launch_ms is both; the benchmark (benchmarks/browser.py) reports them apart.
        self.metrics["driver_ms"] = (time.monotonic() - started) * 1000
        context = self._browser.launch(profile, self._proxy.server_url, self._har_path)
        # Stopped meanwhile: Playwright may even return a context whose browser is gone.
        self._check_stop()
        self.metrics["launch_ms"] = (time.monotonic() - started) * 1000
        kept = " (Playwright's driver kept from an earlier step)" if self.driver_reused else ""
        self.log("info", f"Chromium started in {self.metrics['launch_ms']:.0f} ms{kept}")
        assert self._guard is not None
        try:
            self._guard.install(context)
            if self.storage_state is not None:
                context.set_storage_state(self.storage_state)  # type: ignore[arg-type]
            if "trace" in self.record:
                context.tracing.start(screenshots=True, snapshots=True)
                self._tracing = True
            page = context.pages[0] if context.pages else context.new_page()
            self._guard.watch_page(page)
            self.console.watch(page)
        except PlaywrightError as exc:  # Chromium went away just after it started
            self._check_stop()
            raise StepFailure(
                "browser_unavailable",
                f"Chromium stopped while starting: {first_line(exc)}",
                retryable=True,
            ) from exc
        return page

    def _stop_trace(self, profile: str) -> None:
        """Write the trace while the context is still open, and store it if it may be kept."""
        context = self._browser.context
        if self._tracing and context is not None:
            self._records.save_trace(context, f"{profile}.trace.zip", self.may_trace())

    def _save_har(self) -> None:
        if self._har_path is not None:
            self._records.save_har(self._har_path)

    def _shut_down(self, profile: str) -> None:
        """Close what was opened, end what is left of Chromium, remove the profile."""
        if self._guard is not None:
            self._guard.drain_refusals()
        watchdog = self._watchdog
        self._browser.leave(profile, stopped=watchdog is not None and watchdog.fired is not None)
        if self._watchdog is not None:
            self._watchdog.stop()
        left = procs.end_session(profile)
        if left:
            log.warning("Chromium processes %s survived the session", sorted(left))
        if self._proxy is not None:
            self._proxy.stop()
        shutil.rmtree(profile, ignore_errors=True)

    # -- guards, limits and stops ---------------------------------------------------------
    def _check(self, url: str) -> CheckedTarget:
        return check_url(url, allow_private=self.options.allow_private_targets)

    def _check_stop(self) -> None:
        """Fail the step if a limit was passed or the watchdog stopped the browser."""
        if self._guard is not None:
            self._guard.drain_refusals()
            self._guard.raise_violation()
        watchdog = self._watchdog
        fired = watchdog.fired if watchdog is not None else None
        if fired == "cancelled":
            raise StepFailure("cancelled", "the run was cancelled: the browser was stopped")
        if fired == "deadline":
            raise self.budget.exceeded("the browser was stopped")

    @staticmethod
    def _title(page: Page) -> str | None:
        try:
            return page.title()
        except PlaywrightError:
            return None
