"""What the API answers: every resource and envelope, a named OpenAPI component schema.

These models are the routes' `response_model`s, so FastAPI checks every answer against
them and the document cannot drift from what is sent. They describe the dicts the domain
already builds (`Run.to_resource`, `Endpoint.to_resource`, ...), field for field: the
routes keep returning those dicts (one validation, one serialisation; building these
models first would validate twice), and the JSON stays exactly the Komos shape.

Conventions, so the JSON does not change under them:
- a field the domain always sends, null included, is required and nullable (`X | None`
  without default), so FastAPI writes the null and a client knows the key is there;
- timestamps stay strings (ISO 8601, UTC, milliseconds, `Z`): a `datetime` would be
  re-formatted on the way out;
- `extra="forbid"`: a key the domain adds without adding it here fails loudly (a 500 in
  tests) instead of vanishing from the answer or from the document.
"""

# No `from __future__ import annotations`: pydantic would evaluate every field's annotation
# from its string when the class is made (~11 ms of the API's first request for these 50
# classes); Python evaluates them once, compiled, without it.

import importlib
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from runhook.models import LogLevel, RunStatus, TriggerType

Timestamp = Annotated[
    str,
    Field(
        json_schema_extra={"format": "date-time"},
        examples=["2026-01-31T09:30:00.123Z"],
        description="ISO 8601 UTC with milliseconds and Z",
    ),
]
Identifier = Annotated[str, Field(examples=["4f9c2d1e-8b7a-4c3d-9e2f-1a2b3c4d5e6f"])]


class Resource(BaseModel):
    # Built when FastAPI registers the routes, not twice (import time counts on a cold start).
    model_config = ConfigDict(extra="forbid", defer_build=True)


# -- runs -----------------------------------------------------------------------------------


class RunTimestamps(Resource):
    createdAt: Timestamp
    startedAt: Timestamp | None
    finishedAt: Timestamp | None


class RunProgress(Resource):
    currentStep: int = Field(ge=0, description="Steps finished so far")
    stepsTotal: int = Field(ge=0)


class RunError(Resource):
    code: str = Field(examples=["http_error"])
    message: str
    nodeId: str | None = Field(description="The step that failed (null: the run itself)")
    artifacts: list[str] | None = Field(
        default=None,
        exclude_if=lambda v: v is None,  # absent, not null: other errors keep their JSON
        description="Artifacts that explain the failure (a failed browser step's screenshot, "
        "HTML and console log): names for getArtifact. Absent when there are none",
    )


class RunWaiting(Resource):
    """What a run waiting for a human (an approval step) asks; answer it with resumeRun."""

    nodeId: str
    prompt: str
    since: Timestamp
    expiresAt: Timestamp | None


_RUN_EXAMPLE: dict[str, Any] = {
    "id": "9c77d908-7bf4-4e7f-9a20-2c5e7fdf2e94",
    "taskId": "79c6b1aa-24d1-45b3-8c94-9a2e2a2f55bc",
    "status": "RUNNING",
    "triggerType": "api",
    "timestamps": {
        "createdAt": "2025-10-14T18:21:52.123Z",
        "startedAt": "2025-10-14T18:22:03.481Z",
        "finishedAt": None,
    },
    "progress": {"currentStep": 2, "stepsTotal": 5},
    "inputs": {"orderId": "A-1001"},
    "outputs": {},
    "logsUrl": "https://api.example.com/public/v1/task-runs/9c77d908-7bf4-4e7f-9a20-2c5e7fdf2e94/logs",
    "error": None,
    "cancelReason": None,
    "taskVersion": 1,
    "clientRequestId": "order-A-1001",
    "waiting": None,
    "tags": ["billing"],
    "metadata": {"customer": "C-42"},
    "retryOf": None,
    "retriedBy": None,
    "reusedSteps": 0,
    "engine": "express",
}


