"""Webhook endpoints, deliveries and attempts.

Access patterns (keys are built in runhook.keys):

| pattern | key / index |
|---|---|
| an org's endpoints (dispatch: one Query per event) | `ORG#<org>`, sk begins_with `ENDPOINT#` |
| one endpoint | `ORG#<org>` / `ENDPOINT#<id>` |
| a delivery and its attempts (one Query) | `DELIVERY#<id>` / `DELIVERY`, `ATTEMPT#<nnn>` |
| a delivery's body (written once) | `DELIVERY#<id>` / `PAYLOAD` |
| an endpoint's deliveries, newest first (status filter) | GSI1 `ENDPOINT#<id>`, `<createdAt>#<delivery>`: the listing entry (on `PAYLOAD`, or `LISTING` when the body is large), resolved to heads by BatchGetItem |
| an endpoint's recent outcomes (success rate) | the same, reading the heads' `status` and `attempts` |
| pending deliveries by when they are due (the sweeper) | GSI3 `DELIVERIES#DUE#<0..7>`, `<due>#<delivery>` |

GSI3 is sparse: a delivery carries its keys only while it is pending and something
other than its first queue message must answer for it: a retry is scheduled, it was
re-enqueued (dispatch retry, replay, recover, sweep), or dispatch could not send its
message (`mark_due`). The sort key is when its next attempt is due, so the sweeper reads
only the deliveries overdue by more than its grace. A first attempt is carried by SQS
alone (at-least-once, visibility timeout, redrive to the DLQ); after a restart of the
local cloud, whose queue lives in memory, `unqueued` finds those too.

Write units (issue 16): the head is small and in no ALL-projected index, so each of its
writes costs 1 WRU (plus gsi3 while it enters or leaves the due index); the body and the
listing entry are written once (`DeliveryBodies`); a successful attempt is folded into
the head's final write (`successAttempt`) and only failed attempts get an item of their
own (`AttemptRepository`). A first-attempt success: 5 WRU (7 while every new head
entered the due index, 9 before the listing entry left the head, 17 before issue 16).
Items written before keep their inline `payload`,
their success attempt items, their `ENDPOINT#<id>#ATTEMPTS` index keys and their heads'
gsi1 keys; all of it reads as before (the listing takes a head found in gsi1 as it is).

Deliveries and attempts carry the table's TTL attribute `expiresAt`.
"""

from __future__ import annotations

import base64
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from runhook import clock, keys
from runhook.dal.codec import attribute, from_attributes, loads, stored_value, to_attributes
from runhook.dal.expressions import (
    Item,
    Key,
    Put,
    Update,
    index_query,
    key,
    partition_query,
    prefix_query,
)
from runhook.dal.table import Table, TransactionCancelled, deserialize, serialize
from runhook.webhook_models import Attempt, Delivery, DeliveryStatus, Endpoint

ENDPOINT_JSON_FIELDS = frozenset({"events"})
MAX_TRANSACTION_ACTIONS = 100
# What dispatch reads of an endpoint: never the secrets.
_ROUTING_PROJECTION = ("id", "url", "events", "taskId", "enabled")
DUE_INDEX = "gsi3"
DELIVERY_JSON_FIELDS = frozenset({"success_attempt"})
# Newest deliveries read for the success rate: enough to hold `window` attempts.
_OUTCOME_PROJECTION = ("status", "attempts", "leaseMs", "leaseUntil")
# The lease attribute before issue 16 (projected into the due index): still honoured, so
# a lease taken by a sender of the old layout holds across the deploy; always removed.
_OLD_LEASE = "leaseUntil"


def _unleased(update: Update, at_ms: int, label: str) -> str:
    """A condition: no lease (new or old attribute) is held at `at_ms` (epoch ms)."""
    at = update.value(label, at_ms)
    parts = []
    for attr in (attribute(Delivery, "lease_until_ms"), _OLD_LEASE):
        name = update.name(attr)
        parts.append(f"(attribute_not_exists({name}) OR {name} < {at})")
    return " AND ".join(parts)


