"""A saved task version: who owns it, when it was saved, and its validated definition.

Apart from runhook.models so that functions that never read a task (the reconciler,
the webhook workers) do not import the step models.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from runhook import clock
from runhook.models import STORED_AS_CAMEL
from runhook.tasks.definition import StepConfig, TaskDefinition


class Task(BaseModel):
    """A saved task version: its validated definition (defaults included)."""

    # Built on first use, like the step models' schemas (runhook.tasks.definition).
    model_config = ConfigDict(defer_build=True, **STORED_AS_CAMEL)

    id: str
    org_id: str
    version: int
    created_at: str
    updated_at: str
    definition: TaskDefinition

    @property
    def name(self) -> str:
        return self.definition.name

    @property
    def steps(self) -> list[StepConfig]:
        return list(self.definition.steps)

    def next_run_at(self, now: datetime | None = None) -> datetime | None:
        """When the schedule fires next (None: no schedule, paused, or one that never
        parsed: a schedule stored as a plain string before schedules fired)."""
        from runhook.schedules import ScheduleError

        schedule = self.definition.schedule
        if schedule is None or not schedule.enabled:
            return None
        try:
            return schedule.recurrence().next_after(now or clock.now())
        except ScheduleError:
            return None

    def schedule_resource(self, now: datetime | None = None) -> dict[str, Any] | None:
        """The schedule as the API shows it: as saved, plus `nextRunAt`."""
        schedule = self.definition.schedule
        if schedule is None:
            return None
        following = self.next_run_at(now)
        return {
            **schedule.model_dump(exclude_none=True),
            "nextRunAt": clock.iso(following) if following else None,
        }

    def to_resource(self, now: datetime | None = None) -> dict[str, Any]:
        d = self.definition.document()
        return {
            "id": self.id,
            "version": self.version,
            "name": d["name"],
            "description": d.get("description"),
            "tags": d.get("tags", []),  # issue 14: its runs' default tags
            "inputs": d["inputs"],
            "steps": d["steps"],
            "outputs": d["outputs"],
            "timeoutSeconds": d["timeoutSeconds"],
            "schedule": self.schedule_resource(now),
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
        }
