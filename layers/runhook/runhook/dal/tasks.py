"""Saved tasks: a head item (latest version) plus one immutable item per version.

Runs record the version they started with and read that version's item, so an update
never changes a run in flight.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from runhook import keys
from runhook.dal.codec import from_attributes, to_attributes
from runhook.dal.expressions import Put, Update, index_query, key
from runhook.dal.table import Table, TransactionCancelled

if TYPE_CHECKING:
    # Task (and the step models of every kind behind it) is imported when a task is first
    # read: the functions that build this repository without reading tasks (the
    # reconciler, the sweeper) then never pay for those models at cold start.
    from runhook.tasks.task import Task

# The definition is stored as its JSON document (TaskDefinition.document()).
TASK_JSON_FIELDS = frozenset({"definition"})


def task_from_item(item: Mapping[str, Any]) -> Task:
    from runhook.tasks.task import Task

    return from_attributes(Task, item, json_fields=TASK_JSON_FIELDS)


class TaskRepository:
    def __init__(self, table: Table) -> None:
        self.table = table

    def put_version(self, task: Task, *, expected_version: int | None) -> bool:
        """Write version `task.version` and move the head to it; False if someone else moved it."""
        attributes = to_attributes(task, json_fields=TASK_JSON_FIELDS)
        head = {
            **key(keys.task_pk(task.id), keys.TASK_SK),
            "type": "task",
            **attributes,
            "gsi1pk": keys.org_tasks_gsi1(task.org_id),
            "gsi1sk": keys.created_sort(task.created_at, task.id),
        }
        version = {
            **key(keys.task_pk(task.id), keys.task_version_sk(task.version)),
            "type": "task_version",
            **attributes,
        }
        if expected_version is None:
            move_head = Put(head, "attribute_not_exists(pk)")
        else:
            move_head = Put(
                head,
                "version = :v AND attribute_not_exists(deleted)",
                values={":v": expected_version},
            )
        try:
            self.table.transact_write([move_head, Put(version, "attribute_not_exists(pk)")])
        except TransactionCancelled:
            return False
        return True

    def get(self, task_id: str) -> Task | None:
        """The head (latest version) of a task that has not been deleted."""
        item = self.table.get(key(keys.task_pk(task_id), keys.TASK_SK))
        if not item or item.get("deleted"):
            return None
        return task_from_item(item)

    def get_version(self, task_id: str, version: int) -> Task | None:
        item = self.table.get(key(keys.task_pk(task_id), keys.task_version_sk(version)))
        return task_from_item(item) if item else None

    def delete(self, task_id: str) -> None:
        """Soft delete: the head disappears from lists; versions stay for existing runs."""
        update = Update().set("deleted", True).remove("gsi1pk").remove("gsi1sk")
        self.table.update(key(keys.task_pk(task_id), keys.TASK_SK), update, return_new=False)

    def list_for_org(
        self, org_id: str, *, page_size: int, page_token: str | None
    ) -> tuple[list[Task], str | None]:
        """The organization's tasks, newest first."""
        query = index_query("gsi1", keys.org_tasks_gsi1(org_id), newest_first=True)
        page = self.table.page(query, page_size=page_size, token=page_token)
        return [task_from_item(i) for i in page.items], page.next_token
