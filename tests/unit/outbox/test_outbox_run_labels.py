"""Issue 14: a run's tags, metadata and retry links travel in its webhook bodies (the
run resource the outbox builds from the stream record), and linking a retried run (a
write that bumps no `sequence`) announces nothing."""

from __future__ import annotations

from runhook.dal.runs import run_item
from runhook.dal.stream import RunChange, decode_records
from runhook.models import RunStatus
from runhook.outbox import build_events
from tests.unit.outbox.test_outbox import BASE, a_run, record, transition


def test_tags_metadata_and_retry_links_are_in_the_event_body() -> None:
    run = a_run(
        tags=["billing", "env:prod"],
        metadata={"order": {"id": 7}},
        retry_of="9c77d908-7bf4-4e7f-9a20-2c5e7fdf2e94",
        reused_steps=2,
    )
    _, rec = transition(run, "task-run.started", 1, status=RunStatus.RUNNING, current_step=2)
    [change] = decode_records([rec])
    assert isinstance(change, RunChange)
    [event] = build_events([change], BASE)
    body = event.detail["run"]
    assert body["tags"] == ["billing", "env:prod"]
    assert body["metadata"] == {"order": {"id": 7}}
    assert (body["retryOf"], body["retriedBy"], body["reusedSteps"]) == (run.retry_of, None, 2)


def test_naming_the_retry_on_the_original_run_announces_nothing() -> None:
    failed = a_run(status=RunStatus.FAILED, sequence=4)
    old = {**run_item(failed), "eventType": "task-run.failed"}
    linked = {
        **run_item(failed.model_copy(update={"retried_by": "r2"})),
        "eventType": "task-run.failed",
    }
    assert decode_records([record("MODIFY", 9, linked, old)]) == []
