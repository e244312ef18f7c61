"""Saving, versioning, listing and deleting tasks."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from runhook import clock
from runhook.dal.tasks import TaskRepository
from runhook.errors import Conflict, InvalidRequest, NotFound
from runhook.models import Principal
from runhook.tasks.definition import TaskDefinition, validate_definition
from runhook.tasks.task import Task

if TYPE_CHECKING:
    from runhook.dal.secrets import SecretRepository
    from runhook.services.schedules import TaskSchedules

UPDATE_ATTEMPTS = 3


def _definition(raw: Any) -> TaskDefinition:
    definition, errors = validate_definition(raw)
    if definition is None:
        raise InvalidRequest("invalid_task", errors=errors)
    return definition


class TaskService:
    def __init__(
        self,
        tasks: TaskRepository,
        schedules: TaskSchedules | None = None,
        secrets: SecretRepository | None = None,
    ) -> None:
        """`schedules` (runhook.services.schedules): checked before a save, mirrored onto
        EventBridge Scheduler after it (None: schedules are stored, never fired).
        `secrets`: the organization secrets a definition's `{{ secrets.NAME }}` must name
        (None: no check, for tests of other rules)."""
        self.tasks = tasks
        self.schedules = schedules
        self.secrets = secrets

    def _checked(self, principal: Principal, raw: Any) -> TaskDefinition:
        definition = _definition(raw)
        if self.schedules is not None:
            self.schedules.check(definition)
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
        if self.schedules is not None:
            self.schedules.sync(task)
        return task

    def update_task(self, principal: Principal, task_id: str, raw: Any) -> Task:
        """A new version; runs keep the version they started with."""
        self.visible_task(principal, task_id)  # 404 before 400: never reveal another org's task
        definition = self._checked(principal, raw)
        return self._new_version(principal, task_id, lambda _current: definition)

    def _new_version(
        self,
        principal: Principal,
        task_id: str,
        definition_of: Callable[[Task], TaskDefinition | None],
    ) -> Task:
        """Save `definition_of(current)` as the next version (retried on a concurrent
        save), then mirror its schedule. None from `definition_of`: nothing to change."""
        for _ in range(UPDATE_ATTEMPTS):
            current = self.visible_task(principal, task_id)
            definition = definition_of(current)
            if definition is None:
                return current
            task = current.model_copy(
                update={
                    "version": current.version + 1,
                    "updated_at": clock.now_iso(),
                    "definition": definition,
                }
            )
            if self.tasks.put_version(task, expected_version=current.version):
                if self.schedules is not None:
                    self.schedules.sync(task, previous=current)
                return task
        raise Conflict("task_modified_concurrently")

    def set_schedule_enabled(self, principal: Principal, task_id: str, enabled: bool) -> Task:
        """Pause or resume the task's schedule: a new version with `schedule.enabled` set
        (the definition stays the one source of truth). Already so: the task unchanged."""

        def toggled(current: Task) -> TaskDefinition | None:
            schedule = current.definition.schedule
            if schedule is None:
                raise Conflict("task_not_scheduled")
            if schedule.enabled == enabled:
                return None
            changed = schedule.model_copy(update={"enabled": enabled})
            definition = current.definition.model_copy(update={"schedule": changed})
            if enabled and self.schedules is not None:  # a legacy schedule may not parse
                self.schedules.check(definition)
            return definition

        return self._new_version(principal, task_id, toggled)

    def delete_task(self, principal: Principal, task_id: str) -> None:
        task = self.visible_task(principal, task_id)
        self.tasks.delete(task_id)
        if self.schedules is not None:
            self.schedules.remove(task)

    def list_tasks(
        self, principal: Principal, *, page_size: int, page_token: str | None
    ) -> tuple[list[Task], str | None]:
        return self.tasks.list_for_org(principal.org_id, page_size=page_size, page_token=page_token)
