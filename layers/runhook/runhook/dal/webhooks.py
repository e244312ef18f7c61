"""Webhook endpoints, deliveries and attempts in DynamoDB.

Access patterns (keys are built in runhook.keys):

| pattern | key / index |
|---|---|
| an org's endpoints (dispatch: one Query per event) | `ORG#<org>`, sk begins_with `ENDPOINT#` |
| one endpoint | `ORG#<org>` / `ENDPOINT#<id>` |
| a delivery and its attempts (one Query) | `DELIVERY#<id>` / `DELIVERY`, `ATTEMPT#<nnn>` |
| an endpoint's deliveries, newest first (status filter) | GSI1 `ENDPOINT#<id>`, `<createdAt>#<delivery>` |
| an endpoint's recent attempts (success rate) | GSI1 `ENDPOINT#<id>#ATTEMPTS`, `<at>#<delivery>#<n>` |

Deliveries and attempts carry the table's TTL attribute `expiresAt`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from runhook import clock, keys
from runhook.dal.dynamo import (
    batch_write,
    ddb,
    dumps,
    error_code,
    from_item,
    get,
    loads,
    query,
    query_all,
    table_name,
    to_item,
    to_values,
    translate_errors,
)
from runhook.dal.runs import decode_token, encode_token
from runhook.settings import get_settings
from runhook.webhooks.models import Attempt, Delivery, DeliveryStatus, Endpoint

CONDITION_FAILED = "ConditionalCheckFailedException"

_ENDPOINT_ATTRS: dict[str, str] = {
    "id": "id",
    "org_id": "orgId",
    "url": "url",
    "secret": "secret",
    "created_at": "createdAt",
    "updated_at": "updatedAt",
    "events": "events",
    "task_id": "taskId",
    "description": "description",
    "enabled": "enabled",
    "previous_secret": "previousSecret",
    "previous_secret_expires_at": "previousSecretExpiresAt",
    "secret_rotated_at": "secretRotatedAt",
    "consecutive_failures": "consecutiveFailures",
    "last_success_at": "lastSuccessAt",
    "last_failure_at": "lastFailureAt",
    "failing_since": "failingSince",
    "disabled_reason": "disabledReason",
    "disabled_at": "disabledAt",
}
_DELIVERY_ATTRS: dict[str, str] = {
    "id": "id",
    "org_id": "orgId",
    "endpoint_id": "endpointId",
    "event_type": "eventType",
    "webhook_id": "webhookId",
    "payload": "payload",
    "created_at": "createdAt",
    "status": "status",
    "event_id": "eventId",
    "run_id": "runId",
    "task_id": "taskId",
    "sequence": "sequence",
    "attempts": "attempts",
    "gen": "gen",
    "updated_at": "updatedAt",
    "last_attempt_at": "lastAttemptAt",
    "next_attempt_at": "nextAttemptAt",
    "last_status_code": "lastStatusCode",
    "last_error": "lastError",
    "lease_until": "leaseUntil",
    "replays": "replays",
    "test": "test",
}
_ATTEMPT_ATTRS: dict[str, str] = {
    "delivery_id": "deliveryId",
    "endpoint_id": "endpointId",
    "number": "number",
    "at": "at",
    "ok": "ok",
    "status_code": "statusCode",
    "latency_ms": "latencyMs",
    "error": "error",
    "response_excerpt": "responseExcerpt",
    "next_attempt_at": "nextAttemptAt",
}
# What dispatch reads of an endpoint: never the secrets.
_ROUTING_PROJECTION = ["id", "url", "events", "taskId", "enabled"]


# -- helpers -------------------------------------------------------------------------------


def _expires_at() -> int:
    return clock.epoch() + get_settings().delivery_retention_days * 86400


def _from_attrs(item: Mapping[str, Any], attrs: Mapping[str, str]) -> dict[str, Any]:
    return {field: item[attr] for field, attr in attrs.items() if attr in item}


def _to_attrs(obj: Any, attrs: Mapping[str, str]) -> dict[str, Any]:
    return {attr: getattr(obj, field) for field, attr in attrs.items()}


class _Update:
    """Builds an UpdateExpression with placeholders for every attribute name."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.values: dict[str, Any] = {}
        self._set: list[str] = []
        self._remove: list[str] = []
        self._add: list[str] = []

    def name(self, attr: str) -> str:
        placeholder = f"#{attr}"
        self.names[placeholder] = attr
        return placeholder

    def value(self, key: str, value: Any) -> str:
        placeholder = f":{key}"
        self.values[placeholder] = value
        return placeholder

    def set(self, attr: str, value: Any) -> _Update:
        if value is None:
            return self.remove(attr)
        self._set.append(f"{self.name(attr)} = {self.value(attr, value)}")
        return self

    def set_raw(self, expression: str) -> _Update:
        self._set.append(expression)
        return self

    def remove(self, attr: str) -> _Update:
        self._remove.append(self.name(attr))
        return self

    def add(self, attr: str, value: int) -> _Update:
        self._add.append(f"{self.name(attr)} {self.value('add_' + attr, value)}")
        return self

    def expression(self) -> str:
        parts = []
        if self._set:
            parts.append("SET " + ", ".join(self._set))
        if self._remove:
            parts.append("REMOVE " + ", ".join(self._remove))
        if self._add:
            parts.append("ADD " + ", ".join(self._add))
        return " ".join(parts)

    def run(
        self, key: dict[str, str], condition: str | None = None, *, return_new: bool = True
    ) -> dict[str, Any] | None:
        """Apply; None when the condition failed."""
        kwargs: dict[str, Any] = {
            "TableName": table_name(),
            "Key": to_item(key),
            "UpdateExpression": self.expression(),
            "ExpressionAttributeNames": self.names,
        }
        if self.values:
            kwargs["ExpressionAttributeValues"] = to_values(self.values)
        if condition:
            kwargs["ConditionExpression"] = condition
        if return_new:
            kwargs["ReturnValues"] = "ALL_NEW"
        try:
            with translate_errors():
                resp = ddb().update_item(**kwargs)
        except ClientError as exc:
            if error_code(exc) == CONDITION_FAILED:
                return None
            raise
        return from_item(resp["Attributes"]) if return_new else {}