def _release(update: Update) -> Update:
    """Remove the lease (both attribute names)."""
    return update.remove(attribute(Delivery, "lease_until_ms")).remove(_OLD_LEASE)


# The items of a delivery's partition, by `type`: the head (rewritten by each attempt),
# the body (written once; carries the listing entry when both fit one write unit) and the
# listing entry on its own (written once, when the body is too large to carry it).
HEAD_TYPE, PAYLOAD_TYPE, LISTING_TYPE = "delivery", "delivery-payload", "delivery-listing"
LISTING_SK = "LISTING"
WRITE_UNIT_BYTES = 1024

_DUE_PROJECTION = ("id", "orgId", "endpointId", "createdAt", "gen", "leaseUntil", "status")


@dataclass(frozen=True)
class Route:
    """What dispatch needs of an endpoint."""

    id: str
    url: str
    events: list[str] | None
    task_id: str | None
    enabled: bool


def endpoint_from_item(item: Mapping[str, Any]) -> Endpoint:
    return from_attributes(Endpoint, item, json_fields=ENDPOINT_JSON_FIELDS)


def _endpoint_key(org_id: str, endpoint_id: str) -> Key:
    return key(keys.org_pk(org_id), keys.endpoint_sk(endpoint_id))


class EndpointRepository:
    def __init__(self, table: Table) -> None:
        self.table = table

    def put(self, endpoint: Endpoint) -> bool:
        """Store a new endpoint; False when one with this id exists."""
        item = {
            **_endpoint_key(endpoint.org_id, endpoint.id),
            "type": "endpoint",
            **to_attributes(endpoint, json_fields=ENDPOINT_JSON_FIELDS),
        }
        return self.table.put(item, condition="attribute_not_exists(pk)")

    def get(self, org_id: str, endpoint_id: str) -> Endpoint | None:
        item = self.table.get(_endpoint_key(org_id, endpoint_id), consistent=True)
        return endpoint_from_item(item) if item else None

    def list_for_org(self, org_id: str) -> list[Endpoint]:
        query = prefix_query(keys.org_pk(org_id), keys.ENDPOINT_PREFIX, consistent=True)
        items = self.table.query_all(query)
        return sorted((endpoint_from_item(i) for i in items), key=lambda e: e.created_at)

    def routes(self, org_id: str, *, consistent: bool = False) -> list[Route]:
        """The org's endpoints for dispatch: one Query, secrets not read (`consistent`:
        the outbox's filter, which must see an endpoint created before the change)."""
        query = prefix_query(
            keys.org_pk(org_id),
            keys.ENDPOINT_PREFIX,
            projection=", ".join(f"#{a}" for a in _ROUTING_PROJECTION),
            names={f"#{a}": a for a in _ROUTING_PROJECTION},
            consistent=consistent,
        )
        return [
            Route(
                id=str(i["id"]),
                url=str(i.get("url", "")),
                events=loads(i.get("events")),
                task_id=i.get("taskId"),
                enabled=bool(i.get("enabled", True)),
            )
            for i in self.table.query_all(query)
        ]

    def update(self, org_id: str, endpoint_id: str, changes: Mapping[str, Any]) -> Endpoint | None:
        """Set (None: remove) endpoint fields by model name; None when it does not exist."""
        update = Update()
        for field, value in changes.items():
            as_json = field in ENDPOINT_JSON_FIELDS
            update.set(
                attribute(Endpoint, field),
                stored_value(value or None, as_json=True) if as_json else value,
            )
        return self._apply(org_id, endpoint_id, update)

    def delete(self, org_id: str, endpoint_id: str) -> bool:
        return self.table.delete(
            _endpoint_key(org_id, endpoint_id), condition="attribute_exists(pk)"
        )

    def record_health(
        self, org_id: str, endpoint_id: str, outcomes: Sequence[tuple[str, bool]]
    ) -> Endpoint | None:
        """Fold a batch's attempt outcomes `(at, ok)` into the endpoint's health counters.

        Atomic per call, without a read: a success resets the failure streak, failures
        extend it (`failingSince` keeps the first failure of the streak).
        """
        if not outcomes:
            return None
        ordered = sorted(outcomes)
        successes = [at for at, ok in ordered if ok]
        update = Update()
        condition = None
        if successes:
            last_success = successes[-1]
            after = [at for at, ok in ordered if not ok and at > last_success]
            update.set("lastSuccessAt", last_success)
            update.set("consecutiveFailures", len(after))
            update.set("failingSince", after[0] if after else None)
            if after:
                update.set("lastFailureAt", after[-1])
            # A later success recorded by a concurrent batch wins.
            condition = "attribute_not_exists(lastSuccessAt) OR lastSuccessAt <= :lastSuccessAt"
        else:
            update.add("consecutiveFailures", len(ordered))
            update.set("lastFailureAt", ordered[-1][0])
            first = update.value("first", ordered[0][0])
            update.set_expression("failingSince", f"if_not_exists(#failingSince, {first})")
        return self._apply(org_id, endpoint_id, update, condition)

    def disable(
        self, org_id: str, endpoint_id: str, reason: str, *, failing_since: str | None = None
    ) -> Endpoint | None:
        """Disable an enabled endpoint; None when it was not enabled (or the streak ended)."""
        now = clock.now_iso()
        update = Update().set("enabled", False).set("disabledReason", reason)
        update.set("disabledAt", now)
        condition = f"enabled = {update.value('yes', True)}"
        if failing_since is not None:
            condition += f" AND failingSince = {update.value('since', failing_since)}"
        return self._apply(org_id, endpoint_id, update, condition)

    def _apply(
        self, org_id: str, endpoint_id: str, update: Update, condition: str | None = None
    ) -> Endpoint | None:
        """Apply `update` (and `updatedAt`) to an existing endpoint; None if a condition failed."""
        update.set("updatedAt", clock.now_iso())
        cond = "attribute_exists(pk)" + (f" AND ({condition})" if condition else "")
        item = self.table.update(_endpoint_key(org_id, endpoint_id), update, condition=cond)
        return endpoint_from_item(item) if item else None


