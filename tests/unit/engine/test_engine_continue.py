"""A RUNNING run continued by a new execution (the sweeper restarts a run whose execution
was lost: a stopped local cloud, an execution deleted by hand).

The new execution starts like any other: `advance` with no `next`. The claim finds the
run RUNNING and carries on from `currentStep`: finished steps are not run again, a wait
waits again, an approval is parked again with the new execution's token, and the
answer given to that token finishes the run.
"""

from __future__ import annotations

from typing import Any

import pytest

from runhook.models import RunStatus
from tests.unit.engine.fakes import Harness

END = {"kind": "end"}


@pytest.fixture()
def h() -> Harness:
    return Harness()


def log_step(step_id: str) -> dict[str, Any]:
    return {"id": step_id, "type": "log", "message": f"at {step_id}"}


def test_a_new_execution_continues_a_run_in_a_wait(h: Harness) -> None:
    run = h.store.add_run(
        [log_step("a"), {"id": "nap", "type": "wait", "seconds": 4}, log_step("b")]
    )
    first = h.advance(run.id)
    assert first["next"]["kind"] == "wait" and first["next"]["index"] == 1
    # The execution is lost during the wait; the sweeper starts a new one.
    again = h.advance(run.id)
    assert again["next"]["kind"] == "wait" and again["next"]["index"] == 1
    assert h.last.outcomes["run_continued"] == 1 and h.last.outcomes["run_started"] == 0
    assert h.advance(run.id, again["next"])["next"] == END
    assert h.store.runs[run.id].status is RunStatus.COMPLETED
    lines = [m for node, _, m in h.store.log_lines(run.id) if node == "a"]
    assert lines == ["at a"]  # the finished step did not run again


def test_a_new_execution_parks_the_approval_again_with_its_own_token(h: Harness) -> None:
    run = h.store.add_run(
        [log_step("a"), {"id": "ok", "type": "approval", "prompt": "go?", "timeoutSeconds": 60}]
    )
    first = h.advance(run.id)
    h.park(first, "old-token")
    assert h.store.tokens[run.id] == "old-token"
    again = h.advance(run.id)  # the new execution
    assert again["next"] == {"kind": "approval", "index": 1, "timeoutSeconds": 60}
    h.park(again, "new-token")
    assert h.store.tokens[run.id] == "new-token"
    assert h.advance(run.id, again["next"], answer={"approved": True})["next"] == END
    assert h.store.runs[run.id].status is RunStatus.COMPLETED


def test_a_new_execution_of_a_finished_run_does_nothing(h: Harness) -> None:
    run = h.store.add_run([log_step("a")])
    assert h.advance(run.id)["next"] == END
    sequence = h.store.runs[run.id].sequence
    assert h.advance(run.id)["next"] == END
    assert h.last.outcomes["run_continued"] == 0
    assert h.store.runs[run.id].sequence == sequence  # nothing written
