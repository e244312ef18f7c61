"""Domain models: what a run, a log entry, an organization and a key are.

Free of storage and HTTP: fields are snake_case, and their camelCase aliases are the
attribute names a repository stores them under (runhook.dal.codec); `to_resource` gives
the public API's JSON shape. A saved task is runhook.tasks.task.Task; webhook models
live in runhook.webhook_models (each apart, so a function imports only what it reads).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

# Field names are snake_case; stored (and validated) under their camelCase aliases too.
STORED_AS_CAMEL = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class RunStatus(StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset({RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED})
ACTIVE_STATUSES = frozenset({RunStatus.PENDING, RunStatus.RUNNING})

TriggerType = Literal["manual", "schedule", "api"]
LogLevel = Literal["info", "warning", "error"]


class RunError(BaseModel):
    code: str
    message: str
    nodeId: str | None = None


class Waiting(BaseModel):
    nodeId: str
    prompt: str
    since: str
    expiresAt: str | None = None


class Run(BaseModel):
    """A run as stored; `to_resource` gives the public API's JSON shape."""

    model_config = ConfigDict(frozen=True, **STORED_AS_CAMEL)

    id: str
    org_id: str
    task_id: str
    task_version: int
    status: RunStatus
    trigger_type: TriggerType = "api"
    created_at: str
    started_at: str | None = None
    finished_at: str | None = None
    current_step: int = 0
    steps_total: int = 0
    inputs: dict[str, Any] = Field(default_factory=dict)
    outputs: dict[str, Any] = Field(default_factory=dict)
    error: RunError | None = None
    cancel_reason: str | None = None
    waiting: Waiting | None = None
    client_request_id: str | None = None
    sequence: int = 0
    deadline: str | None = None

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    def logs_url(self, base_url: str) -> str:
        return f"{base_url.rstrip('/')}/public/v1/task-runs/{self.id}/logs"

    def to_resource(self, base_url: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "taskId": self.task_id,
            "status": self.status.value,
            "triggerType": self.trigger_type,
            "timestamps": {
                "createdAt": self.created_at,
                "startedAt": self.started_at,
                "finishedAt": self.finished_at,
            },
            "progress": None
            if self.status is RunStatus.PENDING
            else {"currentStep": self.current_step, "stepsTotal": self.steps_total},
            "inputs": self.inputs,
            "outputs": self.outputs,
            "logsUrl": self.logs_url(base_url),
            "error": self.error.model_dump() if self.error else None,
            "cancelReason": self.cancel_reason,
            "taskVersion": self.task_version,
            "clientRequestId": self.client_request_id,
            "waiting": self.waiting.model_dump() if self.waiting else None,
        }


class RunFilter(BaseModel):
    """Which of an organization's runs to list (None: not filtered); created bounds are
    ISO timestamps, `created_after` inclusive and `created_before` exclusive."""

    model_config = ConfigDict(frozen=True)

    status: str | None = None
    task_id: str | None = None
    trigger_type: str | None = None
    created_after: str | None = None
    created_before: str | None = None


class LogEntry(BaseModel):
    id: str
    timestamp: str | None
    level: LogLevel
    message: str
    nodeId: str | None = None

    def to_resource(self) -> dict[str, Any]:
        return self.model_dump()


Scope = Literal["admin", "runs"]


class ApiKey(BaseModel):
    model_config = STORED_AS_CAMEL

    id: str
    org_id: str
    name: str
    prefix: str
    scopes: list[Scope]
    created_at: str
    last_used_at: str | None = None
    revoked: bool = False

    def to_resource(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "prefix": self.prefix,
            "scopes": list(self.scopes),
            "createdAt": self.created_at,
            "lastUsedAt": self.last_used_at,
        }


class Organization(BaseModel):
    """A tenant; `settings` holds its IP allowlist, run quota and rate limits."""

    model_config = STORED_AS_CAMEL

    id: str
    name: str | None = None
    created_at: str | None = None
    settings: dict[str, Any] = Field(default_factory=dict)

    @property
    def ip_allowlist(self) -> list[str]:
        return list(self.settings.get("ipAllowlist") or [])


class Principal(BaseModel):
    """Who is calling: the organization and the key's scopes."""

    org_id: str
    key_id: str
    scopes: list[Scope]
    # The organization's settings as read by authentication: saves a second read later.
    org_settings: dict[str, Any] | None = None

    def can(self, scope: Scope) -> bool:
        return "admin" in self.scopes or scope in self.scopes
