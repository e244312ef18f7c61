"""Webhook endpoints, deliveries and attempts: what they are, free of storage and HTTP.

A module of its own, outside runhook.webhooks, so that the repositories (runhook.dal)
can store these models while the webhook workers (runhook.webhooks) use the
repositories: the dependency points one way. Fields are snake_case; their camelCase
aliases are the stored attribute names; `to_resource` gives the public API's shape.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from runhook import clock

_STORED_AS_CAMEL = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)

DeliveryStatus = Literal["pending", "succeeded", "failed"]

# Why an endpoint is disabled (its `disabledReason`).
DISABLED_BY_USER = "disabled_by_user"
DISABLED_GONE = "endpoint_gone"  # the receiver answered 410 Gone
DISABLED_FAILING = "failing_continuously"  # failing for WEBHOOK_DISABLE_AFTER_SECONDS


class Endpoint(BaseModel):
    model_config = ConfigDict(**_STORED_AS_CAMEL, defer_build=True)

    id: str
    org_id: str
    url: str
    secret: str
    created_at: str
    updated_at: str
    events: list[str] | None = None  # None: every event
    task_id: str | None = None
    description: str = ""
    enabled: bool = True
    previous_secret: str | None = None
    previous_secret_expires_at: str | None = None
    secret_rotated_at: str | None = None
    consecutive_failures: int = 0
    last_success_at: str | None = None
    last_failure_at: str | None = None
    failing_since: str | None = None
    disabled_reason: str | None = None
    disabled_at: str | None = None

    def signing_secrets(self, now: datetime) -> list[str]:
        """The secrets a delivery is signed with: the current one, plus the previous
        one while its rotation overlap lasts."""
        out = [self.secret]
        if (
            self.previous_secret
            and self.previous_secret_expires_at
            and clock.parse_iso(self.previous_secret_expires_at) > now
        ):
            out.append(self.previous_secret)
        return out

    def to_resource(self, health: Health | None = None) -> dict[str, Any]:
        h = health or Health()
        return {
            "id": self.id,
            "url": self.url,
            "description": self.description,
            "events": list(self.events) if self.events else None,
            "taskId": self.task_id,
            "enabled": self.enabled,
            "disabledReason": self.disabled_reason,
            "disabledAt": self.disabled_at,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "secretRotatedAt": self.secret_rotated_at,
            "previousSecretExpiresAt": self.previous_secret_expires_at,
            "health": {
                "successRate": h.success_rate,
                "recentAttempts": h.recent_attempts,
                "consecutiveFailures": self.consecutive_failures,
                "lastSuccessAt": self.last_success_at,
                "lastFailureAt": self.last_failure_at,
                "failingSince": self.failing_since,
                "disabledReason": self.disabled_reason,
            },
        }


class Health(BaseModel):
    """Success rate over the endpoint's most recent attempts (None: no attempt yet)."""

    model_config = ConfigDict(defer_build=True)

    success_rate: float | None = None
    recent_attempts: int = 0

    @classmethod
    def from_outcomes(cls, outcomes: list[bool]) -> Health:
        if not outcomes:
            return cls()
        return cls(
            success_rate=round(sum(outcomes) / len(outcomes), 4), recent_attempts=len(outcomes)
        )


class Attempt(BaseModel):
    model_config = ConfigDict(**_STORED_AS_CAMEL, defer_build=True)

    delivery_id: str
    endpoint_id: str
    number: int
    at: str
    ok: bool
    status_code: int | None = None
    latency_ms: int | None = None
    error: str | None = None
    response_excerpt: str | None = None
    next_attempt_at: str | None = None

    def to_resource(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "at": self.at,
            "success": self.ok,
            "statusCode": self.status_code,
            "latencyMs": self.latency_ms,
            "error": self.error,
            "responseExcerpt": self.response_excerpt,
            "nextAttemptAt": self.next_attempt_at,
        }


class Delivery(BaseModel):
    model_config = ConfigDict(**_STORED_AS_CAMEL, defer_build=True)

    id: str
    org_id: str
    endpoint_id: str
    event_type: str  # the name the endpoint receives it under
    webhook_id: str  # stable across retries and replays
    # The exact body bytes (UTF-8 JSON), signed on every attempt. Stored in the delivery's
    # own payload item since issue 16 (items written before carry it on the head); ""
    # on a head read without it.
    payload: str = ""
    created_at: str
    status: DeliveryStatus = "pending"
    event_id: str | None = None
    run_id: str | None = None
    task_id: str | None = None
    sequence: int | None = None
    attempts: int = 0
    gen: int = 0  # bumped by every re-enqueue; older queue messages are dropped
    updated_at: str | None = None
    last_attempt_at: str | None = None
    next_attempt_at: str | None = None
    last_status_code: int | None = None
    last_error: str | None = None
    # While an attempt runs: epoch milliseconds (stored as such: `leaseMs`; before issue 16
    # `leaseUntil`, which the due index projects, so every claim also wrote the index).
    lease_until_ms: int | None = Field(default=None, alias="leaseMs")
    replays: int = 0
    test: bool = False
    # The successful attempt, folded into the write that ends the delivery (issue 16)
    # instead of an attempt item of its own; read back into `attempt_log`.
    success_attempt: Attempt | None = Field(default=None, exclude=True)
    # Read with the delivery on request; never stored on the delivery item.
    attempt_log: list[Attempt] = Field(default_factory=list, exclude=True)

    @property
    def lease_until(self) -> float | None:
        """The lease's end in epoch seconds (what `time.time()` returns), or None."""
        return None if self.lease_until_ms is None else self.lease_until_ms / 1000

    def with_attempts(self, attempts: list[Attempt]) -> Delivery:
        return self.model_copy(update={"attempt_log": attempts})

    def to_resource(self, *, include_attempts: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "endpointId": self.endpoint_id,
            "eventType": self.event_type,
            "webhookId": self.webhook_id,
            "eventId": self.event_id,
            "runId": self.run_id,
            "taskId": self.task_id,
            "sequence": self.sequence,
            "status": self.status,
            "attemptCount": self.attempts,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "lastAttemptAt": self.last_attempt_at,
            "nextAttemptAt": self.next_attempt_at,
            "lastStatusCode": self.last_status_code,
            "lastError": self.last_error,
            "replays": self.replays,
            "test": self.test,
        }
        if include_attempts:
            out["attempts"] = [a.to_resource() for a in self.attempt_log]
        return out
