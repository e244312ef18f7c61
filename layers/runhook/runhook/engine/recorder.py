"""Writing down what happened to a run: step records, progress, completion, failure.

Each write goes through the `RunStore` and is conditional on the run still being
where this invocation left it, and counts an outcome (the step function's metrics).
Progress moves at checkpoints (`Recorder.checkpoint`): after a slow step, before one
starts, before the machine takes over (a pause, a hand-over), and through a burst of
quick steps (transform, log, fail: milliseconds each, nothing outside the run) at least
every `journal.CHECKPOINT_SECONDS`; a run's end carries its last steps' progress.
The event a write announces is committed with it (the store's outbox) and published
from the table's stream, so nothing here talks to the bus.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from runhook import clock
from runhook.engine.context import RunContext
from runhook.engine.failure import MAX_ERROR_MESSAGE, fail_run
from runhook.engine.outputs import OutputError, evaluate_outputs
from runhook.engine.ports import RunStore, StepRecord
from runhook.engine.state import END, Next
from runhook.engine.steps import StepFailure, StepKind
from runhook.models import RunStatus


class Recorder:
    def __init__(self, store: RunStore, outcomes: Counter[str]) -> None:
        self._store = store
        self._outcomes = outcomes

    def succeeded(
        self,
        ctx: RunContext,
        index: int,
        kind: StepKind,
        result: Any,
        *,
        attempts: int,
        started: str,
        duration_ms: int | None = None,
    ) -> bool:
        """Keep the result and, unless the step is quick, checkpoint; False when the run
        stopped meanwhile.

        A quick step's record waits for the next checkpoint (`checkpoint_due`, a slow
        step, a pause, the end), so a burst of quick steps is one write and one progress
        event. The last step's record and progress go with the completion.
        """
        node = ctx.node_id(index) or ""
        self._outcomes["step_succeeded"] += 1
        record = StepRecord(
            index=index,
            step_id=node,
            kind=kind.kind,
            status="succeeded",
            result=result,
            attempts=attempts,
            started_at=started,
            finished_at=clock.now_iso(),
            duration_ms=duration_ms,
        )
        ctx.journal.hold(record)
        ctx.data["steps"][node] = result
        ctx.finished = index + 1
        if ctx.finished >= ctx.total or (kind.quick and not ctx.journal.checkpoint_due()):
            return True
        return self.checkpoint(ctx)

    def checkpoint(self, ctx: RunContext) -> bool:
        """Store what the journal holds, then move `currentStep` to the steps finished
        (one conditional write, announcing `task-run.updated`); False when the run
        stopped meanwhile.

        Records go first: a run's `currentStep` never passes a step whose result is not
        stored. An invocation that dies in between leaves records that a retry, resuming
        at the stored `currentStep`, overwrites.
        """
        ctx.journal.flush()
        if ctx.finished <= ctx.run.current_step:
            return True
        updated = self._store.advance(
            ctx.run.id, from_step=ctx.run.current_step, to_step=ctx.finished
        )
        if updated is None:
            return self._lost_race(ctx)
        ctx.run = updated
        return True

    def _lost_race(self, ctx: RunContext) -> bool:
        current = self._store.get_run(ctx.run.id)
        if (
            current is not None
            and current.status is RunStatus.RUNNING
            and current.current_step >= ctx.finished
        ):
            # Another invocation of this execution already moved on (a retry overlapped).
            ctx.run = current
            return True
        node = ctx.node_id(ctx.finished - 1)
        ctx.journal.write("warning", "run is no longer running: stopping", node)
        return False

    def step_failed(
        self,
        ctx: RunContext,
        index: int,
        kind: StepKind,
        failure: StepFailure,
        *,
        attempts: int,
        started: str,
    ) -> None:
        node = ctx.node_id(index) or ""
        self._outcomes["step_failed"] += 1
        ctx.journal.write("error", f"failed: {failure.message}", node)
        record = StepRecord(
            index=index,
            step_id=node,
            kind=kind.kind,
            status="failed",
            error={"code": failure.code, "message": failure.message[:MAX_ERROR_MESSAGE]},
            attempts=attempts,
            started_at=started,
            finished_at=clock.now_iso(),
        )
        ctx.journal.hold(record)
        ctx.journal.flush()

    def complete(self, ctx: RunContext) -> Next:
        """Evaluate the outputs and end the run COMPLETED (or FAILED by its outputs).

        The run's last line is stored with the last checkpoint, before the conditional
        completion: a line of its own after it would be one more write and one more
        `task-run.log` event per run. It says what is true when it is written; the run's
        status (and its `completed` event) says whether the completion won.
        """
        try:
            outputs = evaluate_outputs(ctx.plan.outputs, ctx.data)
        except OutputError as exc:
            ctx.journal.write("error", f"outputs: {exc.message}")
            return self.fail(ctx, exc.code, exc.message, None, steps_done=ctx.total)
        ctx.journal.write("info", f"completing the run: {ctx.total}/{ctx.total} steps finished")
        ctx.journal.flush()  # every step's record before the run says COMPLETED
        done = self._store.complete(
            ctx.run.id,
            at_step=ctx.run.current_step,
            steps_total=ctx.total,
            outputs=outputs,
            finished_at=clock.now_iso(),
        )
        if done is None:  # a retry found it over, or a cancel won: its event is committed
            return END
        ctx.run = done
        self._outcomes["run_completed"] += 1
        return END

    def fail(
        self,
        ctx: RunContext,
        code: str,
        message: str,
        index: int | None,
        *,
        steps_done: int | None = None,
        artifacts: list[str] | None = None,
    ) -> Next:
        """End the run FAILED at step `index` (unless it is already over), with the steps
        finished so far stored first."""
        ctx.journal.flush()
        if steps_done is None and ctx.finished > ctx.run.current_step:
            steps_done = ctx.finished
        failed = fail_run(
            self._store,
            ctx.run.id,
            code,
            message,
            ctx.node_id(index),
            steps_done=steps_done,
            artifacts=artifacts,
        )
        if failed is not None:
            self._outcomes["run_failed"] += 1
            ctx.run = failed
        return END

    def timed_out(self, ctx: RunContext, index: int) -> Next:
        """The run's deadline passed before step `index` could (re)start."""
        return self.fail(ctx, "timeout", ctx.timeout_message(), index)