@dataclass(frozen=True)
class DueDelivery:
    """What the sweeper reads of a pending delivery from the due index."""

    id: str
    org_id: str
    endpoint_id: str
    created_at: str
    gen: int
    due_at: str
    lease_until_ms: int | None


def _due_keys(update: Update, delivery_id: str, due_at: str) -> None:
    """Put a pending delivery in the due index, due at `due_at`."""
    update.set("gsi3pk", keys.due_deliveries_gsi3(keys.sweep_shard(delivery_id)))
    update.set("gsi3sk", keys.created_sort(due_at, delivery_id))


def _not_due(update: Update) -> None:
    """Take a delivery that is over (succeeded, failed) out of the due index."""
    update.remove("gsi3pk").remove("gsi3sk")


def delivery_from_item(item: Mapping[str, Any]) -> Delivery:
    return from_attributes(Delivery, item, json_fields=DELIVERY_JSON_FIELDS)


def outcomes_of(status: str, attempts: int, *, in_flight: bool = False) -> list[bool]:
    """The attempt outcomes a delivery's head implies, newest first (pure): a succeeded
    delivery's last attempt succeeded and every earlier one failed; a failed or pending
    delivery's attempts all failed, except one still in flight (leased: no outcome yet)."""
    if status == "pending" and in_flight:
        attempts -= 1
    if attempts <= 0:
        return []
    if status == "succeeded":
        return [True] + [False] * (attempts - 1)
    return [False] * attempts


def _payload_key(delivery_id: str) -> Key:
    return key(keys.delivery_pk(delivery_id), keys.DELIVERY_PAYLOAD_SK)


def attempt_from_item(item: Mapping[str, Any]) -> Attempt:
    return from_attributes(Attempt, item)


def _delivery_key(delivery_id: str) -> Key:
    return key(keys.delivery_pk(delivery_id), keys.DELIVERY_SK)


def _listing_keys(delivery: Delivery) -> Item:
    """A delivery's entry in its endpoint's listing (gsi1): newest first by creation."""
    return {
        "gsi1pk": keys.endpoint_deliveries_gsi1(delivery.endpoint_id),
        "gsi1sk": keys.created_sort(delivery.created_at, delivery.id),
    }


