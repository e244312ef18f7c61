"""A retry of a failed run starts at the step that failed (issue 14): the claim puts it
at `reused_steps`, the carried-over results are in the template context of later steps,
each carried-over step is logged as "reused from run …", and none of them runs again."""

from __future__ import annotations

from typing import Any

import pytest

from runhook.models import RunStatus
from tests.unit.engine.fakes import Harness


@pytest.fixture()
def h() -> Harness:
    return Harness()


def steps(until: str) -> list[dict[str, Any]]:
    return [
        {"id": "first", "type": "transform", "values": {"n": "`41`"}},
        {"id": "second", "type": "log", "message": "second"},
        {"id": "third", "type": "wait", "until": until},
        {"id": "fourth", "type": "transform", "values": {"n": "steps.first.n"}},
    ]


def test_a_retry_skips_the_steps_that_succeeded_and_reads_their_results(h: Harness) -> None:
    original = h.store.add_run(steps("not a time"), outputs={"n": "steps.fourth.n"})
    h.advance(original.id)
    failed = h.store.runs[original.id]
    assert failed.status is RunStatus.FAILED and failed.error and failed.error.nodeId == "third"
    # The task is fixed meanwhile: the retry runs the same version, so swap the plan's
    # third step for one that passes (the fake keeps plans by task version).
    fixed = h.store.add_run(steps("2000-01-01T00:00:00Z"), outputs={"n": "steps.fourth.n"})
    h.store.plans[(original.task_id, 1)] = h.store.plans[(fixed.task_id, 1)]

    retry = h.store.add_retry(failed, reused_steps=2)
    h.store.outbox.clear()
    assert h.advance(retry.id)["next"] == {"kind": "end"}
    done = h.store.runs[retry.id]
    assert done.status is RunStatus.COMPLETED
    assert done.outputs == {"n": 41}  # `first` ran only in the original run
    assert h.last.outcomes["steps_reused"] == 2
    lines = h.store.log_lines(retry.id)
    assert lines[:2] == [
        ("first", "info", f"first: reused from run {original.id}"),
        ("second", "info", f"second: reused from run {original.id}"),
    ]
    assert not any(m == "second" for _, _, m in lines)  # the log step did not run again
    assert h.store.outbox[0] == "task-run.started"  # a retry's events are the usual ones


def test_a_retry_with_nothing_reused_runs_every_step(h: Harness) -> None:
    original = h.store.add_run([{"id": "only", "type": "log", "message": "hi"}])
    h.store.runs[original.id] = original.model_copy(update={"status": RunStatus.CANCELLED})
    retry = h.store.add_retry(h.store.runs[original.id], reused_steps=0)
    h.advance(retry.id)
    assert h.store.runs[retry.id].status is RunStatus.COMPLETED
    assert [m for _, _, m in h.store.log_lines(retry.id) if "reused" in m] == []
    assert ("only", "info", "hi") in h.store.log_lines(retry.id)


def test_a_continued_retry_does_not_log_the_reused_steps_twice(h: Harness) -> None:
    original = h.store.add_run(
        [
            {"id": "a", "type": "log", "message": "a"},
            {"id": "nap", "type": "wait", "seconds": 5},
            {"id": "b", "type": "log", "message": "b"},
        ]
    )
    h.store.runs[original.id] = original.model_copy(update={"status": RunStatus.FAILED})
    h.store.records[original.id] = {}
    retry = h.store.add_retry(h.store.runs[original.id], reused_steps=0)
    retry = h.store.runs[retry.id] = retry.model_copy(update={"reused_steps": 1})
    first = h.advance(retry.id)
    assert first["next"]["kind"] == "wait" and first["next"]["index"] == 1
    h.advance(retry.id)  # a new execution: the claim finds it RUNNING
    reused = [m for _, _, m in h.store.log_lines(retry.id) if "reused" in m]
    assert reused == [f"a: reused from run {original.id}"]
