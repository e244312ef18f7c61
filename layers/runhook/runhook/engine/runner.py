"""The actions the run state machine invokes (statemachines/run.asl.json).

- `advance` — claims the run on the first call (PENDING → RUNNING, only if still
  PENDING; a run already RUNNING continues from its `currentStep`: a retried first call,
  or a new execution the sweeper started after the run's execution was lost — a wait
  there waits again, an approval is parked again with the new execution's token),
  finishes the step the machine paused on (a wait, an answered approval),
  then runs batches of inline steps (`plan.batch`) until a pause, a step of another
  runner, the end of the task (outputs → COMPLETED) or a failure (FAILED). Per step:
  an info line when it starts, a result summary, a warning per retry, an error on
  failure; its result in a STEP# item. Results, lines and progress (`task-run.updated`)
  are stored at checkpoints (`Recorder.checkpoint`): a burst of quick steps is one write.
- `await_answer` — the approval's `.waitForTaskToken` task: stores the token and
  `waiting` on the run in one conditional write, then announces `task-run.waiting`.
- `fail` — the machine's catch-all: marks the run FAILED {code, message, nodeId}.

Rules that make this safe to retry and to race with cancel:
- The store is the source of truth. An action for a run that is no longer RUNNING
  does nothing (a run cancelled before it started ends quietly).
- Every change is conditional on the run's status and `currentStep`, so a retried
  invocation cannot advance a run twice: it resumes from `currentStep` (results of
  finished steps are read back), and a slow step never starts after the run stopped
  being RUNNING (the conditional write that stores progress up to step k is the check that
  a slow step k may start; retries re-read the run before each new attempt). Quick
  steps touch nothing outside the run, so a burst of them may run past a cancel: their
  progress write is refused and the run stays CANCELLED.
- Every change carries the event it announces; the store commits both in one write
  and the table's stream publishes it (`runhook.outbox`): the engine never calls the
  bus, so an invocation that dies after a commit loses no event.

The pieces: `ports.RunStore` (storage and, through it, events), `policy`
(retry and time rules), `attempts.Attempts` (one inline step and its retries),
`recorder.Recorder` (records, progress, the end), `failure.fail_run`.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Collection
from datetime import timedelta
from typing import Any

from runhook import clock
from runhook.engine import plan, policy
from runhook.engine.attempts import Attempts, as_failure
from runhook.engine.context import RunContext, TimeBudget
from runhook.engine.failure import MAX_ERROR_MESSAGE, fail_run
from runhook.engine.journal import Journal
from runhook.engine.ports import RunStore
from runhook.engine.recorder import Recorder
from runhook.engine.state import END, MachineState, Next, StepEvent, output
from runhook.engine.steps import DEFAULT_RUNNER, Mode, StepFailure
from runhook.models import ACTIVE_STATUSES, Run, RunStatus, Waiting
from runhook.settings import Settings
from runhook.tasks.templating import TemplateError

log = logging.getLogger("runhook.engine")


class RunNotActive(Exception):
    """The run is no longer RUNNING at the step it was expected to be at."""


class Engine:
    """The step function's logic. One instance per invocation (it holds the time budget
    and the outcomes counted for metrics)."""

    def __init__(
        self,
        *,
        store: RunStore,
        settings: Settings,
        runner: str = DEFAULT_RUNNER,
        remaining_ms: Callable[[], int] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        limits: policy.Limits = policy.DEFAULT_LIMITS,
    ) -> None:
        self.runner = runner
        self.settings = settings
        # What this invocation did, for the handler's metrics (step_succeeded, run_failed, …).
        self.outcomes: Counter[str] = Counter()
        self._store = store
        self._budget = TimeBudget(remaining_ms)
        self._limits = limits
        self._recorder = Recorder(store, self.outcomes)
        self._attempts = Attempts(
            store=store,
            recorder=self._recorder,
            budget=self._budget,
            limits=limits,
            sleep=sleep,
            runner=runner,
            outcomes=self.outcomes,
        )

    def handle(self, event: dict[str, Any]) -> dict[str, Any]:
        parsed = StepEvent.model_validate(event)
        state = parsed.state
        if parsed.action == "advance":
            return self.advance(state)
        if parsed.action == "await":
            if not parsed.taskToken:
                raise ValueError("await needs a taskToken")
            return self.await_answer(state, parsed.taskToken)
        return self.fail(state)

    # -- advance ------------------------------------------------------------------------
    def advance(self, state: MachineState) -> dict[str, Any]:
        run_id, nxt = state.runId, state.next
        claimed = False
        if nxt is None:
            run, claimed = self._claim(run_id)
        else:
            run = self._run_in(run_id, {RunStatus.RUNNING})
        ctx = self._open(run) if run is not None else None
        if ctx is None:
            return output(run_id, END)
        try:
            if claimed and ctx.run.reused_steps:
                self._note_reused(ctx)
            stop = self._continue(ctx, nxt, state.answer)
            # The machine takes over at `stop.index`: store the steps finished before it.
            if stop.index is not None and not self._recorder.checkpoint(ctx):
                stop = END
        finally:
            ctx.journal.flush()
        return output(run_id, stop)

    def _continue(self, ctx: RunContext, nxt: Next | None, answer: Any) -> Next:
        """Pick up where the machine comes back from, then run from there."""
        index, attempt = ctx.run.current_step, 1
        if nxt is not None and nxt.kind == "compute" and nxt.runner not in (None, self.runner):
            # The machine sent another runner's batch here: this deployment has no route
            # for it. Fail instead of handing it back and forth forever.
            message = f"no {nxt.runner!r} runner is deployed for this step"
            return self._recorder.fail(ctx, "runner_unavailable", message, index)
        if nxt is not None and nxt.index == index and index < ctx.total:
            if nxt.kind in ("wait", "approval") and not nxt.retry:
                stopped = self._resume(ctx, index, nxt, answer)
                if stopped is not None:
                    return stopped
                index += 1
            elif nxt.attempt:
                attempt = nxt.attempt  # a retry handed over (long backoff, Lambda time)
        return self._run_from(ctx, index, attempt)

    def _run_from(self, ctx: RunContext, index: int, attempt: int) -> Next:
        """Run batch after batch (`plan.batch`) until something stops the invocation."""
        ran = 0  # steps run by this invocation: the first always gets its chance
        while True:
            batch = plan.batch(ctx.plan.step_types, index, self.runner)
            for step in range(batch.start, batch.stop):
                stopped = self._inline(ctx, step, attempt if step == index else 1, ran)
                if stopped is not None:
                    return stopped
                ran += 1
            if batch.reason == "end":
                return self._recorder.complete(ctx)
            remaining = ctx.run_remaining()
            if remaining <= 0:
                return self._recorder.timed_out(ctx, batch.stop)
            if batch.reason == "handoff":
                runner = ctx.kind(batch.stop).runner
                return Next(kind="compute", index=batch.stop, runner=runner)
            stopped = self._pause(ctx, batch.stop, remaining)
            if stopped is not None:
                return stopped
            index, attempt = batch.stop + 1, 1  # a zero-second wait finished inline

    def _inline(self, ctx: RunContext, index: int, attempt: int, ran: int) -> Next | None:
        """One inline step of the batch; None once recorded, else where to go next."""
        kind = ctx.kind(index)
        remaining = ctx.run_remaining()
        if remaining <= 0:
            return self._recorder.timed_out(ctx, index)
        lambda_left = self._budget.remaining()
        configured = ctx.step_timeout(index, kind)
        if ran and not policy.fits_in_invocation(configured, remaining, lambda_left, self._limits):
            return Next(kind="compute", index=index, runner=self.runner)
        if not kind.quick and not self._recorder.checkpoint(ctx):
            return END  # a slow step starts only once the steps before it are stored
        return self._attempts.execute(ctx, index, kind, attempt)

    # -- pauses ---------------------------------------------------------------------------
    def _pause(self, ctx: RunContext, index: int, remaining: float) -> Next | None:
        """Hand a wait/approval to the machine; None when a wait of 0 s finished here."""
        kind = ctx.kind(index)
        started = clock.now_iso()
        call = ctx.call(index, kind, 0.0)
        try:
            pause = kind.pause(call, remaining)
        except (StepFailure, TemplateError) as exc:
            failure = as_failure(exc)
            self._recorder.step_failed(ctx, index, kind, failure, attempts=1, started=started)
            return self._recorder.fail(ctx, failure.code, failure.message, index)
        if kind.mode is Mode.CALLBACK:
            return Next(kind="approval", index=index, timeoutSeconds=pause.seconds)
        if pause.seconds > 0:
            return Next(kind="wait", index=index, **pause.detail)
        result = kind.resume(call, pause.detail, None)
        if not self._recorder.succeeded(ctx, index, kind, result, attempts=1, started=started):
            return END
        return None

    def _resume(self, ctx: RunContext, index: int, nxt: Next, answer: Any) -> Next | None:
        """Finish the step the machine paused on; None once it is recorded."""
        kind = ctx.kind(index)
        if ctx.run_remaining() <= 0:
            return self._recorder.timed_out(ctx, index)
        started = clock.now_iso()
        try:
            result = kind.resume(ctx.call(index, kind, 0.0), nxt.to_state(), answer)
        except StepFailure as failure:
            self._recorder.step_failed(ctx, index, kind, failure, attempts=1, started=started)
            return self._recorder.fail(ctx, failure.code, failure.message, index)
        if not self._recorder.succeeded(ctx, index, kind, result, attempts=1, started=started):
            return END
        return None

    # -- await (approval) --------------------------------------------------------------------
    def await_answer(self, state: MachineState, token: str) -> dict[str, Any]:
        """Park the approval: token + `waiting` on the run (announcing `task-run.waiting`)."""
        nxt = state.next
        if nxt is None or nxt.index is None:
            raise ValueError("await needs next.index")
        index = nxt.index
        run = self._store.get_run(state.runId)
        if run is None or run.status is not RunStatus.RUNNING or run.current_step != index:
            raise RunNotActive(f"run {state.runId} is not waiting at step {index}")
        ctx = self._open(run)
        if ctx is None:
            raise RunNotActive(f"run {state.runId} has no task")
        kind = ctx.kind(index)
        if kind.mode is not Mode.CALLBACK:
            raise ValueError(f"step {index} is not an approval")
        call = ctx.call(index, kind, 0.0)
        prompt = kind.pause(call, ctx.run_remaining()).prompt or ""
        waiting = waiting_for(call.node_id, prompt, nxt.timeoutSeconds)
        updated = self._store.park_approval(
            run.id, at_step=index, waiting=waiting, task_token=token
        )
        if updated is None:
            raise RunNotActive(f"run {state.runId} stopped before its approval was parked")
        ctx.run = updated
        ctx.journal.write(
            "info", f"waiting for approval: {prompt} (expires {waiting.expiresAt})", call.node_id
        )
        self.outcomes["approval_parked"] += 1
        ctx.journal.flush()
        return {"runId": run.id, "waiting": True}

    # -- fail (catch-all) --------------------------------------------------------------------
    def fail(self, state: MachineState) -> dict[str, Any]:
        run = self._run_in(state.runId, ACTIVE_STATUSES)
        if run is None:
            return output(state.runId, END)
        code, message = classify_error(state, run)
        task = self._store.load_plan(run)
        node = task.node_id(run.current_step) if task is not None else None
        failed = fail_run(self._store, run.id, code, message, node)
        if failed is None:
            return output(state.runId, END)
        self.outcomes["run_failed"] += 1
        journal = Journal(failed, self._store)
        journal.write("error", f"run failed: {message}", node)
        journal.flush()
        return output(state.runId, END)

    # -- helpers -----------------------------------------------------------------------------
    def _claim(self, run_id: str) -> tuple[Run | None, bool]:
        """PENDING → RUNNING (at its first step not carried over), and whether this call
        claimed it. None when the run is gone or over (cancelled before it began)."""
        run = self._store.claim(run_id, started_at=clock.now_iso())
        if run is not None:
            self.outcomes["run_started"] += 1
            return run, True
        current = self._store.get_run(run_id)
        if current is None:
            log.warning("run %s does not exist", run_id)
            return None, False
        if current.status is RunStatus.RUNNING:
            # A retried first invocation, or a new execution of a run whose execution was
            # lost (runhook.services.sweeper restarts those): carry on from currentStep.
            self.outcomes["run_continued"] += 1
            log.info("run %s continues at step %d", run_id, current.current_step)
            return current, False
        return None, False

    def _note_reused(self, ctx: RunContext) -> None:
        """A retry's log says, per step carried over, that it did not run again (its result,
        copied from the original run's records, is already in the template context)."""
        for index in range(min(ctx.run.reused_steps, ctx.total)):
            node = ctx.node_id(index)
            ctx.journal.write("info", f"{node}: reused from run {ctx.run.retry_of}", node)
        self.outcomes["steps_reused"] += ctx.run.reused_steps

    def _run_in(self, run_id: str, statuses: Collection[RunStatus]) -> Run | None:
        """The run if its status is one of `statuses`, else None (an earlier invocation
        ended it; its event was committed with that change)."""
        run = self._store.get_run(run_id)
        return run if run is not None and run.status in statuses else None

    def _open(self, run: Run) -> RunContext | None:
        """The run's context; None (and the run FAILED) when its task version is gone."""
        task = self._store.load_plan(run)
        if task is None:
            message = "the run's task version no longer exists"
            fail_run(self._store, run.id, "task_not_found", message)
            return None
        return RunContext.open(self._store, self.settings, run, task)


