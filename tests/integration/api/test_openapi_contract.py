"""The OpenAPI document is a typed contract: every answer has a schema, every operation a
stable name, and an independent generator turns it into a typed client.

The document is built in-process (runhook.api.app.create_app), as the docs page and the
local cloud serve it; what the API actually sends is held against it by the routes'
response models and by schemathesis (tests/e2e/api/test_schemathesis.py).
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runhook.api.app import create_app
from runhook.models import Run, RunError, RunStatus, Waiting

# The public names of the operations: SDKs, CLIs and the document's links use them, so
# renaming one is a breaking change; this list changes only on purpose.
OPERATION_IDS = {
    ("get", "/health"): "getHealth",
    ("post", "/tasks/{taskId}/runs"): "createRun",
    ("get", "/tasks/{taskId}/runs"): "listTaskRuns",
    ("get", "/task-runs"): "listRuns",
    ("get", "/task-runs/{runId}"): "getRun",
    ("get", "/task-runs/{runId}/logs"): "getRunLogs",
    ("post", "/task-runs/{runId}/cancel"): "cancelRun",
    ("post", "/task-runs/{runId}/resume"): "resumeRun",
    ("get", "/task-runs/{runId}/artifacts"): "listArtifacts",
    ("get", "/task-runs/{runId}/artifacts/{name}"): "getArtifact",
    ("post", "/tasks"): "createTask",
    ("get", "/tasks"): "listTasks",
    ("get", "/tasks/{taskId}"): "getTask",
    ("put", "/tasks/{taskId}"): "updateTask",
    ("delete", "/tasks/{taskId}"): "deleteTask",
    ("post", "/tasks/{taskId}/schedule/pause"): "pauseTaskSchedule",
    ("post", "/tasks/{taskId}/schedule/resume"): "resumeTaskSchedule",
    ("post", "/api-keys"): "createApiKey",
    ("get", "/api-keys"): "listApiKeys",
    ("delete", "/api-keys/{keyId}"): "revokeApiKey",
    ("get", "/organization"): "getOrganization",
    ("patch", "/organization"): "updateOrganization",
    ("post", "/webhook-endpoints"): "createWebhookEndpoint",
    ("get", "/webhook-endpoints"): "listWebhookEndpoints",
    ("get", "/webhook-endpoints/{endpointId}"): "getWebhookEndpoint",
    ("patch", "/webhook-endpoints/{endpointId}"): "updateWebhookEndpoint",
    ("delete", "/webhook-endpoints/{endpointId}"): "deleteWebhookEndpoint",
    ("post", "/webhook-endpoints/{endpointId}/rotate-secret"): "rotateWebhookEndpointSecret",
    ("post", "/webhook-endpoints/{endpointId}/test"): "testWebhookEndpoint",
    ("get", "/webhook-endpoints/{endpointId}/deliveries"): "listWebhookDeliveries",
    ("post", "/webhook-endpoints/{endpointId}/recover"): "recoverWebhookDeliveries",
    ("get", "/webhook-deliveries/{deliveryId}"): "getWebhookDelivery",
    ("post", "/webhook-deliveries/{deliveryId}/replay"): "replayWebhookDelivery",
    # issue 14: run management
    ("post", "/task-runs/{runId}/retry"): "retryRun",
    ("post", "/task-runs/cancel"): "cancelRuns",
    ("get", "/task-runs/cancel/{jobId}"): "getBulkCancel",
    # organization secrets and browser sessions (docs/secrets.md)
    ("put", "/secrets/{name}"): "putSecret",
    ("get", "/secrets"): "listSecrets",
    ("delete", "/secrets/{name}"): "deleteSecret",
    ("delete", "/browser-sessions/{name}"): "deleteBrowserSession",
}
PREFIX = "/public/v1"
CAMEL_CASE = re.compile(r"^[a-z]+(?:[A-Z][a-z]+)*$")


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return create_app().openapi()


def _operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            yield method, path.removeprefix(PREFIX), operation


def test_operation_ids_are_the_stable_camel_case_names(spec: dict[str, Any]) -> None:
    found = {(method, path): op["operationId"] for method, path, op in _operations(spec)}
    assert found == OPERATION_IDS
    assert all(CAMEL_CASE.match(name) for name in found.values())
    assert all(op.get("tags") for _, _, op in _operations(spec))


def test_every_answer_has_a_named_schema(spec: dict[str, Any]) -> None:
    """2xx: a component schema (204: no body); errors: Error with its `detail` codes."""
    schemas = spec["components"]["schemas"]
    for method, path, operation in _operations(spec):
        where = f"{method.upper()} {path}"
        for status, response in operation["responses"].items():
            if status == "204":
                assert "content" not in response, where
                continue
            schema = response["content"]["application/json"]["schema"]
            if status.startswith("2"):
                ref = schema["$ref"]
                assert ref.startswith("#/components/schemas/"), (where, status)
                assert schemas[ref.rsplit("/", 1)[1]]["properties"], (where, status)
                continue
            assert schema["allOf"] == [{"$ref": "#/components/schemas/Error"}], (where, status)
            codes = schema["properties"]["detail"]["enum"]
            assert codes and all(re.match(r"^[a-z_]+$", c) for c in codes), (where, status)
            if status in ("429", "503"):
                assert "Retry-After" in response["headers"], (where, status)


def test_errors_state_their_codes(spec: dict[str, Any]) -> None:
    """A sample of the codes a client must be able to tell apart."""

    def codes(method: str, path: str, status: str) -> list[str]:
        response = spec["paths"][PREFIX + path][method]["responses"][status]
        return list(
            response["content"]["application/json"]["schema"]["properties"]["detail"]["enum"]
        )

    assert codes("post", "/tasks/{taskId}/runs", "402") == ["usage_limit_exceeded"]
    assert "invalid_inputs" in codes("post", "/tasks/{taskId}/runs", "400")
    assert codes("post", "/task-runs/{runId}/resume", "409") == ["run_not_waiting"]
    assert codes("get", "/task-runs/{runId}", "403") == ["ip_not_allowed", "forbidden"]
    assert codes("get", "/task-runs", "429") == ["rate_limited"]
    assert codes("get", "/health", "503") == ["service_unavailable"]


def test_run_schema_states_every_field_and_its_nulls(spec: dict[str, Any]) -> None:
    run = spec["components"]["schemas"]["Run"]
    assert set(run["required"]) == set(run["properties"])
    for nullable in ("progress", "error", "waiting", "cancelReason", "clientRequestId"):
        assert {"type": "null"} in run["properties"][nullable]["anyOf"], nullable
    assert run["additionalProperties"] is False
    steps = spec["components"]["schemas"]["Task"]["properties"]["steps"]["items"]
    assert "#/components/schemas/HttpStep" in steps["discriminator"]["mapping"].values()


def test_links_name_existing_operations(spec: dict[str, Any]) -> None:
    ids = set(OPERATION_IDS.values())
    linked = [
        link["operationId"]
        for _, _, operation in _operations(spec)
        for response in operation["responses"].values()
        for link in response.get("links", {}).values()
    ]
    assert len(linked) >= 20
    assert set(linked) <= ids
    assert "getRunLogs" in linked


def _sample_run() -> dict[str, Any]:
    return _sample_run_model().to_resource("https://api.example.com")


def _sample_run_model() -> Run:
    return Run(
        id="4f9c2d1e-8b7a-4c3d-9e2f-1a2b3c4d5e6f",
        org_id="org",
        task_id="0c9c2d1e-8b7a-4c3d-9e2f-1a2b3c4d5e6f",
        task_version=2,
        status=RunStatus.FAILED,
        created_at="2026-01-31T09:30:00.123Z",
        started_at="2026-01-31T09:30:01.000Z",
        finished_at="2026-01-31T09:30:02.500Z",
        current_step=1,
        steps_total=3,
        inputs={"orderId": "A-1"},
        error=RunError(code="http_error", message="500 from shop", nodeId="fetch"),
        waiting=Waiting(nodeId="ok", prompt="Ship?", since="2026-01-31T09:30:01.500Z"),
    )


@pytest.mark.slow
def test_an_independent_generator_makes_a_typed_client(
    spec: dict[str, Any], tmp_path: Path
) -> None:
    """openapi-python-client (not FastAPI, not us) reads the document: it must produce a
    typed `Run` that parses what the API sends, and functions named after the operations."""
    document = tmp_path / "openapi.json"
    document.write_text(json.dumps(spec))
    package = tmp_path / "runhook_generated"
    generator = Path(sys.executable).with_name("openapi-python-client")
    result = subprocess.run(
        [str(generator), "generate", "--path", str(document), "--meta", "none"]
        + ["--output-path", str(package), "--fail-on-warning"],
        capture_output=True,
        text=True,
        timeout=240,
        stdin=subprocess.DEVNULL,
        cwd=tmp_path,
        # Its post-hooks run `ruff` from PATH: the venv's, also when pytest runs without an
        # activated venv (`make test`, CI).
        env={**os.environ, "PATH": f"{generator.parent}{os.pathsep}{os.environ.get('PATH', '')}"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for tag, name in (
        ("runs", "create_run"),
        ("runs", "get_run"),
        ("runs", "list_runs"),
        ("runs", "get_run_logs"),
        ("tasks", "create_task"),
        ("webhooks", "create_webhook_endpoint"),
    ):
        assert (package / "api" / tag / f"{name}.py").is_file(), name

    sys.path.insert(0, str(tmp_path))
    try:
        models = importlib.import_module("runhook_generated.models")
        create_run = importlib.import_module("runhook_generated.api.runs.create_run")
        parsed = models.Run.from_dict(_sample_run())
        assert parsed.status == models.RunStatus.FAILED
        assert parsed.task_version == 2
        assert parsed.timestamps.created_at.microsecond == 123000
        assert parsed.error.node_id == "fetch"
        assert parsed.waiting.prompt == "Ship?"
        assert parsed.progress.steps_total == 3
        parameters = inspect.signature(create_run.sync).parameters
        assert {"task_id", "client", "body"} <= set(parameters)
        returned = inspect.signature(create_run.sync).return_annotation
        assert "RunResponse" in str(returned) and "Error" in str(returned)
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m.startswith("runhook_generated")]:
            del sys.modules[name]


def _resources() -> Iterator[tuple[type[Any], dict[str, Any]]]:
    """Domain objects as the API shows them, many fields null, with their response model."""
    from runhook.api import resources
    from runhook.models import ApiKey
    from runhook.tasks.task import Task
    from runhook.webhook_models import Attempt, Delivery, Endpoint, Health

    now = "2026-01-31T09:30:00.123Z"
    pending = Run.model_validate({**_sample_run_model().model_dump(), "status": "PENDING"})
    yield resources.RunResponse, {"run": _sample_run()}
    yield resources.RunResponse, {"run": pending.to_resource("https://api.example.com")}
    definition = json.loads(Path("examples/tasks/fetch-order-total.json").read_text())
    task = Task(
        id="t", org_id="o", version=1, created_at=now, updated_at=now, definition=definition
    )
    yield resources.TaskResponse, {"task": task.to_resource()}
    key = ApiKey(
        id="k", org_id="o", name="ci", prefix="sk_live_ab", scopes=["runs"], created_at=now
    )
    yield resources.ApiKeyList, {"apiKeys": [key.to_resource()]}
    endpoint = Endpoint(
        id="e", org_id="o", url="https://x.example", secret="s", created_at=now, updated_at=now
    )
    yield resources.WebhookEndpointResponse, {"endpoint": endpoint.to_resource(Health())}
    delivery = Delivery(
        id="d",
        org_id="o",
        endpoint_id="e",
        event_type="task-run.completed",
        webhook_id="msg_1",
        payload="{}",
        created_at=now,
    ).with_attempts(
        [Attempt(delivery_id="d", endpoint_id="e", number=1, at=now, ok=False, status_code=500)]
    )
    yield resources.WebhookDeliveryResponse, {"delivery": delivery.to_resource()}
    yield (
        resources.WebhookDeliverySummaryResponse,
        {"delivery": delivery.to_resource(include_attempts=False)},
    )


def test_response_models_send_the_resources_unchanged() -> None:
    """What FastAPI does with a route's answer (validate, then serialise without dropping
    nulls) gives back exactly the dict the domain built: the JSON does not change."""
    from pydantic import TypeAdapter

    for model, resource in _resources():
        adapter = TypeAdapter(model)
        sent = adapter.dump_python(adapter.validate_python(resource), mode="json")
        assert sent == json.loads(json.dumps(resource)), model.__name__


def test_routes_keep_null_fields() -> None:
    """No route drops nulls (FastAPI's `response_model_exclude_none`/`_unset`), and every
    route with a body declares its model. Read from the route modules' routers: FastAPI
    wraps included routers, the app's own list does not show their routes."""
    from fastapi.routing import APIRoute

    from runhook.api.routes import admin, artifacts, health, runs, secrets, tasks, webhooks

    modules = (admin, artifacts, health, runs, tasks, webhooks, secrets)
    routes = [r for m in modules for r in m.router.routes if isinstance(r, APIRoute)]
    assert len(routes) == len(OPERATION_IDS)
    for route in routes:
        assert route.status_code == 204 or route.response_model is not None, route.name
        assert not route.response_model_exclude_none, route.name
        assert not route.response_model_exclude_unset, route.name
