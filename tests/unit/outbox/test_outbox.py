"""The outbox without AWS: stream records → changes (runhook.dal.stream) → events
(runhook.outbox), and what a publisher does when the bus fails part-way."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest

from runhook import clock
from runhook.dal.runs import RunRepository, run_item
from runhook.dal.stream import LogAppended, RunChange, decode_records
from runhook.dal.table import serialize
from runhook.errors import ServiceUnavailable
from runhook.models import LogEntry, Run, RunStatus
from runhook.outbox import MAX_LOG_EVENT_BYTES, Outbox, build_events
from runhook.run_events import Event
from tests.support.runs import a_run

BASE = "https://runhook.test"


class FlakyBus:
    """An EventBus that fails the calls whose numbers are in `failing` (1-based)."""

    def __init__(self, *failing: int) -> None:
        self.failing = set(failing)
        self.calls = 0
        self.events: list[Event] = []

    def publish(self, events: Sequence[Event]) -> None:
        self.calls += 1
        if self.calls in self.failing:
            raise ServiceUnavailable(message="events: PutEvents kept failing")
        self.events.extend(events)


def record(
    name: str, position: int, new: dict[str, Any], old: dict[str, Any] | None = None
) -> dict[str, Any]:
    stream: dict[str, Any] = {"SequenceNumber": f"{position:021d}", "NewImage": serialize(new)}
    if old is not None:
        stream["OldImage"] = serialize(old)
    return {"eventName": name, "dynamodb": stream}


def transition(run: Run, event: str, position: int, **changes: Any) -> tuple[Run, dict[str, Any]]:
    """The stream record of a transition of `run` announcing `event`."""
    after = run.model_copy(update={**changes, "sequence": run.sequence + 1})
    new = {**run_item(after), "eventType": event, "eventAt": "2026-11-29T12:00:00.000Z"}
    return after, record("MODIFY", position, new, run_item(run))


def log_record(run: Run, position: int, message: str) -> tuple[LogEntry, dict[str, Any]]:
    entry = LogEntry(
        id=clock.sortable_id(), timestamp=clock.now_iso(), level="info", message=message
    )
    repo = RunRepository(table=None)  # type: ignore[arg-type]  # log_items reads no table
    return entry, record("INSERT", position, repo.log_items(run, [entry], ttl_days=1)[0])


# -- decoding ----------------------------------------------------------------------------


def test_a_transition_is_a_change_with_its_event_and_the_new_run() -> None:
    run = a_run()
    started, rec = transition(run, "task-run.started", 1, status=RunStatus.RUNNING)
    [change] = decode_records([rec])
    assert isinstance(change, RunChange)
    assert (change.event_type, change.position, change.occurred_at) == (
        "task-run.started",
        f"{1:021d}",
        "2026-11-29T12:00:00.000Z",
    )
    assert change.run == started


def test_writes_that_announce_nothing_are_skipped() -> None:
    run = a_run()
    created = record("INSERT", 1, run_item(run))  # a new PENDING run: no event
    touched = record("MODIFY", 2, {**run_item(run), "eventType": "task-run.started"}, run_item(run))
    step = record("INSERT", 3, {"pk": f"RUN#{run.id}", "sk": "STEP#0000", "type": "step"})
    removed = {"eventName": "REMOVE", "dynamodb": {"SequenceNumber": "4", "OldImage": {}}}
    old_log = record("INSERT", 5, {"pk": f"RUN#{run.id}", "sk": "LOG#x", "type": "log", "id": "x"})
    assert decode_records([created, touched, step, removed, old_log]) == []


def test_a_malformed_item_is_skipped_not_fatal(caplog: pytest.LogCaptureFixture) -> None:
    run = a_run()
    broken = record("MODIFY", 1, {"type": "run", "eventType": "task-run.started", "sequence": 1})
    _, good = transition(run, "task-run.started", 2, status=RunStatus.RUNNING)
    changes = decode_records([broken, good])
    assert [type(c) for c in changes] == [RunChange]
    assert "could not be decoded" in caplog.text


def test_a_log_item_carries_what_its_event_needs() -> None:
    run = a_run(sequence=4)
    entry, rec = log_record(run, 7, "hello")
    [change] = decode_records([rec])
    assert change == LogAppended(
        position=f"{7:021d}",
        org_id="org-1",
        task_id=run.task_id,
        run_id=run.id,
        run_sequence=4,
        entry=entry,
    )


def test_an_item_of_several_lines_is_one_change_per_line_and_one_log_event() -> None:
    run = a_run(sequence=2)
    entries = [
        LogEntry(id=clock.sortable_id(), timestamp=clock.now_iso(), level="info", message=m)
        for m in ("one", "two", "three")
    ]
    repo = RunRepository(table=None)  # type: ignore[arg-type]  # log_items reads no table
    [item] = repo.log_items(run, entries, ttl_days=1)  # one write's lines share an item
    changes = decode_records([record("INSERT", 9, item)])
    assert [c.entry for c in changes if isinstance(c, LogAppended)] == entries
    assert {c.position for c in changes} == {f"{9:021d}"}
    [event] = build_events(changes, BASE)
    assert event.detail_type == "task-run.log"
    assert [m["message"] for m in event.detail["logEntries"]] == ["one", "two", "three"]
    assert decode_records([record("MODIFY", 10, item)]) == []  # a re-put announces nothing


# -- events --------------------------------------------------------------------------------


def test_events_keep_stream_order_and_group_one_runs_consecutive_log_lines() -> None:
    one, two = a_run(), a_run()
    records = []
    one_started, rec = transition(one, "task-run.started", 1, status=RunStatus.RUNNING)
    records.append(rec)
    for position, message in ((2, "a"), (3, "b")):
        records.append(log_record(one, position, message)[1])
    records.append(log_record(two, 4, "other run")[1])
    _, rec = transition(one_started, "task-run.completed", 5, status=RunStatus.COMPLETED)
    records.append(rec)
    events = build_events(decode_records(records), BASE)
    assert [(e.detail_type, e.detail["runId"]) for e in events] == [
        ("task-run.started", one.id),
        ("task-run.log", one.id),
        ("task-run.log", two.id),
        ("task-run.completed", one.id),
    ]
    assert [m["message"] for m in events[1].detail["logEntries"]] == ["a", "b"]
    assert events[1].position == f"{2:021d}"
    completed = events[3].detail
    assert completed["sequence"] == 2 and completed["run"]["status"] == "COMPLETED"
    assert completed["eventId"] == f"{one.id}:2:task-run.completed"
    assert completed["run"]["logsUrl"].startswith(BASE)


def test_the_same_records_always_make_the_same_event_ids() -> None:
    run = a_run()
    _, rec = transition(run, "task-run.started", 1, status=RunStatus.RUNNING)
    records = [rec, log_record(run, 2, "x")[1]]
    first = [e.detail for e in build_events(decode_records(records), BASE)]
    again = [e.detail for e in build_events(decode_records(records), BASE)]
    assert first == again  # occurredAt too: it is the committed eventAt, not "now"


def test_log_lines_are_one_event_unless_they_pass_the_size_limit() -> None:
    run = a_run()
    few = [log_record(run, n, "short")[1] for n in range(3)]
    assert [e.detail_type for e in build_events(decode_records(few), BASE)] == ["task-run.log"]
    assert build_events([], BASE) == []
    many = [log_record(run, n, "é" * 16_000) for n in range(12)]  # ~96 KB each as JSON
    events = build_events(decode_records([r for _, r in many]), BASE)
    assert len(events) > 1
    ids = [e["id"] for ev in events for e in ev.detail["logEntries"]]
    assert ids == [entry.id for entry, _ in many]
    for event in events:
        size = len(json.dumps(event.detail["logEntries"], separators=(",", ":")))
        assert size <= MAX_LOG_EVENT_BYTES


# -- publishing ----------------------------------------------------------------------------


def _many_transitions(count: int) -> tuple[list[dict[str, Any]], list[str]]:
    records, ids = [], []
    for n in range(count):
        run = a_run()
        after, rec = transition(run, "task-run.started", n + 1, status=RunStatus.RUNNING)
        records.append(rec)
        ids.append(f"{after.id}:1:task-run.started")
    return records, ids


def test_a_failed_call_reports_where_to_retry_and_the_retry_sends_the_rest() -> None:
    records, ids = _many_transitions(25)  # three PutEvents calls of 10, 10 and 5
    bus = FlakyBus(2)
    outbox = Outbox(bus, BASE)
    first = outbox.publish(decode_records(records))
    assert (first.published, first.retry_from) == (10, f"{11:021d}")
    # Lambda retries from the reported record (what the local poller does too).
    rest = [r for r in records if r["dynamodb"]["SequenceNumber"] >= first.retry_from]
    second = outbox.publish(decode_records(rest))
    assert (second.published, second.retry_from) == (15, None)
    assert [d["eventId"] for _, d in bus.events] == ids


def test_nothing_is_lost_while_the_bus_is_down() -> None:
    records, ids = _many_transitions(3)
    bus = FlakyBus(1, 2, 3)
    outbox = Outbox(bus, BASE)
    for _ in range(3):
        assert outbox.publish(decode_records(records)).retry_from == f"{1:021d}"
    assert bus.events == []
    assert outbox.publish(decode_records(records)).retry_from is None
    assert [d["eventId"] for _, d in bus.events] == ids
