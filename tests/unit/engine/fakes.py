"""In-memory stand-ins for the engine's ports: fast unit tests of the orchestrator.

`MemoryRunStore` keeps the same conditions as `runhook.dal.run_store.DynamoRunStore`
(status sets, `currentStep = k`, a `sequence` bump per change), so races staged against
it are the races the table would see. Like the table, it is the outbox: `outbox` lists
the event each committed write announces (a transition's type; `task-run.log` for a
write with log lines), in commit order — what the stream publisher would send.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from runhook import clock
from runhook.engine.factory import EngineDependencies
from runhook.engine.ports import StepRecord, TaskPlan
from runhook.engine.runner import Engine
from runhook.engine.steps import StepCall, StepKind
from runhook.models import ACTIVE_STATUSES, LogEntry, Run, RunError, RunStatus, Waiting
from runhook.settings import Settings
from runhook.tasks.definition import HttpStep, validate_definition


class MemoryRunStore:
    """`RunStore` in memory."""

    def __init__(self) -> None:
        self.runs: dict[str, Run] = {}
        self.tokens: dict[str, str] = {}
        self.plans: dict[tuple[str, int], TaskPlan] = {}
        self.records: dict[str, dict[int, StepRecord]] = {}
        self.logs: dict[str, list[LogEntry]] = {}
        self.writes: list[str] = []  # the write methods called, in order
        self.outbox: list[str] = []  # the events the committed writes announce, in order

    # -- setting up ------------------------------------------------------------------------
    def add_run(
        self,
        steps: list[dict[str, Any]],
        *,
        outputs: dict[str, str] | None = None,
        timeout: int = 600,
        inputs: dict[str, Any] | None = None,
        deadline_in: float | None = None,
    ) -> Run:
        """A task version and a PENDING run of it (deadline: `timeout` s from now, or
        `deadline_in` s, which may be negative)."""
        definition, problems = validate_definition(
            {"name": "t", "steps": steps, "outputs": outputs or {}, "timeoutSeconds": timeout}
        )
        assert definition is not None, problems
        now = clock.now()
        run = Run(
            id=clock.new_id(),
            org_id="org",
            task_id=clock.new_id(),
            task_version=1,
            status=RunStatus.PENDING,
            created_at=clock.iso(now),
            steps_total=len(steps),
            inputs=inputs or {},
            deadline=clock.iso(
                now + timedelta(seconds=timeout if deadline_in is None else deadline_in)
            ),
        )
        self.plans[(run.task_id, 1)] = TaskPlan.from_definition(definition)
        self.runs[run.id] = run
        return run

    def add_retry(self, original: Run, reused_steps: int) -> Run:
        """A PENDING retry of `original` (same task version and inputs) carrying over its
        first `reused_steps` step records, as RunService.retry_run and
        DynamoRunStore.carry_over leave it (issue 14)."""
        retry = original.model_copy(
            update={
                "id": clock.new_id(),
                "status": RunStatus.PENDING,
                "current_step": 0,
                "started_at": None,
                "finished_at": None,
                "error": None,
                "outputs": {},
                "sequence": 0,
                "retry_of": original.id,
                "reused_steps": reused_steps,
            }
        )
        records = self.records.get(original.id, {})
        self.records[retry.id] = {i: r for i, r in records.items() if i < reused_steps}
        self.runs[retry.id] = retry
        return retry

    def cancel(self, run_id: str) -> Run | None:
        """What the cancel endpoint does to the run."""
        return self._change(
            run_id, ACTIVE_STATUSES, event="task-run.cancelled", status=RunStatus.CANCELLED
        )

    def log_lines(self, run_id: str) -> list[tuple[str | None, str, str]]:
        return [(e.nodeId, e.level, e.message) for e in self.logs.get(run_id, [])]

    # -- RunStore ---------------------------------------------------------------------------
    def get_run(self, run_id: str) -> Run | None:
        return self.runs.get(run_id)

    def claim(self, run_id: str, *, started_at: str) -> Run | None:
        return self._change(
            run_id,
            {RunStatus.PENDING},
            event="task-run.started",
            status=RunStatus.RUNNING,
            started_at=started_at,
            current_step=self.runs[run_id].reused_steps if run_id in self.runs else 0,
        )

    def load_plan(self, run: Run) -> TaskPlan | None:
        return self.plans.get((run.task_id, run.task_version))

    def load_step_records(self, run_id: str) -> dict[int, StepRecord]:
        return dict(self.records.get(run_id, {}))

    def record_steps(
        self, run: Run, records: Sequence[StepRecord], logs: Sequence[LogEntry]
    ) -> None:
        self.writes.append("record_steps")
        for record in records:
            self.records.setdefault(run.id, {})[record.index] = record
        self._append_logs(run, logs)

    def write_logs(self, run: Run, logs: Sequence[LogEntry]) -> None:
        self.writes.append("write_logs")
        self._append_logs(run, logs)

    def _append_logs(self, run: Run, logs: Sequence[LogEntry]) -> None:
        self.logs.setdefault(run.id, []).extend(logs)
        if logs:
            self.outbox.append("task-run.log")

    def advance(self, run_id: str, *, from_step: int, to_step: int) -> Run | None:
        assert to_step > from_step, (from_step, to_step)
        return self._change(
            run_id,
            {RunStatus.RUNNING},
            event="task-run.updated",
            at_step=from_step,
            current_step=to_step,
        )

    def complete(
        self,
        run_id: str,
        *,
        at_step: int,
        steps_total: int,
        outputs: dict[str, Any],
        finished_at: str,
    ) -> Run | None:
        return self._change(
            run_id,
            {RunStatus.RUNNING},
            event="task-run.completed",
            at_step=at_step,
            status=RunStatus.COMPLETED,
            outputs=outputs,
            finished_at=finished_at,
            current_step=steps_total,
        )

    def fail(
        self, run_id: str, error: RunError, *, finished_at: str, steps_done: int | None = None
    ) -> Run | None:
        changes: dict[str, Any] = {
            "status": RunStatus.FAILED,
            "error": error,
            "finished_at": finished_at,
        }
        if steps_done is not None:
            changes["current_step"] = steps_done
        failed = self._change(
            run_id, ACTIVE_STATUSES, event="task-run.failed", waiting=None, **changes
        )
        if failed is not None:
            self.tokens.pop(run_id, None)
        return failed

    def park_approval(
        self, run_id: str, *, at_step: int, waiting: Waiting, task_token: str
    ) -> Run | None:
        parked = self._change(
            run_id, {RunStatus.RUNNING}, event="task-run.waiting", at_step=at_step, waiting=waiting
        )
        if parked is not None:
            self.tokens[run_id] = task_token
        return parked

    def _change(
        self,
        run_id: str,
        allowed_from: Collection[RunStatus],
        *,
        event: str,
        at_step: int | None = None,
        **changes: Any,
    ) -> Run | None:
        run = self.runs.get(run_id)
        if run is None or run.status not in allowed_from:
            return None
        if at_step is not None and run.current_step != at_step:
            return None
        self.writes.append("transition")
        self.outbox.append(event)
        updated = run.model_copy(update={**changes, "sequence": run.sequence + 1})
        self.runs[run_id] = updated
        return updated


Script = Any  # a result, an exception to raise, or a callable(StepCall) -> result


class ScriptedHttp(StepKind):
    """Stands in for the http kind: each attempt plays the next entry of the script."""

    kind = "http"
    config = HttpStep

    def __init__(self, *script: Script) -> None:
        self.script = list(script)
        self.calls: list[StepCall] = []

    def run(self, call: StepCall) -> Any:
        self.calls.append(call)
        action = self.script.pop(0)
        if isinstance(action, Exception):
            raise action
        if callable(action):
            return action(call)
        return action


@dataclass
class Harness:
    """An engine's dependencies in memory, and what it slept."""

    store: MemoryRunStore = field(default_factory=MemoryRunStore)
    slept: list[float] = field(default_factory=list)
    on_sleep: Callable[[], Any] | None = None  # e.g. a cancel arriving during a backoff

    @property
    def deps(self) -> EngineDependencies:
        return EngineDependencies(Settings(allow_private_targets=True), self.store)

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        if self.on_sleep is not None:
            self.on_sleep()

    def engine(self, **kw: Any) -> Engine:
        """An engine for one invocation (kw: runner, remaining_ms, limits)."""
        self.last = self.deps.engine(sleep=self.sleep, **kw)
        return self.last

    def advance(
        self, run_id: str, nxt: dict[str, Any] | None = None, *, answer: Any = None, **kw: Any
    ) -> dict[str, Any]:
        state: dict[str, Any] = {"runId": run_id}
        if nxt is not None:
            state["next"] = nxt
        if answer is not None:
            state["answer"] = answer
        return self.engine(**kw).handle({"action": "advance", "state": state})

    def park(self, state: dict[str, Any], token: str = "tok") -> dict[str, Any]:
        return self.engine().handle({"action": "await", "state": state, "taskToken": token})

    def catch(self, state: dict[str, Any], error: dict[str, Any]) -> dict[str, Any]:
        return self.engine().handle({"action": "fail", "state": {**state, "error": error}})