def waiting_for(node_id: str, prompt: str, timeout_seconds: int | None) -> Waiting:
    """The run's `waiting` for an approval parked now (expiring after its timeout)."""
    now = clock.now()
    expires = now + timedelta(seconds=timeout_seconds or 0)
    return Waiting(
        nodeId=node_id,
        prompt=prompt,
        since=clock.iso(now),
        expiresAt=clock.iso(expires) if timeout_seconds else None,
    )


def classify_error(state: MachineState, run: Run) -> tuple[str, str]:
    """The run's {code, message} for an error the machine caught."""
    error = state.error or {}
    name = str(error.get("Error") or "")
    cause = error.get("Cause")
    nxt = state.next
    deadline = clock.parse_iso(run.deadline) if run.deadline else None
    past_deadline = deadline is not None and clock.now() >= deadline - timedelta(seconds=1)
    if name == "States.Timeout":
        if past_deadline:
            return "timeout", "the run did not finish within its timeout"
        if nxt is not None and nxt.kind == "approval":
            return "approval_timeout", f"no answer within {nxt.timeoutSeconds} s"
        return "timeout", "a step timed out"
    detail = ""
    if isinstance(cause, str) and cause:
        try:
            parsed = json.loads(cause)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict) and "errorMessage" in parsed:
            detail = f"{parsed.get('errorType', name)}: {parsed.get('errorMessage')}"
        else:
            detail = cause
    message = f"the engine failed: {detail or name or 'unknown error'}"
    return "internal_error", message[:MAX_ERROR_MESSAGE]