def _put(item: dict[str, Any], condition: str | None = None) -> bool:
    kwargs: dict[str, Any] = {"TableName": table_name(), "Item": to_item(item)}
    if condition:
        kwargs["ConditionExpression"] = condition
    try:
        with translate_errors():
            ddb().put_item(**kwargs)
    except ClientError as exc:
        if error_code(exc) == CONDITION_FAILED:
            return False
        raise
    return True


# -- endpoints -----------------------------------------------------------------------------


def endpoint_from_item(item: Mapping[str, Any]) -> Endpoint:
    data = _from_attrs(item, _ENDPOINT_ATTRS)
    data["events"] = loads(data.get("events"))
    data["enabled"] = bool(data.get("enabled", True))
    data["consecutive_failures"] = int(data.get("consecutive_failures", 0))
    return Endpoint(**data)


def _endpoint_key(org_id: str, endpoint_id: str) -> dict[str, str]:
    return {"pk": keys.org_pk(org_id), "sk": keys.endpoint_sk(endpoint_id)}


def put_endpoint(endpoint: Endpoint) -> None:
    item = {
        **_endpoint_key(endpoint.org_id, endpoint.id),
        "type": "endpoint",
        **_to_attrs(endpoint, _ENDPOINT_ATTRS),
        "events": dumps(endpoint.events) if endpoint.events else None,
    }
    _put(item, "attribute_not_exists(pk)")


