"""One invocation's view of a run (`RunContext`) and of its Lambda time (`TimeBudget`)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from runhook import clock
from runhook.engine.journal import Journal
from runhook.engine.ports import RunStore, StepConfig, TaskPlan
from runhook.engine.steps import StepCall, StepKind, get_kind
from runhook.models import Run, RunStatus
from runhook.settings import Settings

STOP_CHECK_SECONDS = 2.0  # how often a long step may re-read the run's status


class TimeBudget:
    """The invocation's Lambda time, in seconds: read once (Lambda gives milliseconds),
    then counted down on the monotonic clock. Unbounded without a callback."""

    def __init__(
        self,
        remaining_ms: Callable[[], int] | None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._monotonic = monotonic
        self._deadline = monotonic() + remaining_ms() / 1000.0 if remaining_ms is not None else None

    def remaining(self) -> float:
        if self._deadline is None:
            return math.inf
        return self._deadline - self._monotonic()


@dataclass
class RunContext:
    """A run, its task version, the template data so far and this invocation's journal."""

    run: Run
    plan: TaskPlan
    data: dict[str, Any]  # {inputs, steps: {id: result}, run: {id, taskId}}
    journal: Journal
    store: RunStore
    settings: Settings
    # Steps finished so far, stored or not: ahead of `run.current_step` while the records
    # of quick steps wait for the next checkpoint (runhook.engine.recorder).
    finished: int = 0

    @classmethod
    def open(cls, store: RunStore, settings: Settings, run: Run, plan: TaskPlan) -> RunContext:
        # Only steps before currentStep have results a template may read.
        records = store.load_step_records(run.id) if run.current_step > 0 else {}
        steps = {
            plan.steps[i].id: record.result
            for i, record in sorted(records.items())
            if record.status == "succeeded" and i < plan.total
        }
        data = {
            "inputs": run.inputs,
            "steps": steps,
            "run": {"id": run.id, "taskId": run.task_id},
        }
        return cls(run, plan, data, Journal(run, store), store, settings, run.current_step)

    @property
    def total(self) -> int:
        return self.plan.total

    def step(self, index: int) -> StepConfig:
        return self.plan.steps[index]

    def kind(self, index: int) -> StepKind:
        return get_kind(self.plan.step_types[index])

    def node_id(self, index: int | None) -> str | None:
        return self.plan.node_id(index)

    # -- the run's time ------------------------------------------------------------------
    def deadline(self) -> datetime:
        if self.run.deadline:
            return clock.parse_iso(self.run.deadline)
        return clock.parse_iso(self.run.created_at) + timedelta(seconds=self.plan.timeout_seconds)

    def run_remaining(self) -> float:
        """Seconds until the run's deadline (negative once it passed)."""
        return (self.deadline() - clock.now()).total_seconds()

    def timeout_message(self) -> str:
        return f"the run did not finish within its timeout of {self.plan.timeout_seconds} s"

    def step_timeout(self, index: int, kind: StepKind) -> float:
        """Step `index`'s configured timeout per attempt (or its kind's default)."""
        return float(self.step(index).timeoutSeconds or kind.default_timeout)

    # -- what a kind gets ------------------------------------------------------------------
    def call(
        self,
        index: int,
        kind: StepKind,
        timeout: float,
        attempt: int = 1,
        max_attempts: int = 1,
    ) -> StepCall:
        node = self.node_id(index)
        journal = self.journal

        def write(level: Any, message: str) -> None:
            journal.write(level, message, node)

        return StepCall(
            step=self.step(index),
            index=index,
            total=self.total,
            data=self.data,
            log=write,
            timeout=timeout,
            attempt=attempt,
            max_attempts=max_attempts,
            settings=self.settings,
            should_stop=self._stop_check(),
        )

    def _stop_check(self) -> Callable[[], bool]:
        store, run_id = self.store, self.run.id
        checked = [time.monotonic(), False]

        def should_stop() -> bool:
            """Whether the run stopped being RUNNING (a throttled read)."""
            if not checked[1] and time.monotonic() - float(checked[0]) >= STOP_CHECK_SECONDS:
                current = store.get_run(run_id)
                checked[0] = time.monotonic()
                checked[1] = current is None or current.status is not RunStatus.RUNNING
            return bool(checked[1])

        return should_stop
