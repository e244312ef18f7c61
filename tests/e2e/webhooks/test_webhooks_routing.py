"""Event filtering and task scoping; unsubscribed and disabled endpoints get nothing;
dispatch is idempotent; test sends; delivery listing."""

from __future__ import annotations

import time
import uuid
from typing import Any

from tests.e2e.webhooks.webhook_helpers import (
    Org,
    event,
    verify_both,
)
from tests.support.orgs import Organizations
from tests.support.polling import eventually


def _task(org: Org) -> str:
    resp = org.api.post(
        "/tasks", json={"name": "scope", "steps": [{"id": "a", "type": "log", "message": "x"}]}
    )
    assert resp.status_code == 201, resp.text
    return str(resp.json()["task"]["id"])


def test_filtering_and_task_scope(org: Org, receivers: Any) -> None:
    everything, failed_only, scoped, alias, disabled, never = (receivers() for _ in range(6))
    t1 = _task(org)
    t2 = str(uuid.uuid4())
    org.endpoint(everything.url)
    org.endpoint(failed_only.url, events=["task-run.failed"])
    org.endpoint(scoped.url, taskId=t1)
    org.endpoint(alias.url, events=["task-run.succeeded", "task-run.log"])
    org.endpoint(disabled.url, enabled=False)
    org.endpoint(never.url, events=["task-run.waiting"])

    org.publish("task-run.started", task_id=t1)
    org.publish("task-run.completed", task_id=t2)
    org.publish("task-run.failed", task_id=t1)
    org.publish("task-run.log", task_id=t2)

    everything.wait_for(4)
    failed_only.wait_for(1)
    scoped.wait_for(2)
    alias.wait_for(2)
    time.sleep(2)  # anything extra would have arrived by now
    assert sorted(r.event for r in everything.received()) == sorted(
        ["task-run.started", "task-run.completed", "task-run.failed", "task-run.log"]
    )
    assert [r.event for r in failed_only.received()] == ["task-run.failed"]
    assert sorted(r.event for r in scoped.received()) == ["task-run.failed", "task-run.started"]
    assert all(r.headers["x-komos-task-id"] == t1 for r in scoped.received())
    assert sorted(r.event for r in alias.received()) == ["task-run.log", "task-run.succeeded"]
    assert disabled.received() == [] and never.received() == []


def test_another_organization_hears_nothing(
    org: Org, receivers: Any, organizations: Organizations
) -> None:
    mine = receivers()
    org.endpoint(mine.url)
    other_org = organizations.create("other", settings=None).id
    org.publish("task-run.started", org_id=other_org)
    org.publish("task-run.failed")
    got = mine.wait_for(1)
    time.sleep(1.5)
    assert [r.event for r in mine.received()] == ["task-run.failed"] == [r.event for r in got]


def test_dispatch_is_idempotent(org: Org, receivers: Any, local_cloud: Any) -> None:
    """The same bus event handled twice (EventBridge/async retries) is delivered once."""
    receiver = receivers()
    endpoint_id, _ = org.endpoint(receiver.url)
    detail_type, detail = event(org.id, "task-run.started")
    bus_event = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": "runhook",
        "account": "123456789012",
        "time": "2025-10-14T18:22:03Z",
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    }
    first = local_cloud.invoke("runhook-local-webhook-dispatch", bus_event)
    second = local_cloud.invoke("runhook-local-webhook-dispatch", bus_event)
    assert first["deliveriesCreated"] == 1
    assert second["deliveriesCreated"] == 0
    receiver.wait_for(1)
    time.sleep(2)
    assert len(receiver.received()) == 1
    assert len(org.deliveries(endpoint_id)) == 1


def test_test_send_and_delivery_listing(org: Org, receivers: Any) -> None:
    receiver = receivers()
    endpoint_id, secret = org.endpoint(receiver.url, events=["task-run.failed"])
    resp = org.api.post(
        f"/webhook-endpoints/{endpoint_id}/test", json={"eventType": "task-run.log"}
    )
    assert resp.status_code == 202, resp.text
    delivery = resp.json()["delivery"]
    assert delivery["test"] is True and delivery["status"] == "pending"
    got = receiver.wait_for(1)[0]
    payload = verify_both(got, secret)
    assert got.event == "task-run.log" and got.headers["x-komos-test"] == "true"
    assert got.webhook_id == delivery["webhookId"] and payload["logEntries"]
    default = org.api.post(f"/webhook-endpoints/{endpoint_id}/test")
    assert default.status_code == 202
    second = receiver.wait_for(2)[1]
    assert second.event == "task-run.completed" and verify_both(second, secret)["test"] is True
    bad = org.api.post(f"/webhook-endpoints/{endpoint_id}/test", json={"eventType": "nope"})
    assert bad.status_code == 400 and bad.json()["detail"] == "invalid_event_type"

    eventually(lambda: len(org.deliveries(endpoint_id, status="succeeded")) == 2)
    assert org.deliveries(endpoint_id, status="failed") == []
    listed = org.deliveries(endpoint_id)
    assert [d["eventType"] for d in listed] == [
        "task-run.completed",
        "task-run.log",
    ]  # newest first
    page = org.api.get(f"/webhook-endpoints/{endpoint_id}/deliveries", params={"pageSize": 1})
    token = page.json()["nextPageToken"]
    assert token and len(page.json()["deliveries"]) == 1
    rest = org.api.get(
        f"/webhook-endpoints/{endpoint_id}/deliveries", params={"pageSize": 1, "pageToken": token}
    ).json()
    assert rest["deliveries"][0]["id"] == listed[1]["id"]
    one = org.delivery(listed[1]["id"])
    assert one["attempts"][0]["statusCode"] == 200


def test_listen_registers_itself_and_verifies(org: Org, local_cloud: Any) -> None:
    """`runhook webhooks listen` next to the local cloud: register, receive, verify, clean up."""
    import io

    from runhook_dev.listen import Listener, register

    out = io.StringIO()
    listener = Listener(port=0, out=out).start()
    try:
        registration = register(local_cloud.api_url, org.key, listener.url, ["task-run.failed"])
        listener.secrets = [registration.secret]
        org.publish("task-run.started")
        org.publish("task-run.failed")
        eventually(lambda: listener.received)
        time.sleep(1)
        assert [(d.event, d.verified) for d in listener.received] == [("task-run.failed", True)]
        assert "[verified]" in out.getvalue()
        registration.delete()
        gone = org.api.get(f"/webhook-endpoints/{registration.endpoint_id}")
        assert gone.status_code == 404
    finally:
        listener.stop()
