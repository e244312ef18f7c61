"""The task routes' resources.

Part of runhook.api.resources (its docstring states the conventions), in a module of its own
so that a request that needs none of these does not define them.
"""

# No `from __future__ import annotations`: see runhook.api.resources.
from typing import Any, Literal

from pydantic import Field

from runhook.api.resources import Identifier, Resource, Timestamp

# -- tasks ----------------------------------------------------------------------------------


class TaskSchedule(Resource):
    """A task's schedule as saved (docs/schedules.md), with when it fires next."""

    cron: str | None = None
    rate: str | None = None
    timezone: str
    inputs: dict[str, Any] | None = None
    enabled: bool
    overlap: Literal["skip", "allow"]
    nextRunAt: Timestamp | None = Field(description="Next fire time (null: paused)")


class Task(Resource):
    """A saved task, latest version: its definition (defaults filled in) and metadata.

    `steps` are the task definition's step kinds (the document states their schemas: see
    runhook.api.app); here they stay plain objects so that they are sent as stored.
    """

    id: Identifier
    version: int = Field(ge=1)
    name: str
    description: str | None
    tags: list[str] = Field(description="Default tags of its runs (merged with theirs)")
    inputs: dict[str, Any] = Field(description="JSON Schema of the run inputs")
    steps: list[dict[str, Any]]
    outputs: dict[str, str]
    timeoutSeconds: int
    schedule: TaskSchedule | None
    createdAt: Timestamp
    updatedAt: Timestamp


class TaskResponse(Resource):
    task: Task


class TaskList(Resource):
    tasks: list[Task] = Field(max_length=100)
    nextPageToken: str | None
