"""Run events come from committed state (the outbox): the table's stream → the publisher
function → the bus. Writers (the engine, the API) never call PutEvents, so a bus
outage neither slows a run down nor loses one of its webhooks."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import pytest

from runhook.webhooks.dispatch import delivery_id
from runhook_dev.devcloud import terminal
from runhook_dev.devcloud.testing import swapped_handler
from tests.e2e.webhooks.webhook_helpers import Org, Receiver, verify_both
from tests.support.polling import eventually

STEPS_TASK = {
    "name": "Outbox lifecycle",
    "steps": [
        {"id": "one", "type": "log", "message": "first"},
        {"id": "two", "type": "log", "message": "second"},
        {"id": "three", "type": "transform", "values": {"n": "`3`"}},
    ],
    "outputs": {"n": "steps.three.n"},
    "timeoutSeconds": 300,
}
WAIT_TASK = {
    "name": "Outbox cancel",
    "steps": [{"id": "pause", "type": "wait", "seconds": 60}],
    "timeoutSeconds": 300,
}


def _status(org: Org, run_id: str) -> str:
    return str(org.api.get(f"/task-runs/{run_id}").json()["run"]["status"])


def test_events_committed_while_the_bus_is_down_arrive_once_it_is_back(
    org: Org, receivers: Any, local_cloud: Any
) -> None:
    receiver: Receiver = receivers()
    task_id = org.task(STEPS_TASK)
    _, secret = org.endpoint(receiver.url, taskId=task_id)
    with local_cloud.events_outage():
        run = org.api.post(f"/tasks/{task_id}/runs", json={}).json()["run"]
        # The run does not wait for the bus: it completes during the outage.
        eventually(lambda: _status(org, run["id"]) == "COMPLETED", timeout=60)
        time.sleep(1.0)  # the publisher keeps retrying meanwhile
        assert receiver.received() == []
    completed = receiver.wait_for(1, timeout=60, event="task-run.completed")[0]
    assert verify_both(completed, secret)["outputs"] == {"n": 3}

    # Deliveries are sent in parallel: the completion may arrive before an earlier update.
    # Wait until the two lifecycle deliveries and both log lines are in (or time out),
    # then check that nothing was announced twice or lost.
    def all_in(got: list[Any]) -> bool:
        lifecycle_ids = {r.webhook_id for r in got if r.event != "task-run.log"}
        logged = {
            e["message"] for r in got if r.event == "task-run.log" for e in r.json["logEntries"]
        }
        return len(lifecycle_ids) >= 2 and {"first", "second"} <= logged

    received = eventually(
        receiver.received,
        all_in,
        timeout=60,
        message=lambda got: f"received only {sorted(r.event for r in got)}",
    )
    lifecycle = [r for r in received if r.event != "task-run.log"]
    sequences = sorted(int(r.headers["x-komos-sequence"]) for r in lifecycle)
    # The claim and the completion (three quick steps store their progress with it):
    # every committed change announced once (a repeat would only be a redelivery with
    # the same webhook-id).
    assert len({r.webhook_id for r in lifecycle}) == len(set(sequences)) == 2
    assert sorted(r.event for r in {r.webhook_id: r for r in lifecycle}.values()) == sorted(
        ["task-run.started", "task-run.completed"]
    )
    messages = [
        e["message"] for r in received if r.event == "task-run.log" for e in r.json["logEntries"]
    ]
    assert "first" in messages and "second" in messages


def test_a_cancel_from_the_api_is_announced_from_the_stream(org: Org, receivers: Any) -> None:
    receiver: Receiver = receivers()
    task_id = org.task(WAIT_TASK)
    endpoint_id, secret = org.endpoint(receiver.url, events=["task-run.cancelled"])
    run = org.api.post(f"/tasks/{task_id}/runs", json={}).json()["run"]
    eventually(lambda: _status(org, run["id"]) == "RUNNING", timeout=60)
    resp = org.api.post(f"/task-runs/{run['id']}/cancel", json={"reason": "outbox"})
    assert resp.status_code == 202, resp.text
    cancelled = receiver.wait_for(1, timeout=30, event="task-run.cancelled")[0]
    body = verify_both(cancelled, secret)
    assert (body["status"], body["cancelReason"]) == ("CANCELLED", "outbox")
    # The delivery is named by the committed change (run, sequence, type): built by the
    # stream publisher, which is the only writer of run events.
    sequence = int(cancelled.headers["x-komos-sequence"])
    event_id = f"{run['id']}:{sequence}:task-run.cancelled"
    delivery = org.delivery(delivery_id(event_id, endpoint_id))
    assert (delivery["eventId"], delivery["eventType"]) == (event_id, "task-run.cancelled")


def test_delivery_writes_never_invoke_the_publisher(
    org: Org, receivers: Any, local_cloud: Any
) -> None:
    """The publisher's FilterCriteria, as the local cloud applies it: the delivery items
    a webhook writes (head, payload, listing, attempts), like step results, usage counters
    and the PENDING run's insert, never reach PublisherFunction, while the run's
    transitions and log lines still do and are published."""
    publisher = local_cloud.registry.get("PublisherFunction")
    real = publisher.load()
    seen: list[str] = []
    lock = threading.Lock()

    def recording(event: Any, context: Any) -> Any:
        with lock:
            for r in event["Records"]:
                image = r["dynamodb"].get("NewImage") or {}
                seen.append(f"{r['eventName']} {image.get('type', {}).get('S')}")
        return real(event, context)

    receiver: Receiver = receivers()
    task_id = org.task(STEPS_TASK)
    org.endpoint(receiver.url, taskId=task_id)
    with swapped_handler(local_cloud, "PublisherFunction", recording):
        for count in (1, 2):  # the second run is read after the first one's delivery writes
            started = org.api.post(f"/tasks/{task_id}/runs", json={})
            assert started.is_success, started.text
            receiver.wait_for(count, timeout=60, event="task-run.completed")
    assert {"MODIFY run", "INSERT logs"} <= set(seen) <= {"MODIFY run", "INSERT logs"}, seen


def test_only_events_an_endpoint_routes_go_on_the_bus(
    org: Org, receivers: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """RUN_EVENTS_ON_BUS=subscribed (the template's default, which the suite's cloud runs):
    a run nobody listens to puts nothing on the bus; a run whose task has an endpoint of
    completions only puts its completion there, the one event that endpoint receives.

    The bus is watched where the local cloud answers PutEvents: each entry becomes a
    `devcloud.runs` line (what `runhook dev` prints), one per run event.
    """
    caplog.set_level(logging.INFO, logger=terminal.RUNS.name)
    receiver: Receiver = receivers()
    heard_task = org.task(STEPS_TASK)
    unheard_task = org.task({**STEPS_TASK, "name": "Outbox unheard"})
    org.endpoint(receiver.url, taskId=heard_task, events=["task-run.completed"])

    def on_the_bus(run_id: str) -> list[str]:
        return [
            r.getMessage()
            for r in caplog.records
            if r.name == terminal.RUNS.name and r.getMessage().startswith(f"run {run_id} ")
        ]

    unheard = org.api.post(f"/tasks/{unheard_task}/runs", json={}).json()["run"]
    eventually(lambda: _status(org, unheard["id"]) == "COMPLETED", timeout=60)
    heard = org.api.post(f"/tasks/{heard_task}/runs", json={}).json()["run"]
    completed = receiver.wait_for(1, timeout=60, event="task-run.completed")[0]
    assert completed.json["id"] == heard["id"]
    # The completion is the heard run's last stream record: its earlier ones (started,
    # updates, log lines) were read before it, and the unheard run's before those.
    [line] = on_the_bus(heard["id"])
    assert line.startswith(f"run {heard['id']} completed COMPLETED"), line
    assert on_the_bus(unheard["id"]) == []
    assert [r.event for r in receiver.received()] == ["task-run.completed"]
