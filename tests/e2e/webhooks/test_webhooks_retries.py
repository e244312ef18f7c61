"""Failures: the compressed schedule, the DLQ and recover, 410, Retry-After, redirects,
a hanging receiver, single replays, auto-disable."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.e2e.webhooks.webhook_helpers import (
    Answer,
    Org,
    Receiver,
    free_port,
    verify_both,
)
from tests.support.polling import eventually

SCHEDULE_ATTEMPTS = 8  # the test cloud's WEBHOOK_RETRY_SCHEDULE has 7 one-second retries


def _since() -> str:
    return (datetime.now(UTC) - timedelta(minutes=5)).isoformat()


def _only_delivery(org: Org, endpoint_id: str) -> dict[str, Any]:
    deliveries = org.deliveries(endpoint_id)
    assert len(deliveries) == 1, deliveries
    return deliveries[0]


@pytest.mark.slow
def test_receiver_down_schedule_dlq_and_recover(org: Org, receivers: Any) -> None:
    port = free_port()
    endpoint_id, secret = org.endpoint(f"http://127.0.0.1:{port}/hook")
    org.publish("task-run.completed", status="COMPLETED")
    failed = eventually(
        lambda: [d for d in org.deliveries(endpoint_id) if d["status"] == "failed"], timeout=60
    )[0]
    attempts = failed["attempts"]
    assert failed["attemptCount"] == SCHEDULE_ATTEMPTS == len(attempts)
    assert [a["number"] for a in attempts] == list(range(1, SCHEDULE_ATTEMPTS + 1))
    assert all(a["statusCode"] is None and a["error"].startswith("connection") for a in attempts)
    times = [datetime.fromisoformat(a["at"].replace("Z", "+00:00")) for a in attempts]
    gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)]
    assert all(gap >= 0.9 for gap in gaps), gaps  # one-second visibility backoff
    health = org.get_endpoint(endpoint_id)["health"]
    assert health["consecutiveFailures"] == SCHEDULE_ATTEMPTS and health["successRate"] == 0.0
    assert health["failingSince"] and health["lastSuccessAt"] is None

    receiver: Receiver = receivers(port=port)  # the receiver is back

    # recover may run before SQS redrove the message to the DLQ: retry until it moved it.
    def recovered() -> bool:
        resp = org.api.post(f"/webhook-endpoints/{endpoint_id}/recover", json={"since": _since()})
        assert resp.status_code == 202, resp.text
        return bool(resp.json()["recovered"])

    eventually(recovered, timeout=30, interval=0.5)
    got = receiver.wait_for(1)
    time.sleep(2)
    assert len(receiver.received()) == 1
    assert got[0].webhook_id == failed["webhookId"] == failed["id"]
    assert verify_both(got[0], secret)["status"] == "COMPLETED"
    done = eventually(lambda: (d := org.delivery(failed["id"]))["status"] == "succeeded" and d)
    assert done["replays"] == 1 and done["attemptCount"] == SCHEDULE_ATTEMPTS + 1
    # Nothing left to recover, and recovering again delivers nothing more.
    again = org.api.post(f"/webhook-endpoints/{endpoint_id}/recover", json={"since": _since()})
    assert again.json()["recovered"] == 0
    health = org.get_endpoint(endpoint_id)["health"]
    assert health["consecutiveFailures"] == 0 and health["lastSuccessAt"]
    assert health["failingSince"] is None


@pytest.mark.slow
def test_recover_filters_by_endpoint_and_time(org: Org, receivers: Any) -> None:
    port_a, port_b = free_port(), free_port()
    a_id, _ = org.endpoint(f"http://127.0.0.1:{port_a}/a")
    b_id, _ = org.endpoint(f"http://127.0.0.1:{port_b}/b")
    org.publish("task-run.failed")
    for endpoint_id in (a_id, b_id):
        # The delivery may not exist yet at the first look (dispatch is asynchronous).
        eventually(
            lambda e=endpoint_id: org.deliveries(e),
            lambda found: len(found) == 1 and found[0]["status"] == "failed",
            timeout=60,
        )
    a = receivers(port=port_a)
    b = receivers(port=port_b)
    # A window that ended before the deliveries: nothing moves.
    early = datetime.now(UTC) - timedelta(hours=2)
    resp = org.api.post(
        f"/webhook-endpoints/{a_id}/recover",
        json={"since": early.isoformat(), "until": (early + timedelta(hours=1)).isoformat()},
    )
    assert resp.status_code == 202 and resp.json()["recovered"] == 0
    eventually(
        lambda: org.api.post(f"/webhook-endpoints/{a_id}/recover", json={"since": _since()}).json()[
            "recovered"
        ],
        timeout=30,
        interval=0.5,
    )
    a.wait_for(1)
    time.sleep(2)
    assert len(a.received()) == 1 and b.received() == []
    assert _only_delivery(org, b_id)["status"] == "failed"
    bad = org.api.post(
        f"/webhook-endpoints/{a_id}/recover",
        json={"since": _since(), "until": (datetime.now(UTC) - timedelta(hours=1)).isoformat()},
    )
    assert bad.status_code == 400 and bad.json()["detail"] == "invalid_time_window"


def test_410_disables_the_endpoint(org: Org, receivers: Any) -> None:
    gone = receivers(lambda _r, _q: Answer(410, body=b"gone"))
    endpoint_id, _ = org.endpoint(gone.url)
    org.publish("task-run.started")
    gone.wait_for(1)
    endpoint = eventually(lambda: (e := org.get_endpoint(endpoint_id)) and not e["enabled"] and e)
    assert endpoint["disabledReason"] == "endpoint_gone" and endpoint["disabledAt"]
    delivery = eventually(
        lambda: (d := _only_delivery(org, endpoint_id))["status"] == "failed" and d
    )
    assert delivery["attempts"][0]["statusCode"] == 410
    org.publish("task-run.started")
    time.sleep(2)
    assert len(gone.received()) == 1  # a disabled endpoint gets nothing more
    replay = org.api.post(f"/webhook-deliveries/{delivery['id']}/replay")
    assert replay.status_code == 409 and replay.json()["detail"] == "endpoint_disabled"
    # Re-enabling clears the reason and the streak.
    resp = org.api.patch(f"/webhook-endpoints/{endpoint_id}", json={"enabled": True})
    assert resp.status_code == 200
    body = resp.json()["endpoint"]
    assert body["enabled"] and body["disabledReason"] is None
    assert body["health"]["consecutiveFailures"] == 0


def test_retry_after_is_respected(org: Org, receivers: Any) -> None:
    def behave(receiver: Receiver, _req: Any) -> Answer:
        if len(receiver.received()) == 1:
            return Answer(429, {"Retry-After": "3"}, b"slow down")
        return Answer(200)

    receiver = receivers(behave)
    endpoint_id, secret = org.endpoint(receiver.url)
    org.publish("task-run.updated")
    first, second = receiver.wait_for(2, timeout=30)
    assert second.at - first.at >= 2.9, second.at - first.at  # schedule says 1 s
    assert first.webhook_id == second.webhook_id
    verify_both(second, secret)
    delivery = eventually(
        lambda: (d := _only_delivery(org, endpoint_id))["status"] == "succeeded" and d
    )
    assert [a["statusCode"] for a in delivery["attempts"]] == [429, 200]
    assert delivery["attempts"][0]["responseExcerpt"] == "slow down"
    assert delivery["attempts"][0]["nextAttemptAt"]


def test_redirects_are_not_followed(org: Org, receivers: Any) -> None:
    target = receivers()
    redirect = receivers(lambda _r, _q: Answer(307, {"Location": target.url}, b""))
    endpoint_id, _ = org.endpoint(redirect.url)
    org.publish("task-run.started")
    redirect.wait_for(2, timeout=30)  # retried as a failure
    assert target.received() == []
    delivery = _only_delivery(org, endpoint_id)
    first = delivery["attempts"][0]
    assert first["statusCode"] == 307 and first["error"] == "redirect_not_followed"
    assert not first["success"]
    org.api.patch(f"/webhook-endpoints/{endpoint_id}", json={"enabled": False})


def test_a_hanging_receiver_does_not_delay_another_endpoint(org: Org, receivers: Any) -> None:
    release = threading.Event()

    def hang(_r: Receiver, _q: Any) -> Answer:
        release.wait(20)
        return Answer(200)

    slow = receivers(hang)
    fast = receivers()
    slow_id, _ = org.endpoint(slow.url)
    org.endpoint(fast.url)
    try:
        started = time.time()
        count = 6
        for _ in range(count):
            org.publish("task-run.updated")
            time.sleep(0.3)  # separate batches, spread over time
        fast.wait_for(count, timeout=10)
        lags = sorted(r.at for r in fast.received())
        assert lags[-1] - started < 8, lags[-1] - started
        assert slow.received()  # the slow one is being tried (and hangs)
    finally:
        release.set()
        org.api.patch(f"/webhook-endpoints/{slow_id}", json={"enabled": False})


def test_replay_one_delivery_keeps_its_webhook_id(org: Org, receivers: Any) -> None:
    receiver = receivers()
    endpoint_id, secret = org.endpoint(receiver.url)
    org.publish("task-run.completed", status="COMPLETED")
    first = receiver.wait_for(1)[0]
    delivery_id = first.webhook_id
    eventually(lambda: org.delivery(delivery_id)["status"] == "succeeded")
    resp = org.api.post(f"/webhook-deliveries/{delivery_id}/replay")
    assert resp.status_code == 202, resp.text
    assert resp.json()["delivery"]["status"] == "pending"
    second = receiver.wait_for(2)[1]
    assert second.webhook_id == delivery_id and second.body == first.body
    verify_both(second, secret)
    assert second.headers["x-komos-attempt"] == "2"
    missing = org.api.post(f"/webhook-deliveries/{uuid.uuid4()}/replay")
    assert missing.status_code == 404 and missing.json()["detail"] == "delivery_not_found"
    assert org.api.post("/webhook-deliveries/nope/replay").json()["detail"] == "invalid_delivery_id"


def test_failing_for_five_days_disables(
    org: Org, receivers: Any, local_cloud: Any, container: Any
) -> None:
    """An endpoint whose failure streak started more than 5 days ago is disabled."""
    from runhook import clock, keys
    from runhook.dal.expressions import Update, key

    port = free_port()
    endpoint_id, _ = org.endpoint(f"http://127.0.0.1:{port}/hook")
    long_ago = clock.iso(datetime.now(UTC) - timedelta(days=5, minutes=1))
    container.table.update(
        key(keys.org_pk(org.id), keys.endpoint_sk(endpoint_id)),
        Update().set("failingSince", long_ago).set("consecutiveFailures", 500),
    )
    org.publish("task-run.failed")
    endpoint = eventually(lambda: (e := org.get_endpoint(endpoint_id)) and not e["enabled"] and e)
    assert endpoint["disabledReason"] == "failing_continuously"
    assert endpoint["health"]["failingSince"] == long_ago
    assert endpoint["health"]["consecutiveFailures"] >= 501
    # Its pending delivery is given up and dead-lettered (recoverable once re-enabled).
    delivery = eventually(
        lambda: (d := _only_delivery(org, endpoint_id))["status"] == "failed" and d
    )
    assert delivery["lastError"] == "endpoint_disabled" or delivery["attemptCount"] >= 1
