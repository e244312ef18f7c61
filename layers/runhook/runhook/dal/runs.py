"""Runs, their idempotency claims and their log entries in DynamoDB.

A run's status only moves through `transition`, a conditional update that also bumps
the run's `sequence`; that is what makes retried steps and racing cancels harmless.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Sequence
from typing import Any

from botocore.exceptions import ClientError

from runhook import clock, keys
from runhook.dal.dynamo import (
    batch_write,
    cancellation_reasons,
    ddb,
    dumps,
    error_code,
    from_item,
    get,
    loads,
    query,
    table_name,
    to_item,
    to_values,
    translate_errors,
)
from runhook.errors import InvalidRequest
from runhook.models import LogEntry, Run, RunError, RunStatus, Waiting

_JSON_FIELDS = {"inputs", "outputs", "error", "waiting"}
_RUN_ATTRS = {
    "id": "id",
    "org_id": "orgId",
    "task_id": "taskId",
    "task_version": "taskVersion",
    "status": "status",
    "trigger_type": "triggerType",
    "created_at": "createdAt",
    "started_at": "startedAt",
    "finished_at": "finishedAt",
    "current_step": "currentStep",
    "steps_total": "stepsTotal",
    "inputs": "inputs",
    "outputs": "outputs",
    "error": "error",
    "cancel_reason": "cancelReason",
    "waiting": "waiting",
    "client_request_id": "clientRequestId",
    "sequence": "sequence",
    "deadline": "deadline",
}


class IdempotencyConflict(Exception):
    """Another request already claimed this (task, clientRequestId); it holds `run_id`."""

    def __init__(self, run_id: str) -> None:
        super().__init__(run_id)
        self.run_id = run_id


def run_from_item(item: dict[str, Any]) -> Run:
    data: dict[str, Any] = {}
    for field, attr in _RUN_ATTRS.items():
        if attr in item:
            value = item[attr]
            data[field] = loads(value) if field in _JSON_FIELDS else value
    return Run.model_validate(data)


def _attr_value(field: str, value: Any) -> Any:
    if field in _JSON_FIELDS:
        if hasattr(value, "model_dump"):
            value = value.model_dump()
        return dumps(value)
    if isinstance(value, RunStatus):
        return value.value
    return value


def run_to_item(run: Run) -> dict[str, Any]:
    data: dict[str, Any] = {
        "pk": keys.run_pk(run.id),
        "sk": keys.RUN_SK,
        "type": "run",
        "gsi1pk": keys.task_runs_gsi1(run.task_id),
        "gsi1sk": keys.created_sort(run.created_at, run.id),
        "gsi2pk": keys.org_runs_gsi2(run.org_id),
        "gsi2sk": keys.created_sort(run.created_at, run.id),
    }
    for field, attr in _RUN_ATTRS.items():
        value = getattr(run, field)
        if value is not None:
            data[attr] = _attr_value(field, value)
    return data


def create_run(run: Run, extra_writes: Sequence[dict[str, Any]] = ()) -> None:
    """Write the run and its idempotency claim in one transaction.

    `extra_writes` are further TransactItems (the usage counter). Raises
    IdempotencyConflict when the claim exists already.
    """
    items: list[dict[str, Any]] = [
        {
            "Put": {
                "TableName": table_name(),
                "Item": to_item(run_to_item(run)),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }
    ]
    if run.client_request_id:
        items.append(
            {
                "Put": {
                    "TableName": table_name(),
                    "Item": to_item(
                        {
                            "pk": keys.idempotency_pk(run.task_id, run.client_request_id),
                            "sk": keys.IDEMPOTENCY_SK,
                            "runId": run.id,
                            "createdAt": run.created_at,
                        }
                    ),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
        )
    items.extend(extra_writes)
    try:
        with translate_errors():
            ddb().transact_write_items(TransactItems=items)
    except ClientError as exc:
        if error_code(exc) != "TransactionCanceledException":
            raise
        reasons = cancellation_reasons(exc)
        if run.client_request_id and len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed":
            claim = get(
                keys.idempotency_pk(run.task_id, run.client_request_id),
                keys.IDEMPOTENCY_SK,
                consistent=True,
            )
            if claim:
                raise IdempotencyConflict(str(claim["runId"])) from exc
        raise TransactionRefused(reasons) from exc


class TransactionRefused(Exception):
    """A transaction condition other than the idempotency claim failed."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__(reasons)
        self.reasons = reasons


def get_run(run_id: str, *, consistent: bool = True) -> Run | None:
    item = get(keys.run_pk(run_id), keys.RUN_SK, consistent=consistent)
    return run_from_item(item) if item else None


