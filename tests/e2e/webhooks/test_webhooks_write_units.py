"""What a delivery writes (issue 16): the write units of a first-attempt success, pinned,
and the item layout (payload item, folded success attempt, unindexed failed attempts,
the `leaseMs` lease) — including deliveries written in the layout before it.

The units are DynamoDB Local's own ConsumedCapacity (ReturnConsumedCapacity=INDEXES)
for every write the real repository and the real Sender make, through a fresh Container
whose DynamoDB client is metered.
"""

from __future__ import annotations

import base64
import json
import math
import os
import threading
import time
import uuid
import zlib
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.webhooks.webhook_helpers import Org, Receiver, run_resource

# A successful first attempt, steady state (the endpoint's health was written by an
# earlier success less than a minute ago), per write: dispatch puts the payload item, which
# carries the delivery's listing entry (1 + gsi1 = 2), and the head (1: no due entry, the
# queue message carries the first attempt); the claim updates the head (1: the head is in
# no ALL-projected index); the final update records the attempt on the head (1: it was
# never in the due index, so removing the due keys writes no index). 16 before issue 16,
# 9 while the head was in gsi1, 7 while every new head entered the due index.
FIRST_ATTEMPT_SUCCESS_WRU = {"PutItem": 3.0, "UpdateItem": 2.0}

WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}


