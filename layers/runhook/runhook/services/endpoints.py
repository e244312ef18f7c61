"""Webhook endpoints: create, read, change, rotate, test; deliveries and their attempts.

Raises runhook.errors.* (the API maps them to HTTP). Secrets leave this module only
in the answers of `create_endpoint` and `rotate_secret`, and are never logged.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from runhook import clock
from runhook.adapters.deliveries import DeliveryQueue, QueueMessage
from runhook.dal.tasks import TaskRepository
from runhook.dal.webhooks import WebhookRepository
from runhook.errors import Conflict, InvalidRequest, NotFound
from runhook.models import Principal
from runhook.netguard import is_public_address
from runhook.settings import Settings
from runhook.webhook_models import DISABLED_BY_USER, Delivery, DeliveryStatus, Endpoint, Health
from runhook.webhooks import catalog
from runhook.webhooks.dispatch import dumps_body, send_or_mark_due
from runhook.webhooks.signing import generate_secret

MAX_ENDPOINTS_PER_ORG = 100
MAX_URL_LENGTH = 2048
MAX_DESCRIPTION_LENGTH = 1024
ROTATION_OVERLAP_SECONDS = 24 * 3600
HEALTH_WINDOW = 100  # attempts behind `successRate`


# -- validation ----------------------------------------------------------------------------


def validate_url(url: str, *, allow_private: bool) -> str:
    """A callable http(s) URL; https and a non-private literal host unless `allow_private`
    (settings.allow_private_targets: the local cloud).

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
    if not allow_private:
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


def _description(value: str | None) -> str:
    value = value or ""
    if len(value) > MAX_DESCRIPTION_LENGTH:
        raise InvalidRequest("invalid_description")
    return value


def sample_payload(event_type: str, endpoint: Endpoint, base_url: str) -> str:
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
    base = base_url.rstrip("/")
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