def get_run_item(run_id: str) -> dict[str, Any] | None:
    """The raw item, with the engine's private attributes (task token, step state)."""
    return get(keys.run_pk(run_id), keys.RUN_SK, consistent=True)


def transition(
    run_id: str,
    *,
    allowed_from: Iterable[RunStatus],
    changes: dict[str, Any],
    remove: Iterable[str] = (),
    raw: dict[str, Any] | None = None,
    condition: str | None = None,
    condition_values: dict[str, Any] | None = None,
) -> Run | None:
    """Apply `changes` (Run field names) if the run's status is in `allowed_from`.

    Bumps `sequence`; returns the new run, or None when the condition did not hold.
    `raw` sets private attributes by their item names; `remove` drops fields.
    """
    names: dict[str, str] = {"#status": "status", "#seq": "sequence"}
    values: dict[str, Any] = {":one": 1}
    sets: list[str] = []
    for i, (field, value) in enumerate(changes.items()):
        attr = _RUN_ATTRS[field]
        names[f"#c{i}"] = attr
        values[f":c{i}"] = _attr_value(field, value)
        sets.append(f"#c{i} = :c{i}")
    for i, (attr, value) in enumerate((raw or {}).items()):
        names[f"#r{i}"] = attr
        values[f":r{i}"] = value
        sets.append(f"#r{i} = :r{i}")
    removes = []
    for i, field in enumerate(remove):
        names[f"#x{i}"] = _RUN_ATTRS.get(field, field)
        removes.append(f"#x{i}")
    statuses = sorted(s.value for s in allowed_from)
    placeholders = []
    for i, status in enumerate(statuses):
        values[f":s{i}"] = status
        placeholders.append(f":s{i}")
    cond = f"#status IN ({', '.join(placeholders)})"
    if condition:
        cond = f"({cond}) AND ({condition})"
        values.update(condition_values or {})
    expression = "ADD #seq :one"
    if sets:
        expression = f"SET {', '.join(sets)} {expression}"
    if removes:
        expression += f" REMOVE {', '.join(removes)}"
    try:
        with translate_errors():
            resp = ddb().update_item(
                TableName=table_name(),
                Key=to_item({"pk": keys.run_pk(run_id), "sk": keys.RUN_SK}),
                UpdateExpression=expression,
                ConditionExpression=cond,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=to_values(values),
                ReturnValues="ALL_NEW",
            )
    except ClientError as exc:
        if error_code(exc) == "ConditionalCheckFailedException":
            return None
        raise
    return run_from_item(from_item(resp["Attributes"]))


def set_private(run_id: str, attrs: dict[str, Any]) -> None:
    """Set engine-private attributes on the run item without touching its status."""
    names = {f"#a{i}": k for i, k in enumerate(attrs)}
    values = {f":a{i}": v for i, v in enumerate(attrs.values())}
    with translate_errors():
        ddb().update_item(
            TableName=table_name(),
            Key=to_item({"pk": keys.run_pk(run_id), "sk": keys.RUN_SK}),
            UpdateExpression="SET " + ", ".join(f"#a{i} = :a{i}" for i in range(len(attrs))),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=to_values(values),
        )


# --- lists -------------------------------------------------------------------------------


def encode_token(key: dict[str, Any]) -> str:
    raw = dumps(key).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str, *, expected: dict[str, str], fields: set[str]) -> dict[str, Any]:
    """Decode a page token and check it belongs to this listing (else 400)."""
    try:
        padded = token + "=" * (-len(token) % 4)
        key = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidRequest("invalid_page_token") from exc
    if (
        not isinstance(key, dict)
        or set(key) != fields
        or not all(isinstance(v, str) and len(v) < 512 for v in key.values())
        or any(key.get(k) != v for k, v in expected.items())
    ):
        raise InvalidRequest("invalid_page_token")
    return key


def list_task_runs(task_id: str, limit: int = 50) -> list[Run]:
    items, _ = query(
        IndexName="gsi1",
        KeyConditionExpression="gsi1pk = :pk",
        ExpressionAttributeValues=to_values({":pk": keys.task_runs_gsi1(task_id)}),
        ScanIndexForward=False,
        Limit=limit,
    )
    return [run_from_item(i) for i in items]


