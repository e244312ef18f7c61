"""One inline step, attempt after attempt, under its `retry` policy and the time budgets.

An attempt that fails retryably is retried after a backoff (`policy.retry_delay`) if
the retry can start before the run's deadline: a short backoff sleeps here, a long one
(or one the Lambda has no time left for) is handed to a Wait state
(`next: {kind: wait, retry: true, attempt: n}`), and the run is read again before the
next attempt so a cancelled run is not retried.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from runhook import clock
from runhook.engine import policy
from runhook.engine.context import RunContext, TimeBudget
from runhook.engine.ports import RunStore
from runhook.engine.recorder import Recorder
from runhook.engine.state import END, Next
from runhook.engine.steps import StepCall, StepFailure, StepKind
from runhook.models import RunStatus
from runhook.tasks.templating import TemplateError

log = logging.getLogger("runhook.engine")


class Attempts:
    def __init__(
        self,
        *,
        store: RunStore,
        recorder: Recorder,
        budget: TimeBudget,
        limits: policy.Limits,
        sleep: Callable[[float], None],
        runner: str,
        outcomes: Counter[str],
    ) -> None:
        self._store = store
        self._recorder = recorder
        self._budget = budget
        self._limits = limits
        self._sleep = sleep
        self._runner = runner
        self._outcomes = outcomes

    def execute(self, ctx: RunContext, index: int, kind: StepKind, attempt: int) -> Next | None:
        """Run step `index` from `attempt`: None once it is recorded, else where the
        machine goes next (a hand-over, a retry's Wait, or the end)."""
        retry = getattr(ctx.step(index), "retry", None)
        max_attempts = policy.max_attempts(retry)
        started, t0 = clock.now_iso(), time.monotonic()
        while True:
            timeout = policy.attempt_timeout(
                ctx.step_timeout(index, kind),
                ctx.run_remaining(),
                self._budget.remaining(),
                self._limits,
            )
            if timeout <= 0:
                if ctx.run_remaining() <= 0:
                    return self._recorder.timed_out(ctx, index)
                return Next(kind="compute", index=index, runner=self._runner, attempt=attempt)
            call = ctx.call(index, kind, timeout, attempt, max_attempts)
            if attempt == 1 and (line := kind.describe(call)):
                ctx.journal.write("info", line, call.node_id)
            try:
                result = self._attempt(ctx, kind, call)
            except StepFailure as failure:
                self._outcomes["step_attempt_failed"] += 1
                then = self._after_failure(ctx, index, failure, attempt, retry, timeout)
                if then is True:
                    attempt += 1
                    continue
                if isinstance(then, Next):
                    return then
                self._recorder.step_failed(
                    ctx, index, kind, failure, attempts=attempt, started=started
                )
                return self._recorder.fail(
                    ctx, failure.code, failure.message, index, artifacts=failure.artifacts
                )
            duration = int((time.monotonic() - t0) * 1000)
            recorded = self._recorder.succeeded(
                ctx, index, kind, result, attempts=attempt, started=started, duration_ms=duration
            )
            return None if recorded else END

    @staticmethod
    def _attempt(ctx: RunContext, kind: StepKind, call: StepCall) -> Any:
        """One attempt; every way it can fail becomes a StepFailure."""
        try:
            return kind.run(call)
        except (StepFailure, TemplateError) as exc:
            raise as_failure(exc) from None
        except Exception as exc:  # a bug in a kind must fail the step, not the machine
            log.exception("step %s of run %s raised", call.node_id, ctx.run.id)
            raise StepFailure("step_error", f"{type(exc).__name__}: {exc}") from exc

    def _after_failure(
        self,
        ctx: RunContext,
        index: int,
        failure: StepFailure,
        attempt: int,
        retry: policy.RetryPolicy | None,
        timeout: float,
    ) -> Next | bool:
        """After a failed attempt: True to try again now (after the backoff), a Next to
        hand the retry (or the end) to the machine, False to give up."""
        if retry is None or not policy.may_retry(retry, attempt, retryable=failure.retryable):
            return False
        delay = policy.retry_delay(retry, attempt, failure.retry_after, self._limits)
        if not policy.retry_fits_run(delay, ctx.run_remaining()):
            failure.message += " (no time left for another attempt before the run's timeout)"
            return False
        node = ctx.node_id(index)
        ctx.journal.write(
            "warning",
            f"attempt {attempt}/{policy.max_attempts(retry)} failed: {failure.message}; "
            f"retrying in {delay:g} s",
            node,
        )
        ctx.journal.flush()
        if not policy.sleeps_inline(delay, self._budget.remaining(), timeout, self._limits):
            seconds = policy.wait_state_seconds(delay)
            return Next(kind="wait", index=index, seconds=seconds, attempt=attempt + 1, retry=True)
        self._sleep(delay)
        current = self._store.get_run(ctx.run.id)
        if current is None or current.status is not RunStatus.RUNNING:
            ctx.journal.write("warning", "run is no longer running: retry abandoned", node)
            return END
        return True


def as_failure(exc: Exception) -> StepFailure:
    """A step's exception as the failure it records (templates fail with `template_error`)."""
    if isinstance(exc, StepFailure):
        return exc
    if isinstance(exc, TemplateError):
        return StepFailure("template_error", str(exc))
    return StepFailure("step_error", str(exc))
