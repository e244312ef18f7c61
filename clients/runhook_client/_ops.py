"""Every operation of the public API the SDK calls, written once for both clients.

An operation is a `Call`: the HTTP request (method, path under /public/v1, query, body) and
how to read the answer into a typed model. `Runhook` (sync) and `AsyncRunhook` only send
calls, so both stay the same by construction. `OPERATIONS` names each (method, path) after
the API's operationId; tests/sdk/test_contract.py holds it against `GET /openapi.json`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar
from urllib.parse import quote

from runhook_client.models import (
    ApiKey,
    BulkCancelJob,
    BulkCancelResult,
    LogPage,
    RecoverResult,
    Run,
    Secret,
    Task,
    WebhookDelivery,
    WebhookEndpoint,
)

T = TypeVar("T")

OPERATIONS: dict[str, tuple[str, str]] = {
    "createTask": ("POST", "/tasks"),
    "listTasks": ("GET", "/tasks"),
    "getTask": ("GET", "/tasks/{taskId}"),
    "updateTask": ("PUT", "/tasks/{taskId}"),
    "deleteTask": ("DELETE", "/tasks/{taskId}"),
    "pauseTaskSchedule": ("POST", "/tasks/{taskId}/schedule/pause"),
    "resumeTaskSchedule": ("POST", "/tasks/{taskId}/schedule/resume"),
    "createRun": ("POST", "/tasks/{taskId}/runs"),
    "listTaskRuns": ("GET", "/tasks/{taskId}/runs"),
    "listRuns": ("GET", "/task-runs"),
    "getRun": ("GET", "/task-runs/{runId}"),
    "getRunLogs": ("GET", "/task-runs/{runId}/logs"),
    "cancelRun": ("POST", "/task-runs/{runId}/cancel"),
    "resumeRun": ("POST", "/task-runs/{runId}/resume"),
    "createWebhookEndpoint": ("POST", "/webhook-endpoints"),
    "listWebhookEndpoints": ("GET", "/webhook-endpoints"),
    "getWebhookEndpoint": ("GET", "/webhook-endpoints/{endpointId}"),
    "updateWebhookEndpoint": ("PATCH", "/webhook-endpoints/{endpointId}"),
    "deleteWebhookEndpoint": ("DELETE", "/webhook-endpoints/{endpointId}"),
    "rotateWebhookSecret": ("POST", "/webhook-endpoints/{endpointId}/rotate-secret"),
    "testWebhookEndpoint": ("POST", "/webhook-endpoints/{endpointId}/test"),
    "listWebhookDeliveries": ("GET", "/webhook-endpoints/{endpointId}/deliveries"),
    "recoverWebhookDeliveries": ("POST", "/webhook-endpoints/{endpointId}/recover"),
    "getWebhookDelivery": ("GET", "/webhook-deliveries/{deliveryId}"),
    "replayWebhookDelivery": ("POST", "/webhook-deliveries/{deliveryId}/replay"),
    "createApiKey": ("POST", "/api-keys"),
    "listApiKeys": ("GET", "/api-keys"),
    "revokeApiKey": ("DELETE", "/api-keys/{keyId}"),
    # issue 14: run management
    "retryRun": ("POST", "/task-runs/{runId}/retry"),
    "cancelRuns": ("POST", "/task-runs/cancel"),
    "getBulkCancel": ("GET", "/task-runs/cancel/{jobId}"),
    # -- organization secrets and browser sessions (docs/secrets.md) --
    "putSecret": ("PUT", "/secrets/{name}"),
    "listSecrets": ("GET", "/secrets"),
    "deleteSecret": ("DELETE", "/secrets/{name}"),
    "deleteBrowserSession": ("DELETE", "/browser-sessions/{name}"),
}


@dataclass(frozen=True)
class Call(Generic[T]):
    """One request and the reader of its JSON answer (None for a 204)."""

    method: str
    path: str
    parse: Callable[[Any], T]
    params: Mapping[str, Any] = field(default_factory=dict)
    json: Any = None


def call(
    operation: str,
    parse: Callable[[Any], T],
    *,
    params: Mapping[str, Any] | None = None,
    json: Any = None,
    **path: str,
) -> Call[T]:
    """The call of `operation` with its path parameters filled in (each URL-quoted)."""
    method, template = OPERATIONS[operation]
    filled = template.format(**{k: quote(str(v), safe="") for k, v in path.items()})
    query = {k: _query_value(v) for k, v in (params or {}).items() if v is not None}
    return Call(method, filled, parse, query, json)


def _query_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _one(model: type[T], key: str) -> Callable[[Any], T]:
    return lambda body: model.model_validate(body[key])  # type: ignore[attr-defined,no-any-return]


def _page(model: type[T], key: str) -> Callable[[Any], tuple[list[T], str | None]]:
    def parse(body: Any) -> tuple[list[T], str | None]:
        items = [model.model_validate(i) for i in body[key]]  # type: ignore[attr-defined]
        return items, body.get("nextPageToken")

    return parse


def _nothing(_body: Any) -> None:
    return None


# -- tasks -------------------------------------------------------------------------------------
def create_task(definition: Mapping[str, Any]) -> Call[Task]:
    return call("createTask", _one(Task, "task"), json=dict(definition))


def get_task(task_id: str) -> Call[Task]:
    return call("getTask", _one(Task, "task"), taskId=task_id)


def list_tasks(page_size: int | None, token: str | None) -> Call[tuple[list[Task], str | None]]:
    params = {"pageSize": page_size, "pageToken": token}
    return call("listTasks", _page(Task, "tasks"), params=params)


def update_task(task_id: str, definition: Mapping[str, Any]) -> Call[Task]:
    return call("updateTask", _one(Task, "task"), json=dict(definition), taskId=task_id)


def delete_task(task_id: str) -> Call[None]:
    return call("deleteTask", _nothing, taskId=task_id)


def pause_task_schedule(task_id: str) -> Call[Task]:
    return call("pauseTaskSchedule", _one(Task, "task"), taskId=task_id)


def resume_task_schedule(task_id: str) -> Call[Task]:
    return call("resumeTaskSchedule", _one(Task, "task"), taskId=task_id)


# -- runs --------------------------------------------------------------------------------------
def create_run(
    task_id: str,
    inputs: Mapping[str, Any] | None,
    client_request_id: str | None,
    tags: Sequence[str] | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> Call[Run]:
    body: dict[str, Any] = {"inputs": dict(inputs or {})}
    if client_request_id is not None:
        body["clientRequestId"] = client_request_id
    if tags is not None:
        body["tags"] = list(tags)
    if metadata is not None:
        body["metadata"] = dict(metadata)
    return call("createRun", _one(Run, "run"), json=body, taskId=task_id)


def get_run(run_id: str) -> Call[Run]:
    return call("getRun", _one(Run, "run"), runId=run_id)


def list_runs(filters: Mapping[str, Any], token: str | None) -> Call[tuple[list[Run], str | None]]:
    return call("listRuns", _page(Run, "runs"), params={**filters, "pageToken": token})


def list_task_runs(task_id: str) -> Call[tuple[list[Run], str | None]]:
    return call("listTaskRuns", _page(Run, "runs"), taskId=task_id)


def run_logs(run_id: str, after: str | None, limit: int | None) -> Call[LogPage]:
    params = {"after": after, "limit": limit}
    return call("getRunLogs", LogPage.model_validate, params=params, runId=run_id)


def cancel_run(run_id: str, reason: str | None) -> Call[Run]:
    body = {"reason": reason} if reason is not None else {}
    return call("cancelRun", _one(Run, "run"), json=body, runId=run_id)


def resume_run(
    run_id: str, approved: bool, data: Mapping[str, Any] | None, comment: str | None
) -> Call[Run]:
    body: dict[str, Any] = {"approved": approved}
    if data is not None:
        body["data"] = dict(data)
    if comment is not None:
        body["comment"] = comment
    return call("resumeRun", _one(Run, "run"), json=body, runId=run_id)


def retry_run(
    run_id: str,
    from_start: bool,
    inputs: Mapping[str, Any] | None,
    client_request_id: str | None,
) -> Call[Run]:
    body: dict[str, Any] = {"fromStart": True} if from_start else {}
    if inputs is not None:
        body["inputs"] = dict(inputs)
    if client_request_id is not None:
        body["clientRequestId"] = client_request_id
    return call("retryRun", _one(Run, "run"), json=body, runId=run_id)


def cancel_runs(body: Mapping[str, Any]) -> Call[BulkCancelResult]:
    """`body`: {"runIds": [...]} or filter fields (None values left out), plus `reason`."""
    sent = {k: _query_value(v) for k, v in body.items() if v is not None}
    return call("cancelRuns", BulkCancelResult.model_validate, json=sent)


def get_bulk_cancel(job_id: str) -> Call[BulkCancelJob]:
    return call("getBulkCancel", _one(BulkCancelJob, "job"), jobId=job_id)


# -- webhooks ----------------------------------------------------------------------------------
def create_endpoint(body: Mapping[str, Any]) -> Call[WebhookEndpoint]:
    return call("createWebhookEndpoint", _one(WebhookEndpoint, "endpoint"), json=dict(body))


def list_endpoints() -> Call[list[WebhookEndpoint]]:
    def parse(body: Any) -> list[WebhookEndpoint]:
        return [WebhookEndpoint.model_validate(e) for e in body["endpoints"]]

    return call("listWebhookEndpoints", parse)


def get_endpoint(endpoint_id: str) -> Call[WebhookEndpoint]:
    parse = _one(WebhookEndpoint, "endpoint")
    return call("getWebhookEndpoint", parse, endpointId=endpoint_id)


def update_endpoint(endpoint_id: str, changes: Mapping[str, Any]) -> Call[WebhookEndpoint]:
    parse = _one(WebhookEndpoint, "endpoint")
    return call("updateWebhookEndpoint", parse, json=dict(changes), endpointId=endpoint_id)


def delete_endpoint(endpoint_id: str) -> Call[None]:
    return call("deleteWebhookEndpoint", _nothing, endpointId=endpoint_id)


def rotate_secret(endpoint_id: str, overlap_seconds: int | None) -> Call[WebhookEndpoint]:
    body = {"overlapSeconds": overlap_seconds} if overlap_seconds is not None else {}
    parse = _one(WebhookEndpoint, "endpoint")
    return call("rotateWebhookSecret", parse, json=body, endpointId=endpoint_id)


def test_endpoint(endpoint_id: str, event_type: str | None) -> Call[WebhookDelivery]:
    body = {"eventType": event_type} if event_type is not None else {}
    parse = _one(WebhookDelivery, "delivery")
    return call("testWebhookEndpoint", parse, json=body, endpointId=endpoint_id)


def list_deliveries(
    endpoint_id: str, status: str | None, page_size: int | None, token: str | None
) -> Call[tuple[list[WebhookDelivery], str | None]]:
    params = {"status": status, "pageSize": page_size, "pageToken": token}
    parse = _page(WebhookDelivery, "deliveries")
    return call("listWebhookDeliveries", parse, params=params, endpointId=endpoint_id)


def get_delivery(delivery_id: str) -> Call[WebhookDelivery]:
    parse = _one(WebhookDelivery, "delivery")
    return call("getWebhookDelivery", parse, deliveryId=delivery_id)


def replay_delivery(delivery_id: str) -> Call[WebhookDelivery]:
    parse = _one(WebhookDelivery, "delivery")
    return call("replayWebhookDelivery", parse, deliveryId=delivery_id)


def recover(endpoint_id: str, since: datetime, until: datetime | None) -> Call[RecoverResult]:
    body = {"since": since.isoformat()}
    if until is not None:
        body["until"] = until.isoformat()
    parse = RecoverResult.model_validate
    return call("recoverWebhookDeliveries", parse, json=body, endpointId=endpoint_id)


# -- API keys ----------------------------------------------------------------------------------
def create_key(name: str, scopes: list[str] | None) -> Call[ApiKey]:
    body: dict[str, Any] = {"name": name}
    if scopes is not None:
        body["scopes"] = scopes
    return call("createApiKey", _one(ApiKey, "apiKey"), json=body)


def list_keys() -> Call[list[ApiKey]]:
    return call("listApiKeys", lambda b: [ApiKey.model_validate(k) for k in b["apiKeys"]])


def revoke_key(key_id: str) -> Call[None]:
    return call("revokeApiKey", _nothing, keyId=key_id)


# -- organization secrets and browser sessions (docs/secrets.md) ----------------------------------
def put_secret(name: str, value: str, description: str | None) -> Call[Secret]:
    body: dict[str, Any] = {"value": value}
    if description is not None:
        body["description"] = description
    return call("putSecret", _one(Secret, "secret"), json=body, name=name)


def list_secrets() -> Call[list[Secret]]:
    return call("listSecrets", lambda b: [Secret.model_validate(s) for s in b["secrets"]])


def delete_secret(name: str) -> Call[None]:
    return call("deleteSecret", _nothing, name=name)


def delete_browser_session(name: str) -> Call[None]:
    return call("deleteBrowserSession", _nothing, name=name)
