"""Saved tasks: a head item (latest version) plus one immutable item per version.

Runs record the version they started with and read that version's item, so an update
never changes a run in flight.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from runhook import keys
from runhook.dal.dynamo import (
    ddb,
    decode_json_item,
    dumps,
    error_code,
    get,
    query,
    table_name,
    to_item,
    translate_errors,
)
from runhook.dal.runs import decode_token, encode_token
from runhook.models import Task


def _task(item: dict[str, Any]) -> Task:
    return Task(
        id=item["id"],
        org_id=item["orgId"],
        version=int(item["version"]),
        created_at=item["createdAt"],
        updated_at=item["updatedAt"],
        definition=decode_json_item(item["definition"]),
    )


def put_new_version(task: Task, *, expected_version: int | None) -> bool:
    """Write version `task.version` and move the head to it; False if someone else moved it."""
    head = {
        "pk": keys.task_pk(task.id),
        "sk": keys.TASK_SK,
        "type": "task",
        "id": task.id,
        "orgId": task.org_id,
        "version": task.version,
        "createdAt": task.created_at,
        "updatedAt": task.updated_at,
        "definition": dumps(task.definition),
        "gsi1pk": keys.org_tasks_gsi1(task.org_id),
        "gsi1sk": keys.created_sort(task.created_at, task.id),
    }
    version_item = {k: v for k, v in head.items() if not k.startswith("gsi")}
    version_item.update({"sk": keys.task_version_sk(task.version), "type": "task_version"})
    if expected_version is None:
        head_condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(pk)"}
    else:
        head_condition = {
            "ConditionExpression": "version = :v AND attribute_not_exists(deleted)",
            "ExpressionAttributeValues": to_item({":v": expected_version}),
        }
    try:
        with translate_errors():
            ddb().transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": table_name(), "Item": to_item(head), **head_condition}},
                    {
                        "Put": {
                            "TableName": table_name(),
                            "Item": to_item(version_item),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                ]
            )
    except ClientError as exc:
        if error_code(exc) == "TransactionCanceledException":
            return False
        raise
    return True


def get_task(task_id: str) -> Task | None:
    """The head (latest version) of a task that has not been deleted."""
    item = get(keys.task_pk(task_id), keys.TASK_SK)
    if not item or item.get("deleted"):
        return None
    return _task(item)


def get_task_version(task_id: str, version: int) -> Task | None:
    item = get(keys.task_pk(task_id), keys.task_version_sk(version))
    return _task(item) if item else None


def delete_task(task_id: str) -> None:
    """Soft delete: the head disappears from lists; versions stay for existing runs."""
    with translate_errors():
        ddb().update_item(
            TableName=table_name(),
            Key=to_item({"pk": keys.task_pk(task_id), "sk": keys.TASK_SK}),
            UpdateExpression="SET deleted = :t REMOVE gsi1pk, gsi1sk",
            ExpressionAttributeValues=to_item({":t": True}),
        )


def list_tasks(
    org_id: str, *, page_size: int, page_token: str | None
) -> tuple[list[Task], str | None]:
    pk_value = keys.org_tasks_gsi1(org_id)
    kwargs: dict[str, Any] = {
        "IndexName": "gsi1",
        "KeyConditionExpression": "gsi1pk = :pk",
        "ExpressionAttributeValues": to_item({":pk": pk_value}),
        "ScanIndexForward": False,
        "Limit": page_size,
    }
    fields = {"pk", "sk", "gsi1pk", "gsi1sk"}
    if page_token:
        kwargs["ExclusiveStartKey"] = to_item(
            decode_token(page_token, expected={"gsi1pk": pk_value}, fields=fields)
        )
    items, last = query(**kwargs)
    token = encode_token({k: last[k] for k in fields}) if last else None
    return [_task(i) for i in items], token
