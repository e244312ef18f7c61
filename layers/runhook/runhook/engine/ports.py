"""What the engine needs from storage, as an interface: the `RunStore` port.

The orchestrator (runner.py and its helpers) reads and writes a run only through a
`RunStore`; `runhook.dal.run_store.DynamoRunStore` implements it on the table, and the
engine's unit tests use an in-memory fake (tests/unit/engine/fakes.py). Every status
change is conditional: a method that changes a run returns the new run, or None when
its condition no longer held (the run was cancelled, failed or moved on meanwhile).
That None is what makes retried invocations and racing cancels harmless.

Timestamps are ISO 8601 strings (`runhook.clock`), chosen by the caller so a store
never reads the clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from runhook.models import LogEntry, Run, RunError, Waiting

if TYPE_CHECKING:
    from runhook.tasks.definition import TaskDefinition


class StepConfig(Protocol):
    """What the engine reads from any step's validated config (runhook.tasks.definition)."""

    @property
    def id(self) -> str: ...

    @property
    def timeoutSeconds(self) -> int | None: ...


@dataclass(frozen=True)
class TaskPlan:
    """A task version as the engine runs it: parsed steps (and their kinds), `outputs`
    and the run timeout."""

    steps: Sequence[StepConfig]
    step_types: Sequence[str]  # each step's `type`: the name of its kind
    outputs: Mapping[str, str]
    timeout_seconds: int

    @classmethod
    def from_definition(cls, definition: TaskDefinition) -> TaskPlan:
        """From a saved task's validated definition (defaults already applied)."""
        return cls(
            steps=list(definition.steps),
            step_types=[step.type for step in definition.steps],
            outputs=dict(definition.outputs),
            timeout_seconds=definition.timeoutSeconds,
        )

    @property
    def total(self) -> int:
        return len(self.steps)

    def node_id(self, index: int | None) -> str | None:
        """Step `index`'s id; None past the end (or for no step)."""
        if index is None or not 0 <= index < len(self.steps):
            return None
        return self.steps[index].id


@dataclass
class StepRecord:
    """A finished step (succeeded or failed) as stored under its run."""

    index: int
    step_id: str
    kind: str
    status: str  # "succeeded" | "failed"
    result: Any = None
    error: dict[str, Any] | None = None
    attempts: int = 1
    started_at: str | None = None
    finished_at: str | None = None
    duration_ms: int | None = None


class RunStore(Protocol):
    """Everything the engine reads and writes about a run.

    It is also the outbox of run events: each change below commits, in the same write,
    the event it announces (claim: `task-run.started`; advance: `task-run.updated`;
    complete, fail: `task-run.completed`/`failed`; park_approval: `task-run.waiting`),
    and stored log lines become `task-run.log` events. The table's stream publishes
    them (`runhook.outbox`); the engine never talks to the bus.
    """

    def get_run(self, run_id: str) -> Run | None:
        """The run, read consistently; None when it does not exist."""
        ...

    def claim(self, run_id: str, *, started_at: str) -> Run | None:
        """PENDING → RUNNING at step `reused_steps` (0 unless the run is a retry that
        carried steps over); None unless the run was PENDING."""
        ...

    def load_plan(self, run: Run) -> TaskPlan | None:
        """The run's task version, parsed; None when that version no longer exists."""
        ...

    def load_step_records(self, run_id: str) -> dict[int, StepRecord]:
        """Every recorded step of the run, by index."""
        ...

    def record_steps(
        self, run: Run, records: Sequence[StepRecord], logs: Sequence[LogEntry]
    ) -> None:
        """Finished steps' records and log lines in one write (a step recorded again,
        by a retried invocation, overwrites its earlier record)."""
        ...

    def write_logs(self, run: Run, logs: Sequence[LogEntry]) -> None:
        """Store log lines of the run."""
        ...

    def advance(self, run_id: str, *, from_step: int, to_step: int) -> Run | None:
        """`currentStep` k → m (the steps in between finished; m > k); None unless the run
        is RUNNING at step k."""
        ...

    def complete(
        self,
        run_id: str,
        *,
        at_step: int,
        steps_total: int,
        outputs: dict[str, Any],
        finished_at: str,
    ) -> Run | None:
        """RUNNING at step `at_step` → COMPLETED (`currentStep` = `steps_total`); None
        unless the run was RUNNING at that step."""
        ...

    def fail(
        self, run_id: str, error: RunError, *, finished_at: str, steps_done: int | None = None
    ) -> Run | None:
        """PENDING/RUNNING → FAILED, dropping `waiting` and the task token (and setting
        `currentStep` to `steps_done` when given); None when the run is already over."""
        ...

    def park_approval(
        self, run_id: str, *, at_step: int, waiting: Waiting, task_token: str
    ) -> Run | None:
        """Store an approval's task token and `waiting` in one write; None unless the run
        is RUNNING at step `at_step`."""
        ...