def get_endpoint(org_id: str, endpoint_id: str) -> Endpoint | None:
    item = get(keys.org_pk(org_id), keys.endpoint_sk(endpoint_id), consistent=True)
    return endpoint_from_item(item) if item else None


def list_endpoints(org_id: str) -> list[Endpoint]:
    items = query_all(
        KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
        ExpressionAttributeValues=to_values(
            {":pk": keys.org_pk(org_id), ":prefix": keys.ENDPOINT_PREFIX}
        ),
        ConsistentRead=True,
    )
    return sorted((endpoint_from_item(i) for i in items), key=lambda e: e.created_at)


@dataclass(frozen=True)
class Route:
    """What dispatch needs of an endpoint."""

    id: str
    url: str
    events: list[str] | None
    task_id: str | None
    enabled: bool


def routing_endpoints(org_id: str) -> list[Route]:
    """The org's endpoints for dispatch: one Query, secrets not read."""
    items = query_all(
        KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
        ExpressionAttributeValues=to_values(
            {":pk": keys.org_pk(org_id), ":prefix": keys.ENDPOINT_PREFIX}
        ),
        ProjectionExpression=", ".join(f"#{a}" for a in _ROUTING_PROJECTION),
        ExpressionAttributeNames={f"#{a}": a for a in _ROUTING_PROJECTION},
    )
    return [
        Route(
            id=str(i["id"]),
            url=str(i.get("url", "")),
            events=loads(i.get("events")),
            task_id=i.get("taskId"),
            enabled=bool(i.get("enabled", True)),
        )
        for i in items
    ]


def update_endpoint(
    org_id: str, endpoint_id: str, changes: Mapping[str, Any], *, condition: str | None = None
) -> Endpoint | None:
    """Set (None: remove) endpoint fields by model name; None when it does not exist."""
    update = _Update()
    for field, value in changes.items():
        attr = _ENDPOINT_ATTRS[field]
        if field == "events":
            value = dumps(value) if value else None
        update.set(attr, value)
    update.set("updatedAt", clock.now_iso())
    cond = "attribute_exists(pk)" + (f" AND ({condition})" if condition else "")
    item = update.run(_endpoint_key(org_id, endpoint_id), cond)
    return endpoint_from_item(item) if item else None


def delete_endpoint(org_id: str, endpoint_id: str) -> bool:
    try:
        with translate_errors():
            ddb().delete_item(
                TableName=table_name(),
                Key=to_item(_endpoint_key(org_id, endpoint_id)),
                ConditionExpression="attribute_exists(pk)",
            )
    except ClientError as exc:
        if error_code(exc) == CONDITION_FAILED:
            return False
        raise
    return True


def record_health(
    org_id: str,
    endpoint_id: str,
    outcomes: Sequence[tuple[str, bool]],
) -> Endpoint | None:
    """Fold a batch's attempt outcomes `(at, ok)` into the endpoint's health counters.

    Atomic per call, without a read: a success resets the failure streak, failures
    extend it (`failingSince` keeps the first failure of the streak).
    """
    if not outcomes:
        return None
    ordered = sorted(outcomes)
    successes = [at for at, ok in ordered if ok]
    update = _Update()
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
        update.set_raw(f"{update.name('failingSince')} = if_not_exists(failingSince, {first})")
    cond = "attribute_exists(pk)" + (f" AND ({condition})" if condition else "")
    item = update.run(_endpoint_key(org_id, endpoint_id), cond)
    return endpoint_from_item(item) if item else None


def disable_endpoint(
    org_id: str, endpoint_id: str, reason: str, *, failing_since: str | None = None
) -> Endpoint | None:
    """Disable an enabled endpoint; None when it was not enabled (or the streak ended)."""
    now = clock.now_iso()
    update = _Update().set("enabled", False).set("disabledReason", reason).set("disabledAt", now)
    condition = "enabled = :yes"
    update.value("yes", True)
    if failing_since is not None:
        condition += " AND failingSince = :since"
        update.value("since", failing_since)
    return update_endpoint_raw(org_id, endpoint_id, update, condition)