def list_org_runs(
    org_id: str,
    *,
    page_size: int,
    page_token: str | None,
    status: str | None = None,
    task_id: str | None = None,
    trigger_type: str | None = None,
    created_after: str | None = None,
    created_before: str | None = None,
    max_queries: int = 10,
) -> tuple[list[Run], str | None]:
    """The organization's runs, newest first, filtered; one index Query per page (or a few)."""
    if task_id:
        index, pk_attr, sk_attr, pk_value = "gsi1", "gsi1pk", "gsi1sk", keys.task_runs_gsi1(task_id)
    else:
        index, pk_attr, sk_attr, pk_value = "gsi2", "gsi2pk", "gsi2sk", keys.org_runs_gsi2(org_id)
    values: dict[str, Any] = {":pk": pk_value}
    key_condition = f"{pk_attr} = :pk"
    if created_after and created_before:
        key_condition += f" AND {sk_attr} BETWEEN :lo AND :hi"
        values.update({":lo": created_after, ":hi": created_before + "\uffff"})
    elif created_after:
        key_condition += f" AND {sk_attr} > :lo"
        values[":lo"] = created_after
    elif created_before:
        key_condition += f" AND {sk_attr} < :hi"
        values[":hi"] = created_before
    filters = ["orgId = :org"]
    values[":org"] = org_id
    names: dict[str, str] = {}
    if status:
        filters.append("#status = :status")
        names["#status"] = "status"
        values[":status"] = status
    if trigger_type:
        filters.append("triggerType = :trigger")
        values[":trigger"] = trigger_type
    key_fields = {"pk", "sk", pk_attr, sk_attr}
    kwargs: dict[str, Any] = {
        "IndexName": index,
        "KeyConditionExpression": key_condition,
        "FilterExpression": " AND ".join(filters),
        "ExpressionAttributeValues": to_values(values),
        "ScanIndexForward": False,
    }
    if names:
        kwargs["ExpressionAttributeNames"] = names
    if page_token:
        start = decode_token(page_token, expected={pk_attr: pk_value}, fields=key_fields)
        kwargs["ExclusiveStartKey"] = to_item(start)
    runs: list[Run] = []
    raw_items: list[dict[str, Any]] = []
    more = False
    for _ in range(max_queries):
        kwargs["Limit"] = max(page_size - len(runs), 1) * (4 if len(filters) > 1 else 1)
        items, last = query(**kwargs)
        for position, item in enumerate(items):
            if len(runs) == page_size:
                more = True
                break
            runs.append(run_from_item(item))
            raw_items.append(item)
            if len(runs) == page_size and position < len(items) - 1:
                more = True
        more = more or last is not None
        if len(runs) >= page_size or not last:
            break
        kwargs["ExclusiveStartKey"] = to_item({k: last[k] for k in key_fields})
    token = None
    if more and raw_items:
        token = encode_token({k: raw_items[-1][k] for k in key_fields})
    elif more and last:  # the filter matched nothing within max_queries: resume from there
        token = encode_token({k: last[k] for k in key_fields})
    return runs, token


# --- logs --------------------------------------------------------------------------------


def append_logs(
    run_id: str,
    entries: Sequence[LogEntry],
    ttl_days: int,
    extra_requests: Sequence[dict[str, Any]] = (),
) -> None:
    """Write log entries (BatchWriteItem, 25 at a time; unprocessed items retried).

    `extra_requests` are further PutRequests for the same table written in the same
    batches (the engine stores a step's result with its log lines in one call).
    """
    expires = clock.epoch() + ttl_days * 86400
    requests = [*extra_requests] + [
        {
            "PutRequest": {
                "Item": to_item(
                    {
                        "pk": keys.run_pk(run_id),
                        "sk": keys.log_sk(e.id),
                        "type": "log",
                        "id": e.id,
                        "timestamp": e.timestamp,
                        "level": e.level,
                        "message": e.message,
                        "nodeId": e.nodeId,
                        "expiresAt": expires,
                    }
                )
            }
        }
        for e in entries
    ]
    batch_write(requests)


def list_logs(run_id: str, *, after: str | None, limit: int) -> tuple[list[LogEntry], str | None]:
    kwargs: dict[str, Any] = {
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
        "ExpressionAttributeValues": to_values(
            {":pk": keys.run_pk(run_id), ":prefix": keys.LOG_PREFIX}
        ),
        "ScanIndexForward": True,
        "Limit": limit,
        "ConsistentRead": True,
    }
    if after:
        kwargs["ExclusiveStartKey"] = to_item({"pk": keys.run_pk(run_id), "sk": keys.log_sk(after)})
    items, last = query(**kwargs)
    entries = [
        LogEntry(
            id=i["id"],
            timestamp=i.get("timestamp"),
            level=i["level"],
            message=i.get("message", ""),
            nodeId=i.get("nodeId"),
        )
        for i in items
    ]
    return entries, (entries[-1].id if last and entries else None)


__all__ = [
    "IdempotencyConflict",
    "RunError",
    "TransactionRefused",
    "Waiting",
    "append_logs",
    "create_run",
    "get_run",
    "list_logs",
    "list_org_runs",
    "list_task_runs",
    "transition",
]
