"""Webhook endpoints: create, read, change, rotate, test; deliveries and their attempts.

Raises runhook.errors.* (the API maps them to HTTP). Secrets leave this module only
in the answers of `create` and `rotate_secret`, and are never logged.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from runhook import clock
from runhook.dal import tasks as tasks_dal
from runhook.dal import webhooks as store
from runhook.errors import Conflict, InvalidRequest, NotFound
from runhook.models import Principal
from runhook.netguard import is_public_address
from runhook.settings import get_settings
from runhook.webhooks import catalog, queue
from runhook.webhooks.dispatch import dumps_body
from runhook.webhooks.models import (
    DISABLED_BY_USER,
    Delivery,
    DeliveryStatus,
    Endpoint,
    Health,
)
from runhook.webhooks.signing import generate_secret

MAX_ENDPOINTS_PER_ORG = 100
MAX_URL_LENGTH = 2048
MAX_DESCRIPTION_LENGTH = 1024
ROTATION_OVERLAP_SECONDS = 24 * 3600
HEALTH_WINDOW = 100  # attempts behind `successRate`


# -- validation ----------------------------------------------------------------------------


def validate_url(url: str) -> str:
    """A callable http(s) URL; https and a non-private literal host in deployed stages.

    Host names are resolved (and checked again) at every delivery, not here.
    """
    url = url.strip()
    if not url or len(url) > MAX_URL_LENGTH:
        raise InvalidRequest("invalid_url")
    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError as exc:
        raise InvalidRequest("invalid_url") from exc
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise InvalidRequest("invalid_url")
    if parts.username or parts.password:
        raise InvalidRequest("invalid_url")
    settings = get_settings()
    if not settings.allow_private_targets:
        if parts.scheme != "https":
            raise InvalidRequest("url_must_be_https")
        try:
            literal = ipaddress.ip_address(parts.hostname)
        except ValueError:
            literal = None
        if literal is not None and not is_public_address(literal):
            raise InvalidRequest("url_not_allowed")
        if parts.hostname.lower() in {"localhost", "localhost.localdomain"}:
            raise InvalidRequest("url_not_allowed")
    return url


def validate_events(events: Sequence[str] | None) -> list[str] | None:
    if events is None:
        return None
    bad = catalog.invalid_events(events)
    if bad:
        raise InvalidRequest(
            "invalid_events",
            errors=[{"path": "events", "message": f"unknown event {e!r}"} for e in bad],
            allowed=list(catalog.SUBSCRIBABLE),
        )
    return catalog.normalize_events(events)


def validate_task_scope(principal: Principal, task_id: str | None) -> str | None:
    if task_id is None:
        return None
    if not clock.is_uuid(task_id):
        raise InvalidRequest("invalid_task_id")
    task = tasks_dal.get_task(task_id)
    if task is None or task.org_id != principal.org_id:
        raise NotFound("task_not_found")
    return task_id


def _description(value: str | None) -> str:
    value = value or ""
    if len(value) > MAX_DESCRIPTION_LENGTH:
        raise InvalidRequest("invalid_description")
    return value


# -- endpoints -----------------------------------------------------------------------------


def visible_endpoint(principal: Principal, endpoint_id: str) -> Endpoint:
    if not clock.is_uuid(endpoint_id):
        raise InvalidRequest("invalid_endpoint_id")
    endpoint = store.get_endpoint(principal.org_id, endpoint_id)
    if endpoint is None:
        raise NotFound("endpoint_not_found")
    return endpoint


def health(endpoint: Endpoint) -> Health:
    return Health.from_outcomes(store.recent_outcomes(endpoint.id, HEALTH_WINDOW))


def resource(endpoint: Endpoint, *, secret: str | None = None) -> dict[str, Any]:
    out = endpoint.to_resource(health(endpoint))
    if secret is not None:
        out["secret"] = secret
    return out


def resources(endpoints: Sequence[Endpoint]) -> list[dict[str, Any]]:
    if len(endpoints) <= 1:
        return [resource(e) for e in endpoints]
    with ThreadPoolExecutor(max_workers=min(8, len(endpoints))) as pool:
        return list(pool.map(resource, endpoints))


def create_endpoint(
    principal: Principal,
    *,
    url: str,
    events: Sequence[str] | None = None,
    task_id: str | None = None,
    description: str | None = None,
    enabled: bool = True,
) -> tuple[Endpoint, str]:
    """The new endpoint and its secret (shown this once)."""
    url = validate_url(url)
    subscribed = validate_events(events)
    scope = validate_task_scope(principal, task_id)
    if len(store.list_endpoints(principal.org_id)) >= MAX_ENDPOINTS_PER_ORG:
        raise Conflict("endpoint_limit_reached", limit=MAX_ENDPOINTS_PER_ORG)
    now = clock.now_iso()
    secret = generate_secret()
    endpoint = Endpoint(
        id=clock.new_id(),
        org_id=principal.org_id,
        url=url,
        secret=secret,
        created_at=now,
        updated_at=now,
        events=subscribed,
        task_id=scope,
        description=_description(description),
        enabled=enabled,
        disabled_reason=None if enabled else DISABLED_BY_USER,
        disabled_at=None if enabled else now,
    )
    store.put_endpoint(endpoint)
    return endpoint, secret


def list_endpoints(principal: Principal) -> list[Endpoint]:
    return store.list_endpoints(principal.org_id)


def update_endpoint(principal: Principal, endpoint_id: str, changes: Mapping[str, Any]) -> Endpoint:
    """Apply a PATCH: keys among url, events, taskId, description, enabled."""
    current = visible_endpoint(principal, endpoint_id)
    fields: dict[str, Any] = {}
    if "url" in changes:
        if changes["url"] is None:
            raise InvalidRequest("invalid_url")
        fields["url"] = validate_url(changes["url"])
    if "events" in changes:
        fields["events"] = validate_events(changes["events"])
    if "taskId" in changes:
        fields["task_id"] = validate_task_scope(principal, changes["taskId"])
    if "description" in changes:
        fields["description"] = _description(changes["description"])
    if "enabled" in changes and changes["enabled"] is not None:
        enabled = bool(changes["enabled"])
        if enabled and not current.enabled:
            # A fresh start: the failure streak that disabled it is over.
            fields.update(
                enabled=True,
                disabled_reason=None,
                disabled_at=None,
                consecutive_failures=0,
                failing_since=None,
            )
        elif not enabled and current.enabled:
            fields.update(
                enabled=False, disabled_reason=DISABLED_BY_USER, disabled_at=clock.now_iso()
            )
    if not fields:
        return current
    updated = store.update_endpoint(principal.org_id, endpoint_id, fields)
    if updated is None:
        raise NotFound("endpoint_not_found")
    return updated


def delete_endpoint(principal: Principal, endpoint_id: str) -> None:
    visible_endpoint(principal, endpoint_id)
    if not store.delete_endpoint(principal.org_id, endpoint_id):
        raise NotFound("endpoint_not_found")


def rotate_secret(
    principal: Principal, endpoint_id: str, overlap_seconds: int = ROTATION_OVERLAP_SECONDS
) -> tuple[Endpoint, str]:
    """A new secret; the old one keeps signing alongside it for `overlap_seconds`."""
    if not 0 <= overlap_seconds <= ROTATION_OVERLAP_SECONDS:
        raise InvalidRequest("invalid_overlap_seconds")
    current = visible_endpoint(principal, endpoint_id)
    now = clock.now()
    secret = generate_secret()
    keep_old = overlap_seconds > 0
    updated = store.update_endpoint(
        principal.org_id,
        endpoint_id,
        {
            "secret": secret,
            "previous_secret": current.secret if keep_old else None,
            "previous_secret_expires_at": clock.iso(now + timedelta(seconds=overlap_seconds))
            if keep_old
            else None,
            "secret_rotated_at": clock.iso(now),
        },
    )
    if updated is None:
        raise NotFound("endpoint_not_found")
    return updated, secret


# -- deliveries ----------------------------------------------------------------------------


def sample_payload(event_type: str, endpoint: Endpoint) -> str:
    """A realistic body for a test delivery of `event_type`."""
    canonical = catalog.ALIASES.get(event_type, event_type)
    run_id = clock.new_id()
    now = clock.now_iso()
    if canonical == catalog.LOG_EVENT:
        return dumps_body(
            {
                "runId": run_id,
                "logEntries": [
                    {
                        "id": clock.sortable_id(),
                        "timestamp": now,
                        "level": "info",
                        "message": "This is a test delivery from runhook.",
                        "nodeId": None,
                    }
                ],
            }
        )
    status = {
        "task-run.started": "RUNNING",
        "task-run.updated": "RUNNING",
        "task-run.waiting": "RUNNING",
        "task-run.completed": "COMPLETED",
        "task-run.failed": "FAILED",
        "task-run.cancelled": "CANCELLED",
    }[canonical]
    base = get_settings().public_base_url.rstrip("/")
    return dumps_body(
        {
            "id": run_id,
            "taskId": endpoint.task_id or clock.new_id(),
            "status": status,
            "triggerType": "api",
            "timestamps": {
                "createdAt": now,
                "startedAt": now,
                "finishedAt": now if status != "RUNNING" else None,
            },
            "progress": {"currentStep": 1, "stepsTotal": 1},
            "inputs": {},
            "outputs": {},
            "logsUrl": f"{base}/public/v1/task-runs/{run_id}/logs",
            "error": {"code": "test", "message": "A test failure", "nodeId": None}
            if status == "FAILED"
            else None,
            "cancelReason": "test" if status == "CANCELLED" else None,
            "test": True,
        }
    )


def send_test(principal: Principal, endpoint_id: str, event_type: str | None) -> Delivery:
    """Queue a signed sample event for the endpoint (even a disabled one)."""
    endpoint = visible_endpoint(principal, endpoint_id)
    name = event_type or "task-run.completed"
    if name not in catalog.SUBSCRIBABLE:
        raise InvalidRequest("invalid_event_type", allowed=list(catalog.SUBSCRIBABLE))
    now = clock.now_iso()
    delivery_id = clock.new_id()
    delivery = Delivery(
        id=delivery_id,
        org_id=principal.org_id,
        endpoint_id=endpoint.id,
        event_type=name,
        webhook_id=delivery_id,
        payload=sample_payload(name, endpoint),
        created_at=now,
        updated_at=now,
        task_id=endpoint.task_id,
        test=True,
    )
    store.create_delivery(delivery)
    queue.send([queue.Message(delivery.id, endpoint.id, principal.org_id, now, 0)])
    return delivery


def list_deliveries(
    principal: Principal,
    endpoint_id: str,
    *,
    status: DeliveryStatus | None,
    page_size: int,
    page_token: str | None,
) -> tuple[list[Delivery], str | None]:
    endpoint = visible_endpoint(principal, endpoint_id)
    deliveries, token = store.list_deliveries(
        endpoint.id, status=status, page_size=page_size, page_token=page_token
    )
    if not deliveries:
        return [], token
    with ThreadPoolExecutor(max_workers=min(8, len(deliveries))) as pool:
        full = list(pool.map(lambda d: store.get_delivery(d.id, with_attempts=True), deliveries))
    return [f or d for f, d in zip(full, deliveries, strict=True)], token


def visible_delivery(principal: Principal, delivery_id: str, *, with_attempts: bool) -> Delivery:
    if not clock.is_uuid(delivery_id):
        raise InvalidRequest("invalid_delivery_id")
    delivery = store.get_delivery(delivery_id, with_attempts=with_attempts)
    if delivery is None or delivery.org_id != principal.org_id:
        raise NotFound("delivery_not_found")
    return delivery