def item_bytes(item: Mapping[str, Any]) -> int:
    """An upper bound of DynamoDB's size of a flat item of strings and numbers (pure)."""
    return sum(len(str(k).encode()) + len(str(v).encode()) + 1 for k, v in item.items())


def _delivery_id_of(entry: Mapping[str, Any]) -> str:
    """The delivery a listing entry (any item of its partition) belongs to."""
    return str(entry["pk"]).removeprefix(keys.delivery_pk(""))


class DeliveryBodies:
    """The items of a delivery written once, at dispatch, and never updated: its body
    (`PAYLOAD`, compressed) and its entry in the endpoint's listing (gsi1).

    The listing entry rides on the payload item when both fit one write unit (a typical
    run resource, compressed, does), else it gets a small `LISTING` item of its own:
    either way gsi1 (projected ALL, shared with runs) is written once per delivery, where
    a head in gsi1 had its copy rewritten by each of its three writes.
    """

    def __init__(self, table: Table, expires_at: Callable[[], int]) -> None:
        self.table = table
        self._expires_at = expires_at

    def items(self, delivery: Delivery) -> list[Item]:
        """The body as base64 text (a binary attribute would reach the table's stream,
        whose decoding, runhook.dal.stream, expects none) and the listing entry."""
        expires = self._expires_at()
        payload: Item = {
            **_payload_key(delivery.id),
            "type": PAYLOAD_TYPE,
            "body": base64.b64encode(zlib.compress(delivery.payload.encode(), 6)).decode(),
            "expiresAt": expires,
        }
        listed = {**payload, **_listing_keys(delivery)}
        if item_bytes(listed) <= WRITE_UNIT_BYTES:
            return [listed]
        listing: Item = {
            **key(keys.delivery_pk(delivery.id), LISTING_SK),
            "type": LISTING_TYPE,
            **_listing_keys(delivery),
            "expiresAt": expires,
        }
        return [payload, listing]

    def put(self, deliveries: Sequence[Delivery]) -> None:
        """Write the bodies and listing entries (unconditionally: a repeated dispatch
        writes the same bytes)."""
        items = [i for d in deliveries for i in self.items(d)]
        if len(items) == 1:
            self.table.put(items[0])
        else:
            self.table.batch_put(items)

    def payloads(self, delivery_ids: Sequence[str]) -> dict[str, str]:
        """The bodies of these deliveries (one BatchGetItem, consistent: the sender may read
        right after dispatch); deliveries written before issue 16 have none here."""
        if not delivery_ids:
            return {}
        items = self.table.batch_get(
            [_payload_key(d) for d in dict.fromkeys(delivery_ids)], consistent=True
        )
        return {
            _delivery_id_of(i): zlib.decompress(base64.b64decode(str(i["body"]))).decode()
            for i in items
        }


class AttemptRepository:
    """Failed attempts, one item each under the delivery (a success rides on the head's
    final write, `successAttempt`). Not indexed: one write unit each; the success rate is
    read from the deliveries (`DeliveryListing.recent_outcomes`)."""

    def __init__(self, table: Table, expires_at: Callable[[], int]) -> None:
        self.table = table
        self._expires_at = expires_at

    def item(self, attempt: Attempt) -> Item:
        return {
            **key(keys.delivery_pk(attempt.delivery_id), keys.attempt_sk(attempt.number)),
            "type": "attempt",
            "expiresAt": self._expires_at(),
            **to_attributes(attempt),
        }

    def put(self, attempts: Sequence[Attempt]) -> None:
        self.table.batch_put([self.item(a) for a in attempts])


