"""Deliveries on the local cloud: lifecycle events reach subscribed endpoints, signed."""

from __future__ import annotations

import uuid
from typing import Any

from tests.e2e.webhooks.webhook_helpers import Org, Receiver, run_resource, verify_both
from tests.support.polling import eventually

ALL_EVENTS = [
    "task-run.started",
    "task-run.updated",
    "task-run.waiting",
    "task-run.completed",
    "task-run.failed",
    "task-run.cancelled",
    "task-run.log",
]


def test_every_event_type_arrives_signed_with_its_headers(org: Org, receivers: Any) -> None:
    receiver: Receiver = receivers()
    endpoint_id, secret = org.endpoint(receiver.url)
    run_id, task_id = str(uuid.uuid4()), str(uuid.uuid4())
    for sequence, event_type in enumerate(ALL_EVENTS, start=1):
        org.publish(event_type, run_id=run_id, task_id=task_id, sequence=sequence)
    got = receiver.wait_for(len(ALL_EVENTS))
    assert sorted(r.event for r in got) == sorted(ALL_EVENTS)
    for req in got:
        payload = verify_both(req, secret)
        h = req.headers
        assert h["content-type"] == "application/json"
        assert h["x-komos-endpoint-id"] == endpoint_id
        assert h["x-komos-run-id"] == run_id
        assert h["x-komos-task-id"] == task_id
        assert int(h["x-komos-sequence"]) == ALL_EVENTS.index(req.event) + 1
        if req.event == "task-run.log":
            assert set(payload) == {"runId", "logEntries"} and payload["runId"] == run_id
        else:
            assert payload == run_resource(run_id, task_id)
    assert len({r.webhook_id for r in got}) == len(ALL_EVENTS)
    # The receiver answers before the send function records the attempt: a delivery can
    # still read `pending` for a moment after its request arrived.
    deliveries = eventually(
        lambda: org.deliveries(endpoint_id),
        lambda ds: len(ds) == len(ALL_EVENTS) and all(d["status"] == "succeeded" for d in ds),
        timeout=10,
        interval=0.2,
        message=lambda ds: f"deliveries: {[(d['eventType'], d['status']) for d in ds]}",
    )
    assert {d["webhookId"] for d in deliveries} == {r.webhook_id for r in got}
    for d in deliveries:
        assert d["attemptCount"] == 1 and len(d["attempts"]) == 1
        attempt = d["attempts"][0]
        assert attempt["success"] and attempt["statusCode"] == 200
        assert attempt["latencyMs"] >= 0 and attempt["responseExcerpt"] == "ok"
    health = org.get_endpoint(endpoint_id)["health"]
    assert health["successRate"] == 1.0 and health["consecutiveFailures"] == 0
    assert health["lastSuccessAt"]
