"""A real run's lifecycle (API → Step Functions → step function → bus → dispatch → send)
reaches a subscribed endpoint, each delivery verified with both libraries."""

from __future__ import annotations

from typing import Any

from tests.e2e.webhooks.webhook_helpers import Org, Receiver, verify_both
from tests.support.polling import eventually

TASK = {
    "name": "Webhook lifecycle",
    "inputs": {"type": "object", "properties": {"name": {"type": "string", "default": "Ada"}}},
    "steps": [
        {"id": "greet", "type": "log", "message": "Hello {{ inputs.name }}"},
        {"id": "shape", "type": "transform", "values": {"who": "inputs.name"}},
    ],
    "outputs": {"who": "steps.shape.who"},
    "timeoutSeconds": 300,
}
SLOW_TASK = {
    "name": "Webhook cancel",
    "steps": [{"id": "pause", "type": "wait", "seconds": 60}],
    "timeoutSeconds": 300,
}


def test_completed_run_lifecycle(org: Org, receivers: Any) -> None:
    receiver: Receiver = receivers()
    task_id = org.task(TASK)
    endpoint_id, secret = org.endpoint(receiver.url, taskId=task_id)
    run = org.api.post(f"/tasks/{task_id}/runs", json={"inputs": {"name": "Grace"}}).json()["run"]
    completed = receiver.wait_for(1, timeout=60, event="task-run.completed")[0]
    receiver.wait_for(1, timeout=30, event="task-run.started")  # deliveries are not ordered
    received = receiver.received()
    events = [r.event for r in received]
    assert "task-run.started" in events
    for req in received:
        payload = verify_both(req, secret)
        assert req.headers["x-komos-run-id"] == run["id"]
        assert req.headers["x-komos-task-id"] == task_id
        assert req.headers["x-komos-endpoint-id"] == endpoint_id
        if req.event == "task-run.log":
            assert payload["runId"] == run["id"] and payload["logEntries"]
        else:
            assert payload["id"] == run["id"] and payload["taskId"] == task_id
    body = completed.json
    assert body["status"] == "COMPLETED" and body["outputs"] == {"who": "Grace"}
    assert body["timestamps"]["finishedAt"]
    # The sequence orders lifecycle events: started comes before completed.
    seq = {
        r.event: int(r.headers["x-komos-sequence"]) for r in received if r.event != "task-run.log"
    }
    assert seq["task-run.started"] < seq["task-run.completed"]
    started = next(r for r in received if r.event == "task-run.started").json
    assert started["status"] == "RUNNING"
    # the run resource in the webhook is the one the API serves
    api_run = org.api.get(f"/task-runs/{run['id']}").json()["run"]
    assert {k: body[k] for k in ("id", "status", "outputs", "timestamps")} == {
        k: api_run[k] for k in ("id", "status", "outputs", "timestamps")
    }


def test_cancelled_run_and_succeeded_alias(org: Org, receivers: Any) -> None:
    receiver: Receiver = receivers()
    alias: Receiver = receivers()
    task_id = org.task(SLOW_TASK)
    _, secret = org.endpoint(receiver.url, events=["task-run.started", "task-run.cancelled"])
    _, alias_secret = org.endpoint(alias.url, events=["task-run.succeeded"])
    run = org.api.post(f"/tasks/{task_id}/runs", json={}).json()["run"]
    receiver.wait_for(1, timeout=60, event="task-run.started")
    resp = org.api.post(f"/task-runs/{run['id']}/cancel", json={"reason": "test"})
    assert resp.status_code == 202, resp.text
    cancelled = receiver.wait_for(1, timeout=30, event="task-run.cancelled")[0]
    assert verify_both(cancelled, secret)["cancelReason"] == "test"
    assert {r.event for r in receiver.received()} == {"task-run.started", "task-run.cancelled"}

    # An endpoint subscribed as task-run.succeeded hears a completed run under that name.
    quick = org.task(TASK)
    org.api.post(f"/tasks/{quick}/runs", json={})
    got = alias.wait_for(1, timeout=60)
    assert [r.event for r in got] == ["task-run.succeeded"]
    assert verify_both(got[0], alias_secret)["status"] == "COMPLETED"
    eventually(lambda: True)