class DeliveryListing:
    """An endpoint's deliveries, newest first, from gsi1.

    gsi1 holds, per delivery, either its listing entry (the payload or listing item:
    the layout since issue 16's second round) or its head (written before): entries are
    resolved to their heads with one BatchGetItem; heads are used as they are.
    """

    def __init__(self, table: Table) -> None:
        self.table = table

    def _heads(self, entries: Sequence[Item], *, consistent: bool = True) -> list[Item]:
        """The heads of these gsi1 items, in their order; an entry whose head does not
        exist (dispatch stopped between its writes) is left out."""
        wanted = [_delivery_id_of(e) for e in entries if e.get("type") != HEAD_TYPE]
        found: dict[str, Item] = {}
        if wanted:
            heads = [_delivery_key(d) for d in dict.fromkeys(wanted)]
            for item in self.table.batch_get(heads, consistent=consistent):
                found[_delivery_id_of(item)] = item
        out, seen = [], set()
        for entry in entries:
            delivery_id = _delivery_id_of(entry)
            head = entry if entry.get("type") == HEAD_TYPE else found.get(delivery_id)
            # A head of the earlier layout and a listing entry of a repeated dispatch
            # may both name one delivery: it is listed once.
            if head is not None and delivery_id not in seen:
                seen.add(delivery_id)
                out.append(head)
        return out

    def list_for_endpoint(
        self,
        endpoint_id: str,
        *,
        status: DeliveryStatus | None = None,
        page_size: int = 20,
        page_token: str | None = None,
    ) -> tuple[list[Delivery], str | None]:
        """A page of an endpoint's deliveries and the token of the next; `status` filters
        heads in the query and listing entries once resolved (a page may hold fewer)."""
        query = index_query("gsi1", keys.endpoint_deliveries_gsi1(endpoint_id), newest_first=True)
        if status:
            query = query.with_filter(
                "#type <> :head OR #status = :status",
                {":head": HEAD_TYPE, ":status": status},
                {"#type": "type", "#status": "status"},
            )
        page = self.table.page(query, page_size=page_size, token=page_token)
        heads = self._heads(page.items)
        deliveries = [delivery_from_item(h) for h in heads]
        if status:
            deliveries = [d for d in deliveries if d.status == status]
        return deliveries, page.next_token

    def recent_outcomes(self, endpoint_id: str, limit: int = 100) -> list[bool]:
        """Success flags of the endpoint's most recent attempts (up to `limit`), newest
        delivery first, as its deliveries' heads imply them (`outcomes_of`): no write per
        attempt. One Query of the endpoint's listing and one BatchGetItem of the heads it
        names (a delivery has at least one attempt, so `limit` deliveries hold enough)."""
        names = {f"#{a}": a for a in (*_OUTCOME_PROJECTION, "type", "pk")}
        query = index_query(
            "gsi1",
            keys.endpoint_deliveries_gsi1(endpoint_id),
            projection=", ".join(names),
            names=names,
            newest_first=True,
        )
        entries, _ = self.table.query(query, limit=limit)
        out: list[bool] = []
        for item in self._heads(entries, consistent=False):
            status, count = str(item.get("status", "")), int(item.get("attempts", 0))
            leased = "leaseMs" in item or _OLD_LEASE in item
            out.extend(outcomes_of(status, count, in_flight=leased))
            if len(out) >= limit:
                break
        return out[:limit]


def _due_delivery(item: Item, due_at: str, lease: Any) -> DueDelivery:
    """A sweep candidate from a head's attributes (a due-index entry or a scanned head)."""
    return DueDelivery(
        id=str(item["id"]),
        org_id=str(item["orgId"]),
        endpoint_id=str(item["endpointId"]),
        created_at=str(item["createdAt"]),
        gen=int(item.get("gen", 0)),
        due_at=due_at,
        lease_until_ms=int(lease) if lease is not None else None,
    )


