"""Webhook endpoints and deliveries (scope `admin`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Body, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from runhook.api.deps import Admin, Endpoints, Replays
from runhook.api.resources.webhooks import (
    CreatedWebhookEndpointResponse,
    RecoverResult,
    WebhookDeliveryList,
    WebhookDeliveryResponse,
    WebhookDeliverySummaryResponse,
    WebhookEndpointList,
    WebhookEndpointResponse,
)
from runhook.api.routes import api_router
from runhook.api.schemas import merged
from runhook.services.endpoints import (
    MAX_DESCRIPTION_LENGTH,
    MAX_URL_LENGTH,
    ROTATION_OVERLAP_SECONDS,
)
from runhook.webhook_models import DeliveryStatus, Endpoint
from runhook.webhooks import catalog

router = api_router("webhooks")

_EVENTS_DOC = (
    "Event types to receive (none or empty: all). "
    f"One of: {', '.join(catalog.SUBSCRIBABLE)}. `task-run.succeeded` receives "
    "task-run.completed under that name."
)


class CreateEndpointBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=MAX_URL_LENGTH, description="https URL to POST to")
    events: list[str] | None = Field(default=None, max_length=32, description=_EVENTS_DOC)
    taskId: str | None = Field(default=None, description="Only runs of this task")
    description: str | None = Field(default=None, max_length=MAX_DESCRIPTION_LENGTH)
    enabled: bool = True


class PatchEndpointBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(default=None, min_length=1, max_length=MAX_URL_LENGTH)
    events: list[str] | None = Field(default=None, max_length=32, description=_EVENTS_DOC)
    taskId: str | None = Field(default=None, description="null removes the task scope")
    description: str | None = Field(default=None, max_length=MAX_DESCRIPTION_LENGTH)
    enabled: bool | None = Field(
        default=None, description="true re-enables (and resets the failure streak)"
    )


class RotateSecretBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    overlapSeconds: int = Field(
        default=ROTATION_OVERLAP_SECONDS,
        ge=0,
        le=ROTATION_OVERLAP_SECONDS,
        description="How long the old secret keeps signing alongside the new one",
    )


class TestSendBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    eventType: str | None = Field(default=None, description="Default task-run.completed")


class RecoverBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    since: datetime = Field(description="Replay dead letters of deliveries created since …")
    until: datetime | None = Field(default=None, description="… and before (default: now)")


def _with_secret(service: Endpoints, endpoint: Endpoint, secret: str) -> dict[str, Any]:
    return {"endpoint": service.resource(endpoint, secret=secret)}


@router.post(
    "/webhook-endpoints",
    status_code=201,
    response_model=CreatedWebhookEndpointResponse,
    summary="Register an endpoint (the answer is the only time its secret is shown)",
    responses=merged(
        _400="invalid_body, invalid_description, invalid_url, url_must_be_https, url_not_allowed, invalid_events, "
        "invalid_task_id",
        _404="task_not_found",
        _409="endpoint_limit_reached",
    ),
)
def create_webhook_endpoint(
    caller: Admin, body: CreateEndpointBody, service: Endpoints
) -> dict[str, Any]:
    endpoint, secret = service.create_endpoint(
        caller,
        url=body.url,
        events=body.events,
        task_id=body.taskId,
        description=body.description,
        enabled=body.enabled,
    )
    return _with_secret(service, endpoint, secret)


@router.get(
    "/webhook-endpoints",
    response_model=WebhookEndpointList,
    summary="The organization's endpoints, with their health",
    responses=merged(),
)
def list_webhook_endpoints(caller: Admin, service: Endpoints) -> dict[str, Any]:
    return {"endpoints": service.resources(service.list_endpoints(caller))}


@router.get(
    "/webhook-endpoints/{endpointId}",
    response_model=WebhookEndpointResponse,
    summary="An endpoint and its health",
    responses=merged(_400="invalid_endpoint_id", _404="endpoint_not_found"),
)
def get_webhook_endpoint(endpointId: str, caller: Admin, service: Endpoints) -> dict[str, Any]:
    return {"endpoint": service.resource(service.visible_endpoint(caller, endpointId))}


@router.patch(
    "/webhook-endpoints/{endpointId}",
    response_model=WebhookEndpointResponse,
    summary="Change url, events, taskId scope, description or enabled",
    responses=merged(
        _400="invalid_endpoint_id, invalid_body, invalid_description, invalid_url, url_must_be_https, "
        "url_not_allowed, invalid_events, invalid_task_id",
        _404="endpoint_not_found, task_not_found",
    ),
)
def update_webhook_endpoint(
    endpointId: str, caller: Admin, body: PatchEndpointBody, service: Endpoints
) -> dict[str, Any]:
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    endpoint = service.update_endpoint(caller, endpointId, changes)
    return {"endpoint": service.resource(endpoint)}


@router.delete(
    "/webhook-endpoints/{endpointId}",
    status_code=204,
    summary="Delete an endpoint (its queued deliveries are dropped)",
    responses=merged(_400="invalid_endpoint_id", _404="endpoint_not_found"),
)
def delete_webhook_endpoint(endpointId: str, caller: Admin, service: Endpoints) -> Response:
    service.delete_endpoint(caller, endpointId)
    return Response(status_code=204)


@router.post(
    "/webhook-endpoints/{endpointId}/rotate-secret",
    response_model=CreatedWebhookEndpointResponse,
    summary="New secret (shown now); the old one keeps signing alongside it for 24 h",
    responses=merged(
        _400="invalid_endpoint_id, invalid_body, invalid_overlap_seconds",
        _404="endpoint_not_found",
    ),
)
def rotate_webhook_endpoint_secret(
    endpointId: str,
    caller: Admin,
    service: Endpoints,
    body: Annotated[RotateSecretBody | None, Body()] = None,
) -> dict[str, Any]:
    overlap = (body or RotateSecretBody()).overlapSeconds
    endpoint, secret = service.rotate_secret(caller, endpointId, overlap)
    return _with_secret(service, endpoint, secret)


@router.post(
    "/webhook-endpoints/{endpointId}/test",
    status_code=202,
    response_model=WebhookDeliveryResponse,
    summary="Queue a signed sample event for the endpoint",
    responses=merged(
        _400="invalid_endpoint_id, invalid_body, invalid_event_type", _404="endpoint_not_found"
    ),
)
def test_webhook_endpoint(
    endpointId: str,
    caller: Admin,
    service: Endpoints,
    body: Annotated[TestSendBody | None, Body()] = None,
) -> dict[str, Any]:
    delivery = service.send_test(caller, endpointId, (body or TestSendBody()).eventType)
    return {"delivery": delivery.to_resource()}


@router.get(
    "/webhook-endpoints/{endpointId}/deliveries",
    response_model=WebhookDeliveryList,
    summary="The endpoint's deliveries with their attempts, newest first",
    responses=merged(
        _400="invalid_endpoint_id, invalid_query (+errors), invalid_page_token",
        _404="endpoint_not_found",
    ),
)
def list_webhook_deliveries(
    endpointId: str,
    caller: Admin,
    service: Endpoints,
    status: DeliveryStatus | None = None,
    pageSize: Annotated[int, Query(ge=1, le=100)] = 20,
    pageToken: Annotated[str | None, Query(max_length=2048)] = None,
) -> dict[str, Any]:
    deliveries, token = service.list_deliveries(
        caller, endpointId, status=status, page_size=pageSize, page_token=pageToken
    )
    return {"deliveries": [d.to_resource() for d in deliveries], "nextPageToken": token}


@router.post(
    "/webhook-endpoints/{endpointId}/recover",
    status_code=202,
    response_model=RecoverResult,
    summary="Replay the endpoint's failed deliveries from the dead-letter queue",
    responses=merged(
        _400="invalid_endpoint_id, invalid_body, invalid_time_window",
        _404="endpoint_not_found",
        _409="endpoint_disabled",
    ),
)
def recover_webhook_deliveries(
    endpointId: str, caller: Admin, body: RecoverBody, replays: Replays
) -> dict[str, Any]:
    result = replays.recover(caller, endpointId, body.since, body.until)
    return result.to_resource()


@router.get(
    "/webhook-deliveries/{deliveryId}",
    response_model=WebhookDeliveryResponse,
    summary="A delivery and its attempts",
    responses=merged(_400="invalid_delivery_id", _404="delivery_not_found"),
)
def get_webhook_delivery(deliveryId: str, caller: Admin, service: Endpoints) -> dict[str, Any]:
    delivery = service.visible_delivery(caller, deliveryId, with_attempts=True)
    return {"delivery": delivery.to_resource()}


@router.post(
    "/webhook-deliveries/{deliveryId}/replay",
    status_code=202,
    response_model=WebhookDeliverySummaryResponse,
    summary="Send a delivery again (same webhook-id)",
    responses=merged(
        _400="invalid_delivery_id",
        _404="delivery_not_found, endpoint_not_found",
        _409="endpoint_disabled, delivery_not_found",
    ),
)
def replay_webhook_delivery(deliveryId: str, caller: Admin, replays: Replays) -> dict[str, Any]:
    delivery = replays.replay_delivery(caller, deliveryId)
    return {"delivery": delivery.to_resource(include_attempts=False)}