class WriteMeter:
    """Sums the write units DynamoDB reports for every write of one boto3 client."""

    def __init__(self, client: Any) -> None:
        self.units: Counter[str] = Counter()
        self._lock = threading.Lock()
        client.meta.events.register("before-parameter-build.dynamodb", self._ask)
        client.meta.events.register("after-call.dynamodb", self._count)

    @staticmethod
    def _ask(params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name in WRITES:
            params["ReturnConsumedCapacity"] = "INDEXES"

    def _count(self, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name not in WRITES:
            return
        consumed = parsed.get("ConsumedCapacity") or []
        for entry in consumed if isinstance(consumed, list) else [consumed]:
            with self._lock:
                self.units[model.name] += float(entry.get("CapacityUnits") or 0.0)

    def take(self) -> dict[str, float]:
        with self._lock:
            out = {k: v for k, v in self.units.items() if v}
            self.units.clear()
        return out


@pytest.fixture()
def metered(local_cloud: Any) -> Iterator[tuple[Any, WriteMeter]]:
    """A fresh Container on the local cloud whose table writes are metered."""
    from runhook.bootstrap import Container

    container = Container.from_environment(local_cloud.environment)
    yield container, WriteMeter(container.table.client)


def _delivery(org: Org, endpoint_id: str, **fields: Any) -> Any:
    from runhook import clock
    from runhook.webhook_models import Delivery

    did, now = str(uuid.uuid4()), clock.now_iso()
    run_id, task_id = str(uuid.uuid4()), str(uuid.uuid4())
    return Delivery(
        id=did,
        org_id=org.id,
        endpoint_id=endpoint_id,
        event_type="task-run.completed",
        webhook_id=did,
        payload=json.dumps(run_resource(run_id, task_id, "COMPLETED"), separators=(",", ":")),
        created_at=now,
        updated_at=now,
        run_id=run_id,
        task_id=task_id,
        sequence=3,
        **fields,
    )


def _send(container: Any, delivery: Any, receive_count: int = 1) -> Any:
    from runhook.adapters.deliveries import QueueMessage
    from runhook.webhooks.send import Record

    record = Record(str(uuid.uuid4()), "not-a-real-handle", QueueMessage.of(delivery).body(), 1)
    if receive_count != 1:
        record = Record(record.message_id, record.receipt_handle, record.body, receive_count)
    return container.sender.send_batch([record])


def _raw(container: Any, delivery_id: str) -> list[dict[str, Any]]:
    from runhook import keys
    from runhook.dal.expressions import partition_query

    items: list[dict[str, Any]] = container.table.query_all(
        partition_query(keys.delivery_pk(delivery_id), consistent=True)
    )
    return items


def test_a_first_attempt_success_costs_the_pinned_write_units(
    org: Org, receivers: Any, metered: tuple[Any, WriteMeter]
) -> None:
    container, meter = metered
    receiver: Receiver = receivers()
    endpoint_id, _ = org.endpoint(receiver.url)
    store = container.webhooks.deliveries
    # The endpoint's first success stamps its health (one more write, once a minute).
    first = _delivery(org, endpoint_id)
    assert store.create(first)
    assert _send(container, first).outcomes == ["succeeded"]
    warm = meter.take()
    assert warm.get("UpdateItem", 0) == FIRST_ATTEMPT_SUCCESS_WRU["UpdateItem"] + 1

    delivery = _delivery(org, endpoint_id)
    assert store.create(delivery)
    report = _send(container, delivery)
    assert report.outcomes == ["succeeded"] and not report.failed_message_ids
    units = meter.take()
    assert units == FIRST_ATTEMPT_SUCCESS_WRU, units
    assert sum(units.values()) <= 5  # issue 16's goal
    receiver.wait_for(2)


def test_the_new_layout_keeps_the_body_apart_and_the_success_on_the_head(
    org: Org, receivers: Any, metered: tuple[Any, WriteMeter]
) -> None:
    container, _ = metered
    receiver: Receiver = receivers()
    endpoint_id, _ = org.endpoint(receiver.url)
    delivery = _delivery(org, endpoint_id)
    assert container.webhooks.deliveries.create(delivery)
    assert _send(container, delivery).outcomes == ["succeeded"]
    (got,) = receiver.wait_for(1)
    assert got.body == delivery.payload.encode()  # the exact bytes, from the payload item

    items = {i["sk"]: i for i in _raw(container, delivery.id)}
    assert set(items) == {"DELIVERY", "PAYLOAD"}  # no attempt item for a success
    head, body = items["DELIVERY"], items["PAYLOAD"]
    assert "payload" not in head and "gsi3pk" not in body
    # The listing entry rides on the item written once, never on the head.
    assert body["gsi1pk"] == f"ENDPOINT#{endpoint_id}" and "gsi1pk" not in head
    assert zlib.decompress(base64.b64decode(body["body"])).decode() == delivery.payload
    assert "gsi3pk" not in head and "leaseMs" not in head and head["status"] == "succeeded"
    stored = json.loads(head["successAttempt"])
    assert stored["number"] == 1 and stored["ok"] is True and stored["statusCode"] == 200

    shown = org.delivery(delivery.id)
    assert shown["status"] == "succeeded" and shown["attemptCount"] == 1
    (attempt,) = shown["attempts"]
    assert attempt["success"] and attempt["statusCode"] == 200 and attempt["number"] == 1
    assert attempt["responseExcerpt"] == "ok" and attempt["latencyMs"] >= 0
    listed = org.deliveries(endpoint_id)
    assert [d["id"] for d in listed] == [delivery.id] and listed[0]["attempts"] == [attempt]


def test_a_large_body_gets_a_listing_item_of_its_own(
    org: Org, receivers: Any, metered: tuple[Any, WriteMeter]
) -> None:
    """A body too large to share one write unit with the listing entry: the entry gets a
    small item (1 + gsi1), so gsi1 never holds a copy of a large body."""
    from runhook.dal.webhooks import item_bytes

    container, meter = metered
    receiver: Receiver = receivers()
    endpoint_id, _ = org.endpoint(receiver.url)
    store = container.webhooks.deliveries
    big = json.loads(_delivery(org, endpoint_id).payload)
    big["output"] = {"noise": base64.b64encode(os.urandom(2400)).decode()}  # incompressible
    delivery = _delivery(org, endpoint_id).model_copy(
        update={"payload": json.dumps(big, separators=(",", ":"))}
    )
    meter.take()
    assert store.create(delivery)
    created = meter.take()
    items = {i["sk"]: i for i in _raw(container, delivery.id)}
    assert set(items) == {"DELIVERY", "PAYLOAD", "LISTING"}
    assert "gsi1pk" not in items["PAYLOAD"] and "gsi1pk" not in items["DELIVERY"]
    assert items["LISTING"]["gsi1pk"] == f"ENDPOINT#{endpoint_id}"
    # the payload item (its size in KB, rounded up) + the listing item (1 + gsi1), then
    # the head (1, no due entry)
    payload_units = math.ceil(item_bytes(items["PAYLOAD"]) / 1024)
    assert payload_units == 4
    assert created == {"BatchWriteItem": payload_units + 2.0, "PutItem": 1.0}, created
    assert _send(container, delivery).outcomes == ["succeeded"]
    (got,) = receiver.wait_for(1)
    assert got.body == delivery.payload.encode()
    listed = org.deliveries(endpoint_id)
    assert [d["id"] for d in listed] == [delivery.id] and listed[0]["status"] == "succeeded"


def test_a_failed_attempt_gets_an_unindexed_item_and_counts_in_the_success_rate(
    org: Org, receivers: Any, metered: tuple[Any, WriteMeter]
) -> None:
    from tests.support.loopback import Answer

    container, _ = metered
    answers = iter([Answer(status=500, body=b"down"), Answer()])
    receiver: Receiver = receivers(lambda _r, _q: next(answers))
    endpoint_id, _ = org.endpoint(receiver.url)
    delivery = _delivery(org, endpoint_id)
    store = container.webhooks.deliveries
    assert store.create(delivery)
    assert _send(container, delivery).outcomes == ["retry"]
    attempt_item = next(i for i in _raw(container, delivery.id) if i["sk"].startswith("ATTEMPT#"))
    assert "gsi1pk" not in attempt_item and attempt_item["statusCode"] == 500
    assert store.recent_outcomes(endpoint_id) == [False]
    assert _send(container, delivery, receive_count=2).outcomes == ["succeeded"]
    shown = org.delivery(delivery.id)
    assert [(a["number"], a["success"], a["statusCode"]) for a in shown["attempts"]] == [
        (1, False, 500),
        (2, True, 200),
    ]
    assert store.recent_outcomes(endpoint_id) == [True, False]
    assert org.get_endpoint(endpoint_id)["health"]["successRate"] == 0.5


def _old_layout(container: Any, delivery: Any, **extra: Any) -> None:
    """Write `delivery` as the layout before issue 16 did: the payload on the head, the
    head in gsi1 and (pending) gsi3, the lease as `leaseUntil`."""
    from runhook import clock, keys
    from runhook.dal.codec import to_attributes
    from runhook.dal.expressions import key

    item = {
        **key(keys.delivery_pk(delivery.id), keys.DELIVERY_SK),
        "type": "delivery",
        "gsi1pk": keys.endpoint_deliveries_gsi1(delivery.endpoint_id),
        "gsi1sk": keys.created_sort(delivery.created_at, delivery.id),
        "expiresAt": clock.epoch() + 86400,
        **to_attributes(delivery),
        **extra,
    }
    if item.get("status") == "pending":
        item["gsi3pk"] = keys.due_deliveries_gsi3(keys.sweep_shard(delivery.id))
        item["gsi3sk"] = keys.created_sort(delivery.created_at, delivery.id)
    assert "payload" in item
    container.table.put(item)


def test_a_delivery_of_the_old_layout_is_sent_and_shown(
    org: Org, receivers: Any, metered: tuple[Any, WriteMeter]
) -> None:
    container, _ = metered
    receiver: Receiver = receivers()
    endpoint_id, _ = org.endpoint(receiver.url)
    delivery = _delivery(org, endpoint_id)
    _old_layout(container, delivery)  # pending, queued before the deploy: no payload item

    assert _send(container, delivery).outcomes == ["succeeded"]
    (got,) = receiver.wait_for(1)
    assert got.body == delivery.payload.encode()
    shown = org.delivery(delivery.id)
    assert shown["status"] == "succeeded" and [a["number"] for a in shown["attempts"]] == [1]
    assert [d["id"] for d in org.deliveries(endpoint_id)] == [delivery.id]


def test_an_old_success_attempt_item_is_shown_once_and_an_old_lease_holds(
    org: Org, receivers: Any, metered: tuple[Any, WriteMeter]
) -> None:
    from runhook import clock, keys
    from runhook.dal.codec import to_attributes
    from runhook.dal.expressions import key
    from runhook.webhook_models import Attempt

    container, _ = metered
    store = container.webhooks.deliveries
    receiver: Receiver = receivers()
    endpoint_id, _ = org.endpoint(receiver.url)
    done = _delivery(org, endpoint_id, status="succeeded", attempts=1)
    _old_layout(container, done)
    old_attempt = Attempt(
        delivery_id=done.id,
        endpoint_id=endpoint_id,
        number=1,
        at=clock.now_iso(),
        ok=True,
        status_code=204,
        latency_ms=7,
    )
    container.table.put(
        {
            **key(keys.delivery_pk(done.id), keys.attempt_sk(1)),
            "type": "attempt",
            "gsi1pk": keys.endpoint_attempts_gsi1(endpoint_id),
            "gsi1sk": keys.attempt_sort(old_attempt.at, done.id, 1),
            **to_attributes(old_attempt),
        }
    )
    shown = org.delivery(done.id)
    assert [(a["number"], a["statusCode"]) for a in shown["attempts"]] == [(1, 204)]
    assert org.get_endpoint(endpoint_id)["health"]["successRate"] == 1.0

    leased = _delivery(org, endpoint_id)
    now = time.time()
    _old_layout(container, leased, leaseUntil=int((now + 60) * 1000))  # an old sender's
    assert store.claim(leased.id, 0, now=now, lease_seconds=60) is None
    claimed = store.claim(leased.id, 0, now=now + 61, lease_seconds=60)
    assert claimed is not None and claimed.attempts == 1
    assert store.finish_attempt(
        leased.id,
        0,
        status="failed",
        at=clock.now_iso(),
        status_code=None,
        error="x",
        next_attempt_at=None,
    )
    head = next(i for i in _raw(container, leased.id) if i["sk"] == keys.DELIVERY_SK)
    assert "leaseUntil" not in head and "leaseMs" not in head  # both names released
    assert not receiver.received()


def test_the_listing_mixes_both_layouts_with_its_filter_and_pages(
    org: Org, receivers: Any, metered: tuple[Any, WriteMeter]
) -> None:
    """Heads written before (in gsi1 themselves) and listing entries of the new layout
    are listed together, newest first; the status filter and the page token work across
    both."""
    from runhook import clock

    container, _ = metered
    receiver: Receiver = receivers()
    endpoint_id, _ = org.endpoint(receiver.url)
    old_done = _delivery(org, endpoint_id, status="succeeded", attempts=1)
    _old_layout(container, old_done)
    time.sleep(0.01)
    new_pending = _delivery(org, endpoint_id).model_copy(update={"created_at": clock.now_iso()})
    assert container.webhooks.deliveries.create(new_pending)
    time.sleep(0.01)
    new_done = _delivery(org, endpoint_id).model_copy(update={"created_at": clock.now_iso()})
    assert container.webhooks.deliveries.create(new_done)
    assert _send(container, new_done).outcomes == ["succeeded"]

    everything = [new_done.id, new_pending.id, old_done.id]
    assert [d["id"] for d in org.deliveries(endpoint_id)] == everything
    succeeded = org.deliveries(endpoint_id, status="succeeded")
    assert [d["id"] for d in succeeded] == [new_done.id, old_done.id]
    assert [d["id"] for d in org.deliveries(endpoint_id, status="pending")] == [new_pending.id]
    assert org.deliveries(endpoint_id, status="failed") == []

    paged, token = [], None
    while True:
        params: dict[str, Any] = {"pageSize": 1, **({"pageToken": token} if token else {})}
        page = org.api.get(f"/webhook-endpoints/{endpoint_id}/deliveries", params=params)
        assert page.status_code == 200, page.text
        paged += [d["id"] for d in page.json()["deliveries"]]
        token = page.json().get("nextPageToken")
        if not token:
            break
    assert paged == everything
    assert container.webhooks.deliveries.recent_outcomes(endpoint_id) == [True, True]