class SweepCandidates:
    """What the sweeper reads: pending deliveries due for an attempt (the sparse due
    index) and, after a local-cloud restart, first attempts outside it (split from
    DeliveryRepository, which writes them)."""

    def __init__(self, table: Table) -> None:
        self.table = table

    def due(self, *, due_before: str) -> Iterator[DueDelivery]:
        """Pending deliveries whose next attempt was due before `due_before`: one Query per
        shard of the sparse due index (never a Scan)."""
        names = {f"#{a}": a for a in (*_DUE_PROJECTION, "gsi3sk")}
        for shard in range(keys.SWEEP_SHARDS):
            query = index_query(
                DUE_INDEX,
                keys.due_deliveries_gsi3(shard),
                before=due_before,
                projection=", ".join(names),
                names=names,
            )
            for item in self.table.query_all(query):
                if item.get("status") != "pending":  # the index is eventually consistent
                    continue
                lease = item.get(_OLD_LEASE)  # projected: old items only (see `_unleased`)
                yield _due_delivery(item, str(item["gsi3sk"]).rsplit("#", 1)[0], lease)

    def unqueued(self) -> Iterator[DueDelivery]:
        """Pending deliveries outside the due index: first attempts, which only their queue
        message carries (issue 16). For the local cloud's sweep after a restart, when
        moto's queue messages are gone; never on AWS, where SQS keeps them. A filtered
        Scan, the one place runhook scans: a laptop's table, once per restart."""
        names = {f"#{a}": a for a in ("id", "orgId", "endpointId", "createdAt", "gen")}
        names.update({"#type": "type", "#status": "status", "#lease": "leaseMs"})
        names["#old"] = _OLD_LEASE
        kwargs: dict[str, Any] = {
            "TableName": self.table.name,
            "FilterExpression": "#type = :head AND #status = :pending "
            "AND attribute_not_exists(gsi3pk)",
            "ProjectionExpression": ", ".join(n for n in names if n not in ("#type", "#status")),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": serialize({":head": HEAD_TYPE, ":pending": "pending"}),
        }
        while True:
            with self.table.errors():
                resp = self.table.client.scan(**kwargs)
            for item in map(deserialize, resp.get("Items", [])):
                lease = item.get("leaseMs", item.get(_OLD_LEASE))
                yield _due_delivery(item, str(item["createdAt"]), lease)
            if not resp.get("LastEvaluatedKey"):
                return
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]