def update_endpoint_raw(
    org_id: str, endpoint_id: str, update: _Update, condition: str | None
) -> Endpoint | None:
    update.set("updatedAt", clock.now_iso())
    cond = "attribute_exists(pk)" + (f" AND {condition}" if condition else "")
    item = update.run(_endpoint_key(org_id, endpoint_id), cond)
    return endpoint_from_item(item) if item else None


# -- deliveries ----------------------------------------------------------------------------


def delivery_from_item(item: Mapping[str, Any]) -> Delivery:
    data = _from_attrs(item, _DELIVERY_ATTRS)
    for field in ("attempts", "gen", "replays"):
        data[field] = int(data.get(field, 0))
    for field in ("sequence", "last_status_code"):
        if data.get(field) is not None:
            data[field] = int(data[field])
    if data.get("lease_until") is not None:
        data["lease_until"] = int(data["lease_until"]) / 1000  # stored in epoch ms
    data["test"] = bool(data.get("test", False))
    return Delivery(**data)


def _delivery_key(delivery_id: str) -> dict[str, str]:
    return {"pk": keys.delivery_pk(delivery_id), "sk": keys.DELIVERY_SK}


def delivery_item(delivery: Delivery) -> dict[str, Any]:
    item = {
        **_delivery_key(delivery.id),
        "type": "delivery",
        "gsi1pk": keys.endpoint_deliveries_gsi1(delivery.endpoint_id),
        "gsi1sk": keys.created_sort(delivery.created_at, delivery.id),
        "expiresAt": _expires_at(),
        **_to_attrs(delivery, _DELIVERY_ATTRS),
    }
    item["test"] = delivery.test or None
    item["leaseUntil"] = None  # only `claim` leases
    return item


def create_delivery(delivery: Delivery) -> bool:
    """Put a new delivery; False when one with this id exists already."""
    return _put(delivery_item(delivery), "attribute_not_exists(pk)")


