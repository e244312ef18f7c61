"""Express is at-least-once: a run may get two executions, and a step may run twice.

An Express `StartExecution` is not idempotent by name and Express delivers at least once,
so the engine must make a second execution of the same run harmless. These tests drive two
executions of one run through the real engine over the in-memory store (the same conditions
as DynamoDB): only the first claim starts the run, a step that both executions ran is
recorded once, and the lifecycle events (started, updated, completed) are announced once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import pytest

from runhook.engine.ports import StepRecord
from runhook.engine.steps import KINDS
from runhook.models import LogEntry, Run, RunStatus
from tests.unit.engine.fakes import Harness, ScriptedHttp

END = {"kind": "end"}
HTTP_STEP = {"id": "b", "type": "http", "url": "https://example.com/"}


def log_step(step_id: str) -> dict[str, Any]:
    return {"id": step_id, "type": "log", "message": f"at {step_id}"}


@pytest.fixture()
def h() -> Harness:
    return Harness()


def test_a_step_run_by_two_executions_at_once_is_recorded_and_announced_once(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    http = ScriptedHttp({"status": 200}, {"status": 200})
    monkeypatch.setitem(KINDS, "http", http)
    run = h.store.add_run([log_step("a"), HTTP_STEP, log_step("c")])
    record_steps = h.store.record_steps
    ran: Counter[int] = Counter()

    def racing_records(run: Run, records: Sequence[StepRecord], logs: Sequence[LogEntry]) -> None:
        """Execution A ran step 0 (quick, so held until the slow step 1 is about to
        start); before its record lands, execution B (a duplicate) starts, runs step 0 as
        well and finishes the run."""
        for record in records:
            ran[record.index] += 1
        if [r.index for r in records] == [0] and ran[0] == 1:
            assert h.advance(run.id)["next"] == END  # B, nested: it wins every race
        record_steps(run, records, logs)

    monkeypatch.setattr(h.store, "record_steps", racing_records)
    first = h.advance(run.id)  # A
    assert first["next"] == END  # A's progress update failed: it stops quietly
    assert ran[0] == 2  # the quick step did run twice (at least once)
    assert len(http.calls) == 1 and ran[2] == 1  # the slow step and later ones did not
    done = h.store.runs[run.id]
    assert done.status is RunStatus.COMPLETED and done.current_step == 3
    assert sorted(h.store.records[run.id]) == [0, 1, 2]  # one record per step
    events = Counter(e for e in h.store.outbox if e != "task-run.log")
    assert events == {"task-run.started": 1, "task-run.updated": 2, "task-run.completed": 1}


def test_a_duplicate_execution_of_a_finished_run_changes_nothing(h: Harness) -> None:
    run = h.store.add_run([log_step("a"), log_step("b")])
    assert h.advance(run.id)["next"] == END
    before = (h.store.runs[run.id], list(h.store.outbox), list(h.store.writes))
    assert h.advance(run.id)["next"] == END  # the second execution's first Advance
    assert (h.store.runs[run.id], h.store.outbox, h.store.writes) == before


def test_two_executions_through_a_wait_finish_the_run_once(h: Harness) -> None:
    run = h.store.add_run(
        [log_step("a"), {"id": "nap", "type": "wait", "seconds": 3}, log_step("b")]
    )
    a = h.advance(run.id)  # execution A claims, runs a, pauses
    b = h.advance(run.id)  # execution B (duplicate) continues: the same pause, a not again
    assert a["next"]["kind"] == b["next"]["kind"] == "wait"
    assert a["next"]["index"] == b["next"]["index"] == 1
    assert h.advance(run.id, a["next"])["next"] == END  # A after its Wait state
    assert h.advance(run.id, b["next"])["next"] == END  # B after its own: nothing left
    assert h.store.runs[run.id].status is RunStatus.COMPLETED
    lines = [m for _, _, m in h.store.log_lines(run.id) if m.startswith("at ")]
    assert lines == ["at a", "at b"]
    events = Counter(e for e in h.store.outbox if e != "task-run.log")
    assert events["task-run.started"] == 1 and events["task-run.completed"] == 1