class DeliveryRepository:
    """Deliveries (one per event and endpoint): the head, which every attempt rewrites
    (claim, result), and, through its parts, the items written once (`bodies`), failed
    attempts (`attempts`), the endpoint's listing (`listing`) and what the sweeper reads
    (`sweep`).

    Write units of a first-attempt success (issue 16): the bodies' items 1 + gsi1 1, the
    head 1 at dispatch (no due entry: its queue message carries the first attempt); the
    claim 1; the result 1. The head is in no ALL-projected index, so no write of it is
    paid twice; it enters the due index (1 more) only when a retry is scheduled, it is
    re-enqueued or its message could not be sent.
    """

    def __init__(self, table: Table, retention_days: int) -> None:
        self.table = table
        self.retention_days = retention_days
        self.bodies = DeliveryBodies(table, self._expires_at)
        self.sweep = SweepCandidates(table)
        self.attempts = AttemptRepository(table, self._expires_at)
        self.listing = DeliveryListing(table)

    def _expires_at(self) -> int:
        return clock.epoch() + self.retention_days * 86400

    def _item(self, delivery: Delivery) -> Item:
        item = {
            **_delivery_key(delivery.id),
            "type": HEAD_TYPE,
            "expiresAt": self._expires_at(),
            **to_attributes(delivery),
        }
        item.pop(attribute(Delivery, "lease_until_ms"), None)  # only `claim` leases
        item.pop(attribute(Delivery, "payload"), None)  # in the payload item
        # No due entry (gsi3): the first attempt is carried by its queue message, and a
        # dispatch that cannot send it marks the delivery due (`mark_due`) before failing.
        return item

    def create(self, delivery: Delivery) -> bool:
        """Put a new delivery, outside the due index; False when one with this id exists.

        The items written once go first, unconditionally (a repeated dispatch writes the
        same bytes), so a head that exists always has its body and its listing entry.
        """
        self.bodies.put([delivery])
        return self.table.put(self._item(delivery), condition="attribute_not_exists(pk)")

    def create_many(self, deliveries: Sequence[Delivery]) -> bool:
        """Put new deliveries in one transaction (≤ 100); False when any exists already.

        The common case of dispatch (one round trip for all of an event's endpoints);
        on False the caller falls back to one conditional put per delivery.
        """
        if not deliveries:
            return True
        if len(deliveries) > MAX_TRANSACTION_ACTIONS:
            return False
        if len(deliveries) == 1:
            return self.create(deliveries[0])
        self.bodies.put(deliveries)
        try:
            self.table.transact_write(
                [Put(self._item(d), "attribute_not_exists(pk)") for d in deliveries]
            )
        except TransactionCancelled:
            return False
        return True

    def get(self, delivery_id: str, *, with_attempts: bool = False) -> Delivery | None:
        if not with_attempts:
            item = self.table.get(_delivery_key(delivery_id), consistent=True)
            return delivery_from_item(item) if item else None
        query = partition_query(keys.delivery_pk(delivery_id), consistent=True)
        items = self.table.query_all(query)
        head = next((i for i in items if i["sk"] == keys.DELIVERY_SK), None)
        if head is None:
            return None
        delivery = delivery_from_item(head)
        attempts = {
            a.number: a
            for a in (
                attempt_from_item(i) for i in items if str(i["sk"]).startswith(keys.ATTEMPT_PREFIX)
            )
        }
        if delivery.success_attempt is not None:
            attempts.setdefault(delivery.success_attempt.number, delivery.success_attempt)
        return delivery.with_attempts([attempts[n] for n in sorted(attempts)])

    # The parts' calls, kept here for the callers that hold a DeliveryRepository (the
    # sender, the endpoint service, the unit tests' fakes): one object to pass around.
    def payloads(self, delivery_ids: Sequence[str]) -> dict[str, str]:
        return self.bodies.payloads(delivery_ids)

    def put_attempts(self, attempts: Sequence[Attempt]) -> None:
        self.attempts.put(attempts)

    def list_for_endpoint(
        self,
        endpoint_id: str,
        *,
        status: DeliveryStatus | None = None,
        page_size: int = 20,
        page_token: str | None = None,
    ) -> tuple[list[Delivery], str | None]:
        return self.listing.list_for_endpoint(
            endpoint_id, status=status, page_size=page_size, page_token=page_token
        )

    def recent_outcomes(self, endpoint_id: str, limit: int = 100) -> list[bool]:
        return self.listing.recent_outcomes(endpoint_id, limit)

    def claim(
        self, delivery_id: str, gen: int, *, now: float, lease_seconds: float
    ) -> Delivery | None:
        """Take the next attempt of a pending delivery for this queue message.

        Counts the attempt and leases the delivery until `now + lease_seconds` (epoch
        seconds; stored in epoch milliseconds), so a duplicate message cannot run the
        same attempt concurrently. None when the message is stale (another generation),
        the delivery is done or missing, or another attempt holds the lease.
        """
        update = Update().increment("attempts")
        lease = attribute(Delivery, "lease_until_ms")
        update.set(lease, int((now + lease_seconds) * 1000)).set("updatedAt", clock.now_iso())
        condition = (
            f"attribute_exists(pk) AND {update.name('gen')} = {update.value('gen', gen)} "
            f"AND {update.name('status')} = {update.value('pending', 'pending')} "
            f"AND {_unleased(update, int(now * 1000), 'now')}"
        )
        item = self.table.update(_delivery_key(delivery_id), update, condition=condition)
        return delivery_from_item(item) if item else None

    def finish_attempt(
        self,
        delivery_id: str,
        gen: int,
        *,
        status: DeliveryStatus,
        at: str,
        status_code: int | None,
        error: str | None,
        next_attempt_at: str | None,
        success: Attempt | None = None,
    ) -> bool:
        """Record an attempt's result on the delivery and release the lease.

        `success`: the successful attempt itself, stored on the head in this same write
        (no attempt item, no extra write unit).
        """
        update = Update().set("status", status).set("lastAttemptAt", at)
        if success is not None:
            update.set(
                attribute(Delivery, "success_attempt"),
                stored_value(success.model_dump(mode="json", by_alias=True), as_json=True),
            )
        update.set("updatedAt", clock.now_iso()).set("lastStatusCode", status_code)
        update.set("lastError", error).set("nextAttemptAt", next_attempt_at)
        _release(update)
        if status == "pending":
            _due_keys(update, delivery_id, next_attempt_at or at)
        else:
            _not_due(update)
        condition = f"{update.name('gen')} = {update.value('gen', gen)}"
        done = self.table.update(
            _delivery_key(delivery_id), update, condition=condition, return_new=False
        )
        return done is not None

    def mark_due(self, pending: Sequence[tuple[str, int]]) -> int:
        """Put these (delivery id, generation) in the due index (due now), for the sweeper:
        their queue messages could not be sent. How many were still pending at that
        generation.

        Dispatch writes a head without a due entry (SQS carries the first attempt, issue
        16): this is the fallback when SendMessage failed, one UpdateItem each.
        """
        marked, now = 0, clock.now_iso()
        for delivery_id, gen in pending:
            update = Update().set("updatedAt", now)
            _due_keys(update, delivery_id, now)
            condition = (
                f"attribute_exists(pk) AND {update.name('gen')} = {update.value('gen', gen)} "
                f"AND {update.name('status')} = {update.value('pending', 'pending')}"
            )
            done = self.table.update(
                _delivery_key(delivery_id), update, condition=condition, return_new=False
            )
            marked += done is not None
        return marked

    def mark_failed(self, delivery_id: str, gen: int, error: str) -> bool:
        """Give up on a pending delivery without an attempt (endpoint disabled or deleted)."""
        update = Update().set("status", "failed").set("lastError", error)
        update.set("updatedAt", clock.now_iso()).remove("nextAttemptAt")
        _release(update)
        _not_due(update)
        condition = (
            f"{update.name('gen')} = {update.value('gen', gen)} "
            f"AND #status = {update.value('pending', 'pending')}"
        )
        done = self.table.update(
            _delivery_key(delivery_id), update, condition=condition, return_new=False
        )
        return done is not None

    def requeue(
        self,
        delivery_id: str,
        *,
        expected_gen: int | None = None,
        only_unattempted: bool = False,
        statuses: Iterable[DeliveryStatus] | None = None,
        replay: bool = False,
        unleased_at_ms: int | None = None,
    ) -> Delivery | None:
        """Make a delivery pending under a new generation, to be enqueued again.

        Conditions (all optional): the generation is still `expected_gen`, no attempt was
        made yet, the status is one of `statuses`, no attempt holds a lease at
        `unleased_at_ms` (epoch ms). None when a condition failed. The delivery is due
        now in the sweeper's index.
        """
        now = clock.now_iso()
        update = Update().increment("gen").set("status", "pending")
        update.set("updatedAt", now).remove("nextAttemptAt")
        _release(update)
        _due_keys(update, delivery_id, now)
        if replay:
            update.increment("replays")
        conditions = ["attribute_exists(pk)"]
        if expected_gen is not None:
            conditions.append(f"#gen = {update.value('expected', expected_gen)}")
        if only_unattempted:
            attempts = update.name("attempts")
            conditions.append(
                f"(attribute_not_exists({attempts}) OR {attempts} = {update.value('zero', 0)})"
            )
        if statuses is not None:
            wanted = [update.value(f"st{i}", s) for i, s in enumerate(statuses)]
            conditions.append(f"#status IN ({', '.join(wanted)})")
        if unleased_at_ms is not None:
            conditions.append(_unleased(update, unleased_at_ms, "unleased"))
        item = self.table.update(
            _delivery_key(delivery_id), update, condition=" AND ".join(conditions)
        )
        return delivery_from_item(item) if item else None

    def due(self, *, due_before: str) -> Iterator[DueDelivery]:
        return self.sweep.due(due_before=due_before)

    def unqueued(self) -> Iterator[DueDelivery]:
        return self.sweep.unqueued()


class WebhookRepository:
    """The webhook data of the table: `endpoints` and `deliveries` (with their attempts)."""

    def __init__(self, table: Table, *, retention_days: int) -> None:
        self.endpoints = EndpointRepository(table)
        self.deliveries = DeliveryRepository(table, retention_days)
