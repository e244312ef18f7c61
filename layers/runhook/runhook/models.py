"""Domain models: what a run, a log entry, an organization and a key are.

Free of storage and HTTP: fields are snake_case, and their camelCase aliases are the
attribute names a repository stores them under (runhook.dal.codec); `to_resource` gives
the public API's JSON shape. A saved task is runhook.tasks.task.Task; webhook models
live in runhook.webhook_models (each apart, so a function imports only what it reads).

Every model here is `defer_build=True` (as are the webhook, engine, task and API
resource models; request bodies are not, see the test): pydantic then builds a model's validator when it first validates, not at import,
so a function's cold start pays only for the models it uses (issue 16: the step function
imports this module but never validates an organization or a key here).
tests/unit/test_model_deferral.py keeps every model so.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Mapping
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

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


# Run labels (issue 14): what a caller may attach to a run (and a task declare as defaults).
MAX_TAGS = 10  # per run (its own) and per task (the defaults)
MAX_MERGED_TAGS = 2 * MAX_TAGS  # a run's own tags with its task's defaults
MAX_TAG_LENGTH = 64
TAG_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:/=+@-]{0,63}$"  # no spaces, no '#', no commas
MAX_METADATA_BYTES = 4096  # the compact JSON encoding, UTF-8
Tag = Annotated[str, Field(min_length=1, max_length=MAX_TAG_LENGTH, pattern=TAG_PATTERN)]


class RunError(BaseModel):
    model_config = ConfigDict(defer_build=True)

    code: str
    message: str
    nodeId: str | None = None
    # Artifacts of the run that explain the failure (a failed browser step's screenshot,
    # HTML, console log): names for GET /task-runs/{runId}/artifacts/{name}. Left out of
    # the JSON when there are none, so other errors keep their shape.
    artifacts: list[str] | None = Field(default=None, exclude_if=lambda v: v is None)


class Waiting(BaseModel):
    model_config = ConfigDict(defer_build=True)

    nodeId: str
    prompt: str
    since: str
    expiresAt: str | None = None


class Run(BaseModel):
    """A run as stored; `to_resource` gives the public API's JSON shape."""

    model_config = ConfigDict(frozen=True, **STORED_AS_CAMEL, defer_build=True)

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
    # Run management (issue 14): labels, a retry's links and the steps it carried over.
    tags: list[str] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)
    retry_of: str | None = None
    retried_by: str | None = None
    reused_steps: int = 0
    # Issue 16: the state machine that drives it (runhook.engine.routing; old runs: standard).
    engine: Literal["standard", "express"] = "standard"

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
            "tags": list(self.tags),
            "metadata": self.metadata,
            "retryOf": self.retry_of,
            "retriedBy": self.retried_by,
            "reusedSteps": self.reused_steps,
            "engine": self.engine,
        }


class RunFilter(BaseModel):
    """Which of an organization's runs to list (None: not filtered); created bounds are
    ISO timestamps, `created_after` inclusive and `created_before` exclusive."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    status: str | None = None
    task_id: str | None = None
    trigger_type: str | None = None
    created_after: str | None = None
    created_before: str | None = None
    tag: str | None = None


class LogEntry(BaseModel):
    model_config = ConfigDict(defer_build=True)

    id: str
    timestamp: str | None
    level: LogLevel
    message: str
    nodeId: str | None = None

    def to_resource(self) -> dict[str, Any]:
        return self.model_dump()


Scope = Literal["admin", "runs"]


class ApiKey(BaseModel):
    model_config = ConfigDict(**STORED_AS_CAMEL, defer_build=True)

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


# -- organization settings ------------------------------------------------------------------
# Bounds of what an organization can set (PATCH /organization; the OpenAPI document shows
# them). Each keeps the rate limiter's arithmetic finite: its window is `burst / rate`
# seconds, at most MAX_RATE_BURST / MIN_RATE_PER_SECOND = 1e6 s (11.6 days).
MIN_RATE_PER_SECOND = 0.1
MAX_RATE_PER_SECOND = 10_000.0
MAX_RATE_BURST = 100_000
MAX_MONTHLY_RUN_QUOTA = 1_000_000_000
MAX_ALLOWLIST_ENTRIES = 100
MAX_CIDR_LENGTH = 64  # the longest IPv6 CIDR is 43 characters


class OrganizationSettings(BaseModel):
    """What an organization can change, each within its bounds; None: the service's default.

    Numbers are strict (no `true`, no `"5"`) and finite. Values already stored are read
    through `from_stored`, never validated strictly: a stored value must not lock its
    organization out (issue 12: a rate of 5e-324 once made every request a 500).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False, defer_build=True)

    ipAllowlist: list[Annotated[str, Field(min_length=1, max_length=MAX_CIDR_LENGTH)]] | None = (
        Field(
            default=None,
            max_length=MAX_ALLOWLIST_ENTRIES,
            description="IPv4/IPv6 CIDRs allowed to call the API (empty: any address)",
        )
    )
    monthlyRunQuota: int | None = Field(
        default=None,
        ge=0,
        le=MAX_MONTHLY_RUN_QUOTA,
        strict=True,
        description="Runs per calendar month (UTC); default 100000",
    )
    rateLimitPerSecond: float | None = Field(
        default=None,
        ge=MIN_RATE_PER_SECOND,
        le=MAX_RATE_PER_SECOND,
        strict=True,
        description="Requests per second per API key, on average; default 20",
    )
    rateLimitBurst: int | None = Field(
        default=None,
        ge=1,
        le=MAX_RATE_BURST,
        strict=True,
        description="Requests a quiet key may send at once; default max(40, 2 * rate)",
    )

    @classmethod
    def from_stored(cls, raw: Any) -> tuple[OrganizationSettings, list[str]]:
        """The settings in a stored document, whatever it holds, and what was wrong with it.

        Never raises. A number out of its range is clamped to the nearest bound (its owner
        meant "slow" or "a lot"); anything else unreadable (NaN, a string, a list) falls back
        to the default. Allowlist entries that are not CIDRs are kept as text: they match no
        address, so an allowlist with no valid entry refuses everyone (an access control
        fails closed) while the organization can still see and replace it.
        """
        if raw is None:
            return cls(), []
        if not isinstance(raw, Mapping):
            return cls(), [f"settings is not an object: {type(raw).__name__}"]
        problems: list[str] = []
        values = {
            "ipAllowlist": _stored_allowlist(raw.get("ipAllowlist"), problems),
            "monthlyRunQuota": _stored_number(
                raw, "monthlyRunQuota", 0, MAX_MONTHLY_RUN_QUOTA, problems
            ),
            "rateLimitPerSecond": _stored_number(
                raw, "rateLimitPerSecond", MIN_RATE_PER_SECOND, MAX_RATE_PER_SECOND, problems
            ),
            "rateLimitBurst": _stored_number(raw, "rateLimitBurst", 1, MAX_RATE_BURST, problems),
        }
        unknown = sorted(str(k) for k in raw if k not in cls.model_fields)
        if unknown:
            problems.append(
                f"unknown settings ignored (and dropped by the next PATCH): {', '.join(unknown)}"
            )
        # Built without validation: every value was checked (or clamped) above, and an
        # allowlist may keep its unreadable entries.
        return cls.model_construct(**values), problems

    def stored(self) -> dict[str, Any]:
        """The document the table holds (defaults left out)."""
        return self.model_dump(exclude_none=True)


