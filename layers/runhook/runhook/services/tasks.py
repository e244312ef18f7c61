"""Saving, versioning, listing and deleting tasks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runhook import clock
from runhook.dal.tasks import TaskRepository
from runhook.errors import Conflict, InvalidRequest, NotFound
from runhook.models import Principal
from runhook.tasks.definition import TaskDefinition, validate_definition
from runhook.tasks.task import Task

if TYPE_CHECKING:
    from runhook.dal.secrets import SecretRepository

UPDATE_ATTEMPTS = 3


def _definition(raw: Any) -> TaskDefinition:
    definition, errors = validate_definition(raw)
    if definition is None:
        raise InvalidRequest("invalid_task", errors=errors)
    return definition


class TaskService:
    def __init__(self, tasks: TaskRepository, secrets: SecretRepository | None = None) -> None:
        """`secrets`: the organization secrets a definition's `{{ secrets.NAME }}` must name
        (None: no check, for tests of other rules)."""
        self.tasks = tasks
        self.secrets = secrets

    def _checked(self, principal: Principal, raw: Any) -> TaskDefinition:
        definition = _definition(raw)
        if self.secrets is not None:
            from runhook.services.secrets import check_task_secrets

            check_task_secrets(self.secrets, principal.org_id, definition)
        return definition

    def visible_task(self, principal: Principal, task_id: str) -> Task:
        """The caller's task (404 for another organization's: never revealed)."""
        if not clock.is_uuid(task_id):
            raise InvalidRequest("invalid_task_id")
        task = self.tasks.get(task_id)
        if task is None or task.org_id != principal.org_id:
            raise NotFound("task_not_found")
        return task

    def create_task(self, principal: Principal, raw: Any, task_id: str | None = None) -> Task:
        now = clock.now_iso()
        task = Task(
            id=task_id or clock.new_id(),
            org_id=principal.org_id,
            version=1,
            created_at=now,
            updated_at=now,
            definition=self._checked(principal, raw),
        )
        if not self.tasks.put_version(task, expected_version=None):
            raise Conflict("task_exists")
        return task

    def update_task(self, principal: Principal, task_id: str, raw: Any) -> Task:
        """A new version; runs keep the version they started with."""
        self.visible_task(principal, task_id)  # 404 before 400: never reveal another org's task
        definition = self._checked(principal, raw)
        for _ in range(UPDATE_ATTEMPTS):
            current = self.visible_task(principal, task_id)
            task = current.model_copy(
                update={
                    "version": current.version + 1,
                    "updated_at": clock.now_iso(),
                    "definition": definition,
                }
            )
            if self.tasks.put_version(task, expected_version=current.version):
                return task
        raise Conflict("task_modified_concurrently")

    def delete_task(self, principal: Principal, task_id: str) -> None:
        self.visible_task(principal, task_id)
        self.tasks.delete(task_id)

    def list_tasks(
        self, principal: Principal, *, page_size: int, page_token: str | None
    ) -> tuple[list[Task], str | None]:
        return self.tasks.list_for_org(principal.org_id, page_size=page_size, page_token=page_token)
