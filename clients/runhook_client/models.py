"""Typed resources of the public API (docs/api-contract.md), tolerant of fields added later.

Attributes are snake_case; the wire names (camelCase) are their aliases, so
`Run.model_validate(api_json)` reads an answer and `run.model_dump(by_alias=True)` gives it
back. `extra="allow"` keeps fields this SDK does not know yet (the API adds fields, never
changes them), so an older SDK keeps working against a newer service.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

TERMINAL_STATUSES = frozenset({"COMPLETED", "FAILED", "CANCELLED"})


class Resource(BaseModel):
    """Base of every resource: camelCase aliases, unknown fields kept, immutable."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="allow", frozen=True
    )


class RunTimestamps(Resource):
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None


class RunProgress(Resource):
    current_step: int  # finished steps
    steps_total: int


class RunError(Resource):
    code: str
    message: str | None = None
    node_id: str | None = None

    @property
    def artifacts(self) -> list[str]:
        """The artifacts that explain a failed browser step (its screenshot, HTML and console
        log: names for the run's artifacts); [] for other errors, whose JSON has no key."""
        value = (self.model_extra or {}).get("artifacts")
        return [str(name) for name in value] if isinstance(value, list) else []


class Waiting(Resource):
    """A run paused for a human (an approval step): answer it with `runs.resume`."""

    node_id: str
    prompt: str | None = None
    since: datetime | None = None
    expires_at: datetime | None = None


class Run(Resource):
    id: str
    task_id: str
    status: str  # PENDING, RUNNING, COMPLETED, FAILED, CANCELLED (kept open: str)
    trigger_type: str
    timestamps: RunTimestamps
    progress: RunProgress | None = None  # None while PENDING
    inputs: dict[str, Any] = Field(default_factory=dict)
    outputs: dict[str, Any] = Field(default_factory=dict)
    logs_url: str | None = None
    error: RunError | None = None
    cancel_reason: str | None = None
    task_version: int | None = None
    client_request_id: str | None = None
    waiting: Waiting | None = None
    # Run management (issue 14).
    tags: list[str] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)
    retry_of: str | None = None  # the run this one retries
    retried_by: str | None = None  # the run that retried this one
    reused_steps: int = 0  # leading steps whose results were carried over
    engine: str = "standard"  # the state machine driving it: standard or express (issue 16)

    @property
    def is_terminal(self) -> bool:
        """COMPLETED, FAILED or CANCELLED: the run will not change any more."""
        return self.status in TERMINAL_STATUSES


class LogEntry(Resource):
    id: str
    timestamp: datetime | None = None
    level: str  # info, warning, error
    message: str
    node_id: str | None = None


class LogPage(Resource):
    run_id: str
    log_entries: list[LogEntry]
    next_cursor: str | None = None  # set when more entries are waiting right now


class TaskSchedule(Resource):
    """When a task runs by itself (docs/schedules.md): cron + timezone, or a rate."""

    cron: str | None = None
    rate: str | None = None
    timezone: str = "UTC"
    inputs: dict[str, Any] | None = None
    enabled: bool = True
    overlap: str = "skip"
    next_run_at: datetime | None = None


class Task(Resource):
    """A saved task, latest version (a PUT makes a new one; runs keep theirs)."""

    id: str
    version: int
    name: str
    description: str | None = None
    tags: list[str] = Field(default_factory=list)  # default tags of its runs (issue 14)
    inputs: dict[str, Any] = Field(default_factory=dict)
    steps: list[dict[str, Any]] = Field(default_factory=list)
    outputs: dict[str, Any] | None = None
    timeout_seconds: int | None = None
    schedule: TaskSchedule | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class EndpointHealth(Resource):
    success_rate: float | None = None
    recent_attempts: int = 0
    consecutive_failures: int = 0
    last_success_at: datetime | None = None
    last_failure_at: datetime | None = None
    failing_since: datetime | None = None
    disabled_reason: str | None = None


class WebhookEndpoint(Resource):
    id: str
    url: str
    description: str | None = None
    events: list[str] | None = None  # None: every event
    task_id: str | None = None
    enabled: bool = True
    disabled_reason: str | None = None
    disabled_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    secret_rotated_at: datetime | None = None
    previous_secret_expires_at: datetime | None = None
    health: EndpointHealth | None = None
    secret: str | None = None  # only in the answers to create and rotate-secret


class DeliveryAttempt(Resource):
    number: int
    at: datetime
    success: bool
    status_code: int | None = None
    latency_ms: int | None = None
    error: str | None = None
    response_excerpt: str | None = None
    next_attempt_at: datetime | None = None


class WebhookDelivery(Resource):
    id: str
    endpoint_id: str
    event_type: str
    webhook_id: str  # stable across retries and replays: receivers deduplicate on it
    status: str  # pending, succeeded, failed, …
    event_id: str | None = None
    run_id: str | None = None
    task_id: str | None = None
    sequence: int | None = None
    attempt_count: int = 0
    created_at: datetime | None = None
    updated_at: datetime | None = None
    last_attempt_at: datetime | None = None
    next_attempt_at: datetime | None = None
    last_status_code: int | None = None
    last_error: str | None = None
    replays: int = 0
    test: bool = False
    attempts: list[DeliveryAttempt] | None = None


class RecoverResult(Resource):
    recovered: int  # moved back to the queue
    discarded: int
    scanned: int
    complete: bool  # False: the service's time budget ran out; call again to continue


class ApiKey(Resource):
    id: str
    name: str
    prefix: str
    scopes: list[str]
    created_at: datetime | None = None
    last_used_at: datetime | None = None
    secret: str | None = None  # only in the answer to create


# -- bulk cancel (issue 14) ---------------------------------------------------------------------
class BulkCancelFilter(Resource):
    task_id: str | None = None
    status: str | None = None  # None: PENDING and RUNNING
    created_before: datetime | None = None


class BulkCancelJob(Resource):
    """A filter-based cancel working in the background (`runs.bulk_cancel_job` polls it)."""

    id: str
    status: str  # RUNNING, COMPLETED
    filter: BulkCancelFilter | None = None
    reason: str | None = None
    limit: int | None = None
    cancelled: int = 0
    skipped: int = 0
    stopped_by_limit: bool = False
    created_at: datetime | None = None
    updated_at: datetime | None = None
    finished_at: datetime | None = None

    @property
    def is_done(self) -> bool:
        return self.status == "COMPLETED"


class BulkCancelSkip(Resource):
    run_id: str
    reason: str  # already_terminal, not_found


class BulkCancelResult(Resource):
    """By ids: what was cancelled and skipped; by filter: `job`, the job started."""

    cancelled: list[str] = Field(default_factory=list)
    skipped: list[BulkCancelSkip] = Field(default_factory=list)
    job: BulkCancelJob | None = None


# -- organization secrets (docs/secrets.md) ----------------------------------------------------
class Secret(Resource):
    """A secret's metadata: the service never returns a value."""

    name: str
    description: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    last_used_at: datetime | None = None