class EndpointService:
    """The use cases of `/webhook-endpoints` and `/webhook-deliveries`."""

    def __init__(
        self,
        settings: Settings,
        webhooks: WebhookRepository,
        tasks: TaskRepository,
        queue: DeliveryQueue,
    ) -> None:
        self.settings = settings
        self.endpoints = webhooks.endpoints
        self.deliveries = webhooks.deliveries
        self.tasks = tasks
        self.queue = queue

    # -- endpoints -------------------------------------------------------------------------
    def _url(self, url: str) -> str:
        return validate_url(url, allow_private=self.settings.allow_private_targets)

    def _task_scope(self, principal: Principal, task_id: str | None) -> str | None:
        if task_id is None:
            return None
        if not clock.is_uuid(task_id):
            raise InvalidRequest("invalid_task_id")
        task = self.tasks.get(task_id)
        if task is None or task.org_id != principal.org_id:
            raise NotFound("task_not_found")
        return task_id

    def visible_endpoint(self, principal: Principal, endpoint_id: str) -> Endpoint:
        if not clock.is_uuid(endpoint_id):
            raise InvalidRequest("invalid_endpoint_id")
        endpoint = self.endpoints.get(principal.org_id, endpoint_id)
        if endpoint is None:
            raise NotFound("endpoint_not_found")
        return endpoint

    def health(self, endpoint: Endpoint) -> Health:
        return Health.from_outcomes(self.deliveries.recent_outcomes(endpoint.id, HEALTH_WINDOW))

    def resource(self, endpoint: Endpoint, *, secret: str | None = None) -> dict[str, Any]:
        out = endpoint.to_resource(self.health(endpoint))
        if secret is not None:
            out["secret"] = secret
        return out

    def resources(self, endpoints: Sequence[Endpoint]) -> list[dict[str, Any]]:
        if len(endpoints) <= 1:
            return [self.resource(e) for e in endpoints]
        with ThreadPoolExecutor(max_workers=min(8, len(endpoints))) as pool:
            return list(pool.map(self.resource, endpoints))

    def create_endpoint(
        self,
        principal: Principal,
        *,
        url: str,
        events: Sequence[str] | None = None,
        task_id: str | None = None,
        description: str | None = None,
        enabled: bool = True,
    ) -> tuple[Endpoint, str]:
        """The new endpoint and its secret (shown this once)."""
        url = self._url(url)
        subscribed = validate_events(events)
        scope = self._task_scope(principal, task_id)
        if len(self.endpoints.list_for_org(principal.org_id)) >= MAX_ENDPOINTS_PER_ORG:
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
        self.endpoints.put(endpoint)
        return endpoint, secret

    def list_endpoints(self, principal: Principal) -> list[Endpoint]:
        return self.endpoints.list_for_org(principal.org_id)

    def update_endpoint(
        self, principal: Principal, endpoint_id: str, changes: Mapping[str, Any]
    ) -> Endpoint:
        """Apply a PATCH: keys among url, events, taskId, description, enabled."""
        current = self.visible_endpoint(principal, endpoint_id)
        fields: dict[str, Any] = {}
        if "url" in changes:
            if changes["url"] is None:
                raise InvalidRequest("invalid_url")
            fields["url"] = self._url(changes["url"])
        if "events" in changes:
            fields["events"] = validate_events(changes["events"])
        if "taskId" in changes:
            fields["task_id"] = self._task_scope(principal, changes["taskId"])
        if "description" in changes:
            fields["description"] = _description(changes["description"])
        if "enabled" in changes and changes["enabled"] is not None:
            fields.update(_enabled_changes(current, bool(changes["enabled"])))
        if not fields:
            return current
        updated = self.endpoints.update(principal.org_id, endpoint_id, fields)
        if updated is None:
            raise NotFound("endpoint_not_found")
        return updated

    def delete_endpoint(self, principal: Principal, endpoint_id: str) -> None:
        self.visible_endpoint(principal, endpoint_id)
        if not self.endpoints.delete(principal.org_id, endpoint_id):
            raise NotFound("endpoint_not_found")

    def rotate_secret(
        self,
        principal: Principal,
        endpoint_id: str,
        overlap_seconds: int = ROTATION_OVERLAP_SECONDS,
    ) -> tuple[Endpoint, str]:
        """A new secret; the old one keeps signing alongside it for `overlap_seconds`."""
        if not 0 <= overlap_seconds <= ROTATION_OVERLAP_SECONDS:
            raise InvalidRequest("invalid_overlap_seconds")
        current = self.visible_endpoint(principal, endpoint_id)
        now = clock.now()
        secret = generate_secret()
        keep_old = overlap_seconds > 0
        expires = clock.iso(now + timedelta(seconds=overlap_seconds)) if keep_old else None
        updated = self.endpoints.update(
            principal.org_id,
            endpoint_id,
            {
                "secret": secret,
                "previous_secret": current.secret if keep_old else None,
                "previous_secret_expires_at": expires,
                "secret_rotated_at": clock.iso(now),
            },
        )
        if updated is None:
            raise NotFound("endpoint_not_found")
        return updated, secret

    # -- deliveries ------------------------------------------------------------------------
    def send_test(self, principal: Principal, endpoint_id: str, event_type: str | None) -> Delivery:
        """Queue a signed sample event for the endpoint (even a disabled one)."""
        endpoint = self.visible_endpoint(principal, endpoint_id)
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
            payload=sample_payload(name, endpoint, self.settings.public_base_url),
            created_at=now,
            updated_at=now,
            task_id=endpoint.task_id,
            test=True,
        )
        self.deliveries.create(delivery)
        # No due entry on a new delivery (issue 16): if the send fails, mark it due.
        send_or_mark_due(self.queue, self.deliveries, [QueueMessage.of(delivery)])
        return delivery

    def list_deliveries(
        self,
        principal: Principal,
        endpoint_id: str,
        *,
        status: DeliveryStatus | None,
        page_size: int,
        page_token: str | None,
    ) -> tuple[list[Delivery], str | None]:
        """The endpoint's deliveries with their attempts, newest first."""
        endpoint = self.visible_endpoint(principal, endpoint_id)
        deliveries, token = self.deliveries.list_for_endpoint(
            endpoint.id, status=status, page_size=page_size, page_token=page_token
        )
        if not deliveries:
            return [], token
        with ThreadPoolExecutor(max_workers=min(8, len(deliveries))) as pool:
            full = list(
                pool.map(lambda d: self.deliveries.get(d.id, with_attempts=True), deliveries)
            )
        return [f or d for f, d in zip(full, deliveries, strict=True)], token

    def visible_delivery(
        self, principal: Principal, delivery_id: str, *, with_attempts: bool
    ) -> Delivery:
        if not clock.is_uuid(delivery_id):
            raise InvalidRequest("invalid_delivery_id")
        delivery = self.deliveries.get(delivery_id, with_attempts=with_attempts)
        if delivery is None or delivery.org_id != principal.org_id:
            raise NotFound("delivery_not_found")
        return delivery


def _enabled_changes(current: Endpoint, enabled: bool) -> dict[str, Any]:
    """The fields a PATCH of `enabled` changes (none when it is unchanged)."""
    if enabled and not current.enabled:
        # A fresh start: the failure streak that disabled it is over.
        return {
            "enabled": True,
            "disabled_reason": None,
            "disabled_at": None,
            "consecutive_failures": 0,
            "failing_since": None,
        }
    if not enabled and current.enabled:
        return {
            "enabled": False,
            "disabled_reason": DISABLED_BY_USER,
            "disabled_at": clock.now_iso(),
        }
    return {}