class Run(Resource):
    """A run of a task (the Komos shape, plus `taskVersion`, `clientRequestId`, `waiting`)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_RUN_EXAMPLE]})

    id: Identifier
    taskId: Identifier
    status: RunStatus
    triggerType: TriggerType
    timestamps: RunTimestamps
    progress: RunProgress | None = Field(description="null while PENDING")
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    logsUrl: str = Field(description="Where getRunLogs reads this run's log")
    error: RunError | None = Field(description="Why the run FAILED (null otherwise)")
    cancelReason: str | None
    taskVersion: int = Field(ge=1, description="The task version the run executes")
    clientRequestId: str | None = Field(description="The idempotency key it was created with")
    waiting: RunWaiting | None = Field(description="Set while an approval step waits")
    # Run management (issue 14).
    tags: list[str] = Field(description="Labels: the task's default tags, then the run's own")
    metadata: dict[str, Any] = Field(description="The caller's JSON object, stored as given")
    retryOf: Identifier | None = Field(description="The run this one retries")
    retriedBy: Identifier | None = Field(description="The run that retried this one")
    reusedSteps: int = Field(ge=0, description="Leading steps whose results were carried over")
    # Express routing (issue 16).
    engine: Literal["standard", "express"] = Field(
        description="The state machine driving the run: express (no approval step, timeout "
        "fits Express's 5 minutes) or standard (docs/engine.md, Express)"
    )


class RunResponse(Resource):
    run: Run


class TaskRunList(Resource):
    runs: list[Run] = Field(max_length=50)


class RunList(Resource):
    runs: list[Run] = Field(max_length=100)
    nextPageToken: str | None = Field(description="Pass as pageToken for the next page")


class LogEntry(Resource):
    id: str = Field(description="Ascending; pass the last one as `after` to tail the log")
    timestamp: Timestamp | None
    level: LogLevel
    message: str
    nodeId: str | None = Field(description="The step that wrote it (null: the run)")


class LogPage(Resource):
    runId: Identifier
    logEntries: list[LogEntry] = Field(max_length=1000)
    nextCursor: str | None = Field(description="Pass as `after` to read on (null: no more)")


# -- artifacts ------------------------------------------------------------------------------


class Artifact(Resource):
    name: str = Field(examples=["after-login.png"])
    contentType: str
    size: int = Field(ge=0, description="Bytes")
    createdAt: Timestamp | None
    url: str = Field(description="Presigned download URL, valid until expiresAt")
    expiresAt: Timestamp


class ArtifactList(Resource):
    runId: Identifier
    artifacts: list[Artifact]


class ArtifactResponse(Resource):
    artifact: Artifact


# -- health and errors ----------------------------------------------------------------------


class HealthStatus(Resource):
    status: Literal["ok"]
    version: str


class ErrorItem(BaseModel):
    model_config = ConfigDict(defer_build=True)

    path: str = Field(description="Where in the request, dotted (e.g. steps.0.url)")
    message: str


class Error(BaseModel):
    """Every error answer: a snake_case `detail` code, sometimes with more (`errors` for
    invalid input, `usage` with usage_limit_exceeded, `limit`, `callerIp`, `requestId`)."""

    model_config = ConfigDict(extra="allow", defer_build=True)

    detail: str = Field(description="snake_case error code", examples=["run_not_found"])
    errors: list[ErrorItem] | None = Field(default=None, description="Every problem found")


# -- run management (issue 14): bulk cancel ---------------------------------------------------


class BulkCancelFilter(Resource):
    taskId: Identifier | None
    status: RunStatus | None = Field(description="null: PENDING and RUNNING")
    createdBefore: Timestamp


class BulkCancelJob(Resource):
    """A filter-based cancel working in the background; poll getBulkCancel for progress."""

    id: Identifier
    status: Literal["RUNNING", "COMPLETED"]
    filter: BulkCancelFilter
    reason: str | None
    limit: int = Field(ge=1, le=1000, description="At most this many runs are handled")
    cancelled: int = Field(ge=0, description="Runs cancelled so far")
    skipped: int = Field(ge=0, description="Matching runs that were over when their turn came")
    stoppedByLimit: bool = Field(description="More runs matched than `limit`")
    createdAt: Timestamp
    updatedAt: Timestamp
    finishedAt: Timestamp | None


class BulkCancelSkip(Resource):
    runId: str
    reason: Literal["already_terminal", "not_found"]


class BulkCancelResult(Resource):
    """By ids: what was cancelled and skipped (`job` null); by filter: the job started."""

    cancelled: list[Identifier] = Field(max_length=100)
    skipped: list[BulkCancelSkip] = Field(max_length=100)
    job: BulkCancelJob | None


class BulkCancelJobResponse(Resource):
    job: BulkCancelJob


# -- the other routes' resources ---------------------------------------------------------------
# A request defines only the resources of the routes it loads (runhook.api.app.RouteLoader):
# these are the run routes' (and health's, the errors', the artifacts'); the task, admin and
# webhook routes' live in modules of their own (~25 ms of CPU, and runhook.webhook_models,
# off a run request's cold start). A name of theirs read here loads them.
OTHER_MODULES = ("tasks", "admin", "webhooks")


def __getattr__(name: str) -> Any:
    for module in OTHER_MODULES:
        found = getattr(importlib.import_module(f"{__name__}.{module}"), name, None)
        if found is not None:
            return found
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