def _stored_number(
    raw: Mapping[str, Any], name: str, low: float, high: float, problems: list[str]
) -> Any:
    """`raw[name]` within [low, high] (an int when `low` is one), or None (the default)."""
    value = raw.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        problems.append(f"{name} is not a number: {value!r:.40}")
        return None
    finite = (
        value.is_finite()
        if isinstance(value, Decimal)
        else not isinstance(value, float) or math.isfinite(value)
    )
    if not finite:
        problems.append(f"{name} is not finite: {value}")
        return None
    if not low <= value <= high:
        problems.append(f"{name} {value!r:.40} is out of [{low}, {high}]: clamped")
        value = low if value < low else high
    if not isinstance(low, int):
        return float(value)
    if value != int(value):
        problems.append(f"{name} {value!r:.40} is not a whole number: rounded down")
    return int(value)


def _stored_allowlist(value: Any, problems: list[str]) -> list[str] | None:
    """The stored allowlist: valid CIDRs normalised, other entries kept as text."""
    if value is None:
        return None
    entries = value if isinstance(value, list) else [value]
    if not isinstance(value, list):
        problems.append("ipAllowlist is not a list")
    out = []
    for entry in entries:
        try:
            out.append(str(ipaddress.ip_network(str(entry).strip(), strict=False)))
        except ValueError:
            problems.append(f"ipAllowlist entry is not a CIDR (matches nothing): {entry!r:.60}")
            out.append(str(entry))
    return out


class Organization(BaseModel):
    """A tenant; `settings` holds its IP allowlist, run quota and rate limits."""

    model_config = ConfigDict(**STORED_AS_CAMEL, defer_build=True)

    id: str
    name: str | None = None
    created_at: str | None = None
    settings: OrganizationSettings = Field(default_factory=OrganizationSettings)

    @property
    def ip_allowlist(self) -> list[str]:
        return list(self.settings.ipAllowlist or [])


class Principal(BaseModel):
    """Who is calling: the organization and the key's scopes."""

    model_config = ConfigDict(defer_build=True)

    org_id: str
    key_id: str
    scopes: list[Scope]
    # The organization's settings as read by authentication: saves a second read later.
    org_settings: OrganizationSettings | None = None

    def can(self, scope: Scope) -> bool:
        return "admin" in self.scopes or scope in self.scopes


# -- bulk cancel (issue 14) ------------------------------------------------------------------
BulkCancelStatus = Literal["RUNNING", "COMPLETED"]


class BulkCancelJob(BaseModel):
    """A filter-based cancel working in the background: what it matches and how far it got.

    `cursor` is the page token of the listing it walks (private: never shown);
    `cancelled` and `skipped` count runs (skipped: over by the time their turn came).
    """

    model_config = ConfigDict(frozen=True, **STORED_AS_CAMEL, defer_build=True)

    id: str
    org_id: str
    status: BulkCancelStatus = "RUNNING"
    task_id: str | None = None
    run_status: RunStatus | None = None  # None: PENDING and RUNNING
    created_before: str
    reason: str | None = None
    limit: int
    cancelled: int = 0
    skipped: int = 0
    cursor: str | None = None
    created_at: str
    updated_at: str
    finished_at: str | None = None
    stopped_by_limit: bool = False

    def to_resource(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "filter": {
                "taskId": self.task_id,
                "status": self.run_status.value if self.run_status else None,
                "createdBefore": self.created_before,
            },
            "reason": self.reason,
            "limit": self.limit,
            "cancelled": self.cancelled,
            "skipped": self.skipped,
            "stoppedByLimit": self.stopped_by_limit,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "finishedAt": self.finished_at,
        }
