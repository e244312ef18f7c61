"""Issue 14 in webhook bodies, end to end on the local cloud: a run's tags and metadata
are in every lifecycle webhook, and a retry announces the usual lifecycle events (started,
updated, completed) with `retryOf` and `reusedSteps`, while linking the original run
(`retriedBy`) announces nothing."""

from __future__ import annotations

from typing import Any

from tests.e2e.webhooks.webhook_helpers import Org, Receiver, verify_both
from tests.support.polling import eventually

FAILS_UNLESS_TOLD = {
    "name": "Fails unless told",
    "tags": ["hooks"],
    "inputs": {"type": "object", "properties": {"ok": {"type": "boolean", "default": False}}},
    "steps": [
        {"id": "first", "type": "transform", "values": {"n": "`1`"}},
        {"id": "second", "type": "log", "message": "second"},
        {
            "id": "third",
            "type": "wait",
            "until": "{{ '2000-01-01T00:00:00Z' if inputs.ok else 'x' }}",
        },
    ],
}


def _run(org: Org, run_id: str) -> dict[str, Any]:
    return dict(org.api.get(f"/task-runs/{run_id}").json()["run"])


def test_webhooks_carry_labels_and_a_retry_announces_its_own_lifecycle(
    org: Org, receivers: Any
) -> None:
    receiver: Receiver = receivers()
    task_id = org.task(FAILS_UNLESS_TOLD)
    _, secret = org.endpoint(receiver.url)
    body = {"tags": ["vip"], "metadata": {"order": "A-9"}}
    original = org.api.post(f"/tasks/{task_id}/runs", json=body).json()["run"]
    eventually(lambda: _run(org, original["id"])["status"] == "FAILED", timeout=60)
    failed = receiver.wait_for(1, timeout=30, event="task-run.failed")[0]
    payload = verify_both(failed, secret)
    assert (payload["tags"], payload["metadata"]) == (["hooks", "vip"], {"order": "A-9"})
    # The same run, retried: its own events, from the step that failed.
    retry = org.api.post(f"/task-runs/{original['id']}/retry").json()["run"]
    assert retry["reusedSteps"] == 2
    eventually(lambda: _run(org, retry["id"])["status"] == "FAILED", timeout=60)
    mine = eventually(
        lambda: [r for r in receiver.received() if r.headers["x-komos-run-id"] == retry["id"]],
        lambda got: {"task-run.started", "task-run.failed"} <= {r.event for r in got},
        timeout=30,
    )
    # Deliveries are not ordered (docs/webhooks.md): the per-run sequence orders them.
    mine.sort(key=lambda r: int(r.headers["x-komos-sequence"]))
    lifecycle = [r.event for r in mine if r.event != "task-run.log"]
    assert lifecycle[0] == "task-run.started" and lifecycle[-1] == "task-run.failed"
    started = verify_both(next(r for r in mine if r.event == "task-run.started"), secret)
    assert started["retryOf"] == original["id"] and started["progress"]["currentStep"] == 2
    assert (started["tags"], started["metadata"]) == (["hooks", "vip"], {"order": "A-9"})
    # Naming the retry on the original run bumped no sequence: no second event for it.
    linked = _run(org, original["id"])
    assert linked["retriedBy"] == retry["id"]
    for_original = [r for r in receiver.received() if r.headers["x-komos-run-id"] == original["id"]]
    assert [r.event for r in for_original].count("task-run.failed") == 1
    assert linked["status"] == "FAILED"