def create_deliveries(deliveries: Sequence[Delivery]) -> bool:
    """Put new deliveries in one transaction (≤ 100); False when any exists already.

    The common case of dispatch (one round trip for all of an event's endpoints);
    on False the caller falls back to one conditional put per delivery.
    """
    if not deliveries:
        return True
    if len(deliveries) > 100:
        return False
    items = [
        {
            "Put": {
                "TableName": table_name(),
                "Item": to_item(delivery_item(d)),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }
        for d in deliveries
    ]
    if len(items) == 1:
        return create_delivery(deliveries[0])
    try:
        with translate_errors():
            ddb().transact_write_items(TransactItems=items)
    except ClientError as exc:
        if error_code(exc) == "TransactionCanceledException":
            return False
        raise
    return True


def get_delivery(delivery_id: str, *, with_attempts: bool = False) -> Delivery | None:
    if not with_attempts:
        item = get(keys.delivery_pk(delivery_id), keys.DELIVERY_SK, consistent=True)
        return delivery_from_item(item) if item else None
    items = query_all(
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues=to_values({":pk": keys.delivery_pk(delivery_id)}),
        ConsistentRead=True,
    )
    head = next((i for i in items if i["sk"] == keys.DELIVERY_SK), None)
    if head is None:
        return None
    attempts = [attempt_from_item(i) for i in items if str(i["sk"]).startswith("ATTEMPT#")]
    return delivery_from_item(head).with_attempts(attempts)


def claim(delivery_id: str, gen: int, *, now: float, lease_seconds: float) -> Delivery | None:
    """Take the next attempt of a pending delivery for this queue message.

    Counts the attempt and leases the delivery, so a duplicate message cannot run
    the same attempt concurrently. None when the message is stale (another
    generation), the delivery is done or missing, or another attempt holds the lease.
    """
    update = _Update()
    zero = update.value("zero", 0)
    one = update.value("one", 1)
    update.set_raw(f"{update.name('attempts')} = if_not_exists(#attempts, {zero}) + {one}")
    # Epoch milliseconds (DynamoDB numbers are decimals; ints keep boto3 happy).
    update.set("leaseUntil", int((now + lease_seconds) * 1000))
    update.set("updatedAt", clock.now_iso())
    update.value("gen", gen)
    update.value("pending", "pending")
    update.value("now", int(now * 1000))
    update.name("status")
    condition = (
        "attribute_exists(pk) AND #gen = :gen AND #status = :pending "
        "AND (attribute_not_exists(#leaseUntil) OR #leaseUntil < :now)"
    )
    update.name("gen")
    item = update.run(_delivery_key(delivery_id), condition)
    return delivery_from_item(item) if item else None


def finish_attempt(
    delivery_id: str,
    gen: int,
    *,
    status: DeliveryStatus,
    at: str,
    status_code: int | None,
    error: str | None,
    next_attempt_at: str | None,
) -> bool:
    """Record an attempt's result on the delivery and release the lease."""
    update = _Update()
    update.set("status", status).set("lastAttemptAt", at).set("updatedAt", clock.now_iso())
    update.set("lastStatusCode", status_code).set("lastError", error)
    update.set("nextAttemptAt", next_attempt_at).remove("leaseUntil")
    update.value("gen", gen)
    update.name("gen")
    return update.run(_delivery_key(delivery_id), "#gen = :gen", return_new=False) is not None


def mark_failed(delivery_id: str, gen: int, error: str) -> bool:
    """Give up on a pending delivery without an attempt (endpoint disabled or deleted)."""
    update = _Update().set("status", "failed").set("lastError", error)
    update.set("updatedAt", clock.now_iso()).remove("nextAttemptAt").remove("leaseUntil")
    update.value("gen", gen)
    update.value("pending", "pending")
    update.name("gen")
    condition = "#gen = :gen AND #status = :pending"
    return update.run(_delivery_key(delivery_id), condition, return_new=False) is not None


def requeue(
    delivery_id: str,
    *,
    expected_gen: int | None = None,
    only_unattempted: bool = False,
    statuses: Iterable[DeliveryStatus] | None = None,
    replay: bool = False,
) -> Delivery | None:
    """Make a delivery pending under a new generation, to be enqueued again.

    Conditions (all optional): the generation is still `expected_gen`, no attempt was
    made yet, the status is one of `statuses`. None when a condition failed.
    """
    update = _Update()
    one = update.value("one", 1)
    zero = update.value("zero", 0)
    update.set_raw(f"{update.name('gen')} = if_not_exists(#gen, {zero}) + {one}")
    update.set("status", "pending").set("updatedAt", clock.now_iso())
    update.remove("leaseUntil").remove("nextAttemptAt")
    if replay:
        update.set_raw(f"{update.name('replays')} = if_not_exists(#replays, {zero}) + {one}")
    conditions = ["attribute_exists(pk)"]
    if expected_gen is not None:
        update.value("expected", expected_gen)
        conditions.append("#gen = :expected")
    if only_unattempted:
        update.name("attempts")
        conditions.append("(attribute_not_exists(#attempts) OR #attempts = :zero)")
    if statuses is not None:
        wanted = list(statuses)
        placeholders = [update.value(f"st{i}", s) for i, s in enumerate(wanted)]
        conditions.append(f"#status IN ({', '.join(placeholders)})")
    item = update.run(_delivery_key(delivery_id), " AND ".join(conditions))
    return delivery_from_item(item) if item else None


DELIVERY_TOKEN_FIELDS = {"pk", "sk", "gsi1pk", "gsi1sk"}


def list_deliveries(
    endpoint_id: str,
    *,
    status: DeliveryStatus | None = None,
    page_size: int = 20,
    page_token: str | None = None,
    since: str | None = None,
    until: str | None = None,
) -> tuple[list[Delivery], str | None]:
    """An endpoint's deliveries, newest first (GSI1), with a status filter and a cursor."""
    gsi1pk = keys.endpoint_deliveries_gsi1(endpoint_id)
    values: dict[str, Any] = {":pk": gsi1pk}
    condition = "gsi1pk = :pk"
    if since and until:
        condition += " AND gsi1sk BETWEEN :lo AND :hi"
        values.update({":lo": since, ":hi": until + "~"})
    elif since:
        condition += " AND gsi1sk >= :lo"
        values[":lo"] = since
    elif until:
        condition += " AND gsi1sk <= :hi"
        values[":hi"] = until + "~"
    kwargs: dict[str, Any] = {
        "IndexName": "gsi1",
        "KeyConditionExpression": condition,
        "ScanIndexForward": False,
        "ExpressionAttributeValues": values,
    }
    if status:
        kwargs["FilterExpression"] = "#status = :status"
        kwargs["ExpressionAttributeNames"] = {"#status": "status"}
        values[":status"] = status
    if page_token:
        start = decode_token(page_token, expected={"gsi1pk": gsi1pk}, fields=DELIVERY_TOKEN_FIELDS)
        kwargs["ExclusiveStartKey"] = to_item(start)
    kwargs["ExpressionAttributeValues"] = to_values(values)
    out: list[Delivery] = []
    last: dict[str, Any] | None = None
    for _ in range(10):  # bounded reads per page when a filter drops most items
        kwargs["Limit"] = page_size - len(out) if not status else max(page_size * 2, 50)
        items, last = query(**kwargs)
        for item in items:
            out.append(delivery_from_item(item))
            if len(out) == page_size:
                # Resume right after the last item returned, not after what was skipped.
                last = {k: item[k] for k in DELIVERY_TOKEN_FIELDS}
                break
        if len(out) >= page_size or not last:
            break
        kwargs["ExclusiveStartKey"] = to_item(last)
    token = encode_token({k: str(last[k]) for k in DELIVERY_TOKEN_FIELDS}) if last else None
    return out, token


# -- attempts ------------------------------------------------------------------------------


def attempt_from_item(item: Mapping[str, Any]) -> Attempt:
    data = _from_attrs(item, _ATTEMPT_ATTRS)
    data["number"] = int(data["number"])
    data["ok"] = bool(data.get("ok"))
    for field in ("status_code", "latency_ms"):
        if data.get(field) is not None:
            data[field] = int(data[field])
    return Attempt(**data)


def attempt_item(attempt: Attempt) -> dict[str, Any]:
    return {
        "pk": keys.delivery_pk(attempt.delivery_id),
        "sk": keys.attempt_sk(attempt.number),
        "type": "attempt",
        "gsi1pk": keys.endpoint_attempts_gsi1(attempt.endpoint_id),
        "gsi1sk": f"{attempt.at}#{attempt.delivery_id}#{attempt.number:03d}",
        "expiresAt": _expires_at(),
        **_to_attrs(attempt, _ATTEMPT_ATTRS),
    }


def put_attempts(attempts: Sequence[Attempt]) -> None:
    """BatchWriteItem in chunks of 25, retrying unprocessed items."""
    requests = [{"PutRequest": {"Item": to_item(attempt_item(a))}} for a in attempts]
    batch_write(requests)


def recent_outcomes(endpoint_id: str, limit: int = 100) -> list[bool]:
    """Success flags of the endpoint's most recent attempts, newest first."""
    items, _ = query(
        IndexName="gsi1",
        KeyConditionExpression="gsi1pk = :pk",
        ExpressionAttributeValues=to_values({":pk": keys.endpoint_attempts_gsi1(endpoint_id)}),
        ProjectionExpression="ok",
        ScanIndexForward=False,
        Limit=limit,
    )
    return [bool(i.get("ok")) for i in items]
