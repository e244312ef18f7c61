"""A saved task version: who owns it, when it was saved, and its validated definition.

Apart from runhook.models so that functions that never read a task (the reconciler,
the webhook workers) do not import the step models.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

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

    def to_resource(self) -> dict[str, Any]:
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
            "schedule": d.get("schedule"),
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
        }
