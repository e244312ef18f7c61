"""Saving, versioning and deleting tasks."""

from __future__ import annotations

from typing import Any

from runhook import clock
from runhook.dal import tasks as tasks_dal
from runhook.errors import Conflict, InvalidRequest, NotFound
from runhook.models import Principal, Task
from runhook.tasks.definition import validate_definition


def _definition(raw: Any) -> dict[str, Any]:
    definition, errors = validate_definition(raw)
    if definition is None:
        raise InvalidRequest("invalid_task", errors=errors)
    return definition.model_dump(exclude_none=True)


def visible_task(principal: Principal, task_id: str) -> Task:
    if not clock.is_uuid(task_id):
        raise InvalidRequest("invalid_task_id")
    task = tasks_dal.get_task(task_id)
    if task is None or task.org_id != principal.org_id:
        raise NotFound("task_not_found")
    return task


def create_task(principal: Principal, raw: Any, task_id: str | None = None) -> Task:
    now = clock.now_iso()
    task = Task(
        id=task_id or clock.new_id(),
        org_id=principal.org_id,
        version=1,
        created_at=now,
        updated_at=now,
        definition=_definition(raw),
    )
    if not tasks_dal.put_new_version(task, expected_version=None):
        raise Conflict("task_exists")
    return task


def update_task(principal: Principal, task_id: str, raw: Any) -> Task:
    """A new version; runs keep the version they started with."""
    visible_task(principal, task_id)  # 404 before 400: never reveal another org's task
    definition = _definition(raw)
    for _ in range(3):
        current = visible_task(principal, task_id)
        task = current.model_copy(
            update={
                "version": current.version + 1,
                "updated_at": clock.now_iso(),
                "definition": definition,
            }
        )
        if tasks_dal.put_new_version(task, expected_version=current.version):
            return task
    raise Conflict("task_modified_concurrently")


def delete_task(principal: Principal, task_id: str) -> None:
    visible_task(principal, task_id)
    tasks_dal.delete_task(task_id)
