"""The webhook routes' resources.

Part of runhook.api.resources (its docstring states the conventions), in a module of its own
so that a request that needs none of these does not define them.
"""

# No `from __future__ import annotations`: see runhook.api.resources.
from pydantic import Field

from runhook.api.resources import Identifier, Resource, Timestamp
from runhook.webhook_models import DeliveryStatus

# -- webhooks -------------------------------------------------------------------------------


class EndpointHealth(Resource):
    successRate: float | None = Field(ge=0, le=1, description="Over the recent attempts")
    recentAttempts: int = Field(ge=0)
    consecutiveFailures: int = Field(ge=0)
    lastSuccessAt: Timestamp | None
    lastFailureAt: Timestamp | None
    failingSince: Timestamp | None
    disabledReason: str | None


class WebhookEndpoint(Resource):
    id: Identifier
    url: str
    description: str
    events: list[str] | None = Field(description="null: every event")
    taskId: Identifier | None = Field(description="null: runs of every task")
    enabled: bool
    disabledReason: str | None = Field(
        description="disabled_by_user, endpoint_gone or failing_continuously"
    )
    disabledAt: Timestamp | None
    createdAt: Timestamp
    updatedAt: Timestamp
    secretRotatedAt: Timestamp | None
    previousSecretExpiresAt: Timestamp | None
    health: EndpointHealth


class CreatedWebhookEndpoint(WebhookEndpoint):
    secret: str = Field(description="The signing secret (whsec_…): shown only in this answer")


class WebhookEndpointResponse(Resource):
    endpoint: WebhookEndpoint


class CreatedWebhookEndpointResponse(Resource):
    endpoint: CreatedWebhookEndpoint


class WebhookEndpointList(Resource):
    endpoints: list[WebhookEndpoint]


class Attempt(Resource):
    number: int = Field(ge=1)
    at: Timestamp
    success: bool
    statusCode: int | None
    latencyMs: int | None
    error: str | None
    responseExcerpt: str | None
    nextAttemptAt: Timestamp | None


class WebhookDeliverySummary(Resource):
    """A delivery without its attempts (what replayDelivery answers)."""

    id: Identifier
    endpointId: Identifier
    eventType: str
    webhookId: str = Field(description="The webhook-id header: the same on every attempt")
    eventId: str | None
    runId: Identifier | None
    taskId: Identifier | None
    sequence: int | None
    status: DeliveryStatus
    attemptCount: int = Field(ge=0)
    createdAt: Timestamp
    updatedAt: Timestamp | None
    lastAttemptAt: Timestamp | None
    nextAttemptAt: Timestamp | None
    lastStatusCode: int | None
    lastError: str | None
    replays: int = Field(ge=0)
    test: bool


class WebhookDelivery(WebhookDeliverySummary):
    attempts: list[Attempt]


class WebhookDeliveryResponse(Resource):
    delivery: WebhookDelivery


class WebhookDeliverySummaryResponse(Resource):
    delivery: WebhookDeliverySummary


class WebhookDeliveryList(Resource):
    deliveries: list[WebhookDelivery] = Field(max_length=100)
    nextPageToken: str | None


class RecoverResult(Resource):
    recovered: int = Field(ge=0, description="Dead letters sent back to the queue")
    discarded: int = Field(ge=0, description="Stale dead letters (delivered or replayed since)")
    scanned: int = Field(ge=0)
    complete: bool = Field(description="false: the time budget ran out; call again")
