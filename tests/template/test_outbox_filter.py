"""The publisher's FilterCriteria (template.yaml) against the records the table produces:
it must pass every record the outbox publishes from (a filter that drops one loses a run
event on AWS, silently) and should drop the rest (each dropped batch is an invocation
not paid for). Matched with the local cloud's filtering, i.e. moto's EventBridge patterns."""

from __future__ import annotations

from typing import Any

import pytest

from runhook import clock
from runhook.dal.runs import RunRepository, run_item, tag_items
from runhook.dal.stream import decode_records
from runhook.dal.table import serialize
from runhook.dal.webhooks import HEAD_TYPE, LISTING_TYPE, PAYLOAD_TYPE
from runhook.models import LogEntry, Run, RunStatus
from runhook_dev.devcloud.event_filters import RecordFilter, compile_filter_criteria
from tests.support.runs import a_run


@pytest.fixture()
def publisher_filter(template: dict[str, Any]) -> RecordFilter:
    events = template["Resources"]["PublisherFunction"]["Properties"]["Events"]
    return compile_filter_criteria(events["TableStream"]["Properties"]["FilterCriteria"])


def record(
    name: str, new: dict[str, Any] | None, old: dict[str, Any] | None = None
) -> dict[str, Any]:
    stream: dict[str, Any] = {"SequenceNumber": "000000000000000000001"}
    if new is not None:
        stream["NewImage"] = serialize(new)
        stream["Keys"] = serialize({"pk": new["pk"], "sk": new["sk"]})
    if old is not None:
        stream["OldImage"] = serialize(old)
    return {"eventName": name, "eventSource": "aws:dynamodb", "dynamodb": stream}


def transitioned(run: Run, event: str, **changes: Any) -> dict[str, Any]:
    """A run transition as RunRepository.transition commits it (event attributes set)."""
    after = run.model_copy(update={**changes, "sequence": run.sequence + 1})
    new = {**run_item(after), "eventType": event, "eventAt": clock.now_iso()}
    return record("MODIFY", new, {**run_item(run), "eventType": "task-run.started"})


def log_line(run: Run) -> dict[str, Any]:
    entry = LogEntry(id=clock.sortable_id(), timestamp=clock.now_iso(), level="info", message="hi")
    repo = RunRepository(table=None)  # type: ignore[arg-type]  # log_items reads no table
    return record("INSERT", repo.log_items(run, [entry], ttl_days=1)[0])


def log_line_item_of_before(run: Run) -> dict[str, Any]:
    """A log item of the layout before issue 16's packing (one entry, its fields on the
    item): still in tables and streams while a deployment updates."""
    entry = LogEntry(id=clock.sortable_id(), timestamp=clock.now_iso(), level="info", message="hi")
    item = {
        "pk": f"RUN#{run.id}",
        "sk": f"LOG#{entry.id}",
        "type": "log",
        **entry.model_dump(),
        "orgId": run.org_id,
        "taskId": run.task_id,
        "runSequence": run.sequence,
    }
    return record("INSERT", item)


def run_event_records() -> dict[str, dict[str, Any]]:
    run = a_run(steps_total=2, tags=["nightly"])
    running = run.model_copy(update={"status": RunStatus.RUNNING, "sequence": 1})
    return {
        "started": transitioned(run, "task-run.started", status=RunStatus.RUNNING),
        "updated": transitioned(running, "task-run.updated", steps_done=1),
        "completed": transitioned(running, "task-run.completed", status=RunStatus.COMPLETED),
        "log line": log_line(running),
        "log line, layout before packing": log_line_item_of_before(running),
    }


def other_records() -> dict[str, dict[str, Any]]:
    run = a_run(steps_total=2, tags=["nightly"])
    pk = {"pk": f"DELIVERY#{clock.new_id()}", "sk": "DELIVERY"}
    return {
        "created run (PENDING)": record("INSERT", run_item(run)),
        "run touched without an event": record("MODIFY", run_item(run), run_item(run)),
        "run expired": record("REMOVE", None, run_item(run)),
        "tag": record("INSERT", tag_items(run)[0]),
        "step result": record("INSERT", {"pk": f"RUN#{run.id}", "sk": "STEP#0000", "type": "step"}),
        "delivery": record("MODIFY", {**pk, "type": HEAD_TYPE, "status": "DELIVERED"}),
        "delivery payload": record("INSERT", {**pk, "sk": "PAYLOAD", "type": PAYLOAD_TYPE}),
        "delivery listing": record("INSERT", {**pk, "sk": "LISTING", "type": LISTING_TYPE}),
        "attempt": record("INSERT", {**pk, "sk": "ATTEMPT#1", "type": "attempt"}),
        "endpoint": record("MODIFY", {"pk": "ORG#org-1", "sk": "ENDPOINT#e", "type": "endpoint"}),
    }


def test_every_record_the_outbox_publishes_from_passes(publisher_filter: RecordFilter) -> None:
    records = run_event_records()
    assert len(decode_records(list(records.values()))) == len(records)  # all are events
    dropped = [name for name, rec in records.items() if not publisher_filter.passes(rec)]
    assert dropped == []


def test_writes_that_announce_nothing_do_not_invoke_the_publisher(
    publisher_filter: RecordFilter,
) -> None:
    records = other_records()
    assert decode_records(list(records.values())) == []  # the publisher would skip them
    passed = [name for name, rec in records.items() if publisher_filter.passes(rec)]
    # (A run item updated outside `transition` keeps its last eventType and passes: that is
    # harmless, the publisher compares sequences; the filter errs on the side of passing.)
    assert passed == []


def test_the_filter_never_drops_a_record_the_decoder_turns_into_an_event(
    publisher_filter: RecordFilter,
) -> None:
    for name, rec in {**run_event_records(), **other_records()}.items():
        if decode_records([rec]):
            assert publisher_filter.passes(rec), name
