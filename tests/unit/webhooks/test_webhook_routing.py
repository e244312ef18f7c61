"""Which endpoint hears which event, and how bus events become delivery bodies."""

from __future__ import annotations

import json
import uuid

import pytest

from runhook.webhooks import catalog
from runhook.webhooks.dispatch import InvalidEvent, delivery_id, parse_event

# Fixed ids: parametrize ids must be the same in every pytest-xdist worker.
TASK = "7d3c3a7e-2f4b-4c4e-9d55-0b9f4b1e2a10"
OTHER = "5c0e5b1d-8a3f-4f6b-a1d2-3e4f5a6b7c8d"


@pytest.mark.parametrize(
    ("subscribed", "scope", "event", "task", "expected"),
    [
        (None, None, "task-run.started", TASK, "task-run.started"),
        ([], None, "task-run.log", TASK, "task-run.log"),
        (["task-run.failed"], None, "task-run.started", TASK, None),
        (["task-run.failed"], None, "task-run.failed", TASK, "task-run.failed"),
        (["task-run.succeeded"], None, "task-run.completed", TASK, "task-run.succeeded"),
        (
            ["task-run.succeeded", "task-run.completed"],
            None,
            "task-run.completed",
            TASK,
            "task-run.completed",
        ),
        (["task-run.completed"], None, "task-run.completed", TASK, "task-run.completed"),
        (None, TASK, "task-run.completed", TASK, "task-run.completed"),
        (None, TASK, "task-run.completed", OTHER, None),
        (["task-run.started"], TASK, "task-run.completed", TASK, None),
        (None, None, "task-run.exploded", TASK, None),
        (None, None, "task-run.succeeded", TASK, None),  # never published under that name
    ],
)
def test_route(subscribed, scope, event, task, expected) -> None:
    assert catalog.route(subscribed, scope, event, task) == expected


def test_event_lists() -> None:
    assert catalog.invalid_events(["task-run.started", "nope", "task-run.succeeded"]) == ["nope"]
    assert catalog.normalize_events([]) is None
    assert catalog.normalize_events(["task-run.log", "task-run.log", "task-run.started"]) == [
        "task-run.log",
        "task-run.started",
    ]
    assert set(catalog.EVENT_TYPES) == {
        "task-run.started",
        "task-run.updated",
        "task-run.completed",
        "task-run.failed",
        "task-run.cancelled",
        "task-run.waiting",
        "task-run.log",
    }


def bus_event(detail_type: str, detail: dict, event_id: str = "e-1") -> dict:
    return {
        "version": "0",
        "id": event_id,
        "source": "runhook",
        "detail-type": detail_type,
        "account": "123456789012",
        "region": "us-east-1",
        "time": "2025-10-14T18:22:03Z",
        "resources": [],
        "detail": detail,
    }


RUN = {"id": "r", "taskId": TASK, "status": "RUNNING"}


def test_parse_lifecycle_and_log_events() -> None:
    detail = {
        "orgId": "o",
        "runId": "r",
        "taskId": TASK,
        "sequence": 3,
        "occurredAt": "2025-10-14T18:22:03.481Z",
        "run": RUN,
    }
    event = parse_event(bus_event("task-run.started", detail))
    assert event is not None
    assert (event.org_id, event.run_id, event.task_id, event.sequence) == ("o", "r", TASK, 3)
    assert json.loads(event.body) == RUN
    entries = [{"id": "l", "timestamp": None, "level": "info", "message": "m", "nodeId": None}]
    log = parse_event(bus_event("task-run.log", {**detail, "run": None, "logEntries": entries}))
    assert log is not None and json.loads(log.body) == {"runId": "r", "logEntries": entries}
    # detail as a JSON string (how some senders pass it) works too
    again = parse_event(bus_event("task-run.started", json.dumps(detail)))  # type: ignore[arg-type]
    assert again == event


def test_parse_skips_and_refuses() -> None:
    assert parse_event({**bus_event("task-run.started", {}), "source": "aws.states"}) is None
    assert parse_event(bus_event("webhook-endpoint.disabled", {"orgId": "o"})) is None
    with pytest.raises(InvalidEvent):
        parse_event(bus_event("task-run.started", {"runId": "r"}))
    with pytest.raises(InvalidEvent):
        parse_event(bus_event("task-run.completed", {"orgId": "o"}))
    with pytest.raises(InvalidEvent):
        parse_event(bus_event("task-run.log", {"orgId": "o"}))


def test_delivery_ids_are_deterministic() -> None:
    a = delivery_id("event-1", "endpoint-1")
    assert a == delivery_id("event-1", "endpoint-1")
    assert len({a, delivery_id("event-1", "endpoint-2"), delivery_id("event-2", "endpoint-1")}) == 3
    assert str(uuid.UUID(a)) == a
