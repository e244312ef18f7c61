"""The ASGI app: served by Mangum on Lambda and by uvicorn in the local cloud."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic.alias_generators import to_camel
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runhook import __version__
from runhook.api import errors
from runhook.api.routes import admin, artifacts, console, health, runs, secrets, tasks, webhooks
from runhook.api.schemas import DETAIL_CODES

if TYPE_CHECKING:
    from runhook.bootstrap import Container

PREFIX = "/public/v1"
MAX_BODY_BYTES = 1024 * 1024


class BodyLimit:
    """413 for bodies over the limit, counted as they stream (Content-Length can lie)."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await self._too_large(scope, receive, send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await self._too_large(scope, receive, send)

    @staticmethod
    async def _too_large(scope: Scope, receive: Receive, send: Send) -> None:
        response = JSONResponse({"detail": "payload_too_large"}, status_code=413)
        await response(scope, receive, send)


class _TooLarge(Exception):
    pass


def create_app(container: Container | None = None) -> FastAPI:
    """The API on `container` (None: the environment's, built on the first request)."""
    app = FastAPI(
        title="runhook public API",
        version=__version__,
        description=(
            "Run saved automations and hear about them through signed webhooks. "
            "Compatible with the Komos public API."
        ),
        openapi_url=f"{PREFIX}/openapi.json",
        docs_url=f"{PREFIX}/docs",
        redoc_url=None,
        generate_unique_id_function=operation_id,
    )
    app.state.container = container
    errors.install(app)
    for module in (health, runs, tasks, admin, webhooks, artifacts, secrets):
        app.include_router(module.router, prefix=PREFIX)
    # The web console (docs/console.md): static files at /console, not in the document.
    app.include_router(console.router)
    app.add_middleware(BodyLimit)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def operation_id(route: APIRoute) -> str:
    """The route function's name in camelCase (`get_run_logs` → `getRunLogs`): stable,
    and what a generated client names its method (`create_run_public_v1_...` otherwise)."""
    return to_camel(route.name)


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, with its 422 answers removed: validation errors are 400 here."""
    if app.openapi_schema:
        return app.openapi_schema
    from fastapi.openapi.utils import get_openapi

    spec = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    for operations in spec.get("paths", {}).values():
        for operation in operations.values():
            operation.get("responses", {}).pop("422", None)
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    _add_task_schema(spec, schemas)
    _add_detail_codes(spec)
    _add_links(spec)
    app.openapi_schema = spec
    return spec


def _add_task_schema(spec: dict[str, Any], schemas: dict[str, Any]) -> None:
    """The task definition's schema (the task routes' body, bounds included): the routes
    name it (runhook.api.routes.tasks), FastAPI knows only that the body is an object."""
    from runhook.tasks.definition import TaskDefinition

    ref = "#/components/schemas/TaskDefinition"
    task = TaskDefinition.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, schema in {**task.pop("$defs", {}), "TaskDefinition": task}.items():
        if name in schemas and schemas[name] != schema:
            raise RuntimeError(f"two OpenAPI schemas named {name}")
        schemas[name] = schema
    for operations in spec.get("paths", {}).values():
        for operation in operations.values():
            content = operation.get("requestBody", {}).get("content", {})
            body = content.get("application/json", {})
            if body.get("schema", {}).get("$ref") == ref:
                body["schema"] = {"$ref": ref}
    # A saved task's steps are the definition's step kinds (runhook.api.resources.Task
    # keeps them plain objects, so that they are sent as stored).
    schemas["Task"]["properties"]["steps"] = task["properties"]["steps"]


def _add_detail_codes(spec: dict[str, Any]) -> None:
    """Each error response's schema: Error, its `detail` one of the codes the route lists
    (runhook.api.schemas.responses), so that a client and a conformance check know them."""
    for operations in spec.get("paths", {}).values():
        for operation in operations.values():
            for response in operation.get("responses", {}).values():
                codes = response.pop(DETAIL_CODES, None)
                if codes is None:
                    continue
                response["content"]["application/json"]["schema"] = {
                    "allOf": [{"$ref": "#/components/schemas/Error"}],
                    "properties": {"detail": {"type": "string", "enum": codes}},
                }


# Where a created resource's id comes from, and the operations that take it: OpenAPI links
# (what a client, or schemathesis' stateful phase, follows from one call to the next).
_LINKS: tuple[tuple[str, str, str, str, str, tuple[tuple[str, str], ...]], ...] = (
    (
        "post /tasks",
        "201",
        "taskId",
        "$response.body#/task/id",
        "/tasks/{taskId}",
        (("get", ""), ("put", ""), ("delete", ""), ("post", "/runs"), ("get", "/runs")),
    ),
    (
        "post /tasks/{taskId}/runs",
        "202",
        "runId",
        "$response.body#/run/id",
        "/task-runs/{runId}",
        (
            ("get", ""),
            ("get", "/logs"),
            ("post", "/cancel"),
            ("post", "/resume"),
            ("get", "/artifacts"),
        ),
    ),
    (
        "post /webhook-endpoints",
        "201",
        "endpointId",
        "$response.body#/endpoint/id",
        "/webhook-endpoints/{endpointId}",
        (
            ("get", ""),
            ("patch", ""),
            ("delete", ""),
            ("post", "/rotate-secret"),
            ("post", "/test"),
            ("get", "/deliveries"),
            ("post", "/recover"),
        ),
    ),
    (
        "post /webhook-endpoints/{endpointId}/test",
        "202",
        "deliveryId",
        "$response.body#/delivery/id",
        "/webhook-deliveries/{deliveryId}",
        (("get", ""), ("post", "/replay")),
    ),
    (
        "post /api-keys",
        "201",
        "keyId",
        "$response.body#/apiKey/id",
        "/api-keys/{keyId}",
        (("delete", ""),),
    ),
)


def _add_links(spec: dict[str, Any]) -> None:
    paths = spec.get("paths", {})
    for source, status, parameter, expression, target, uses in _LINKS:
        method, path = source.split(" ")
        response = paths[PREFIX + path][method]["responses"][status]
        links = response.setdefault("links", {})
        for target_method, suffix in uses:
            operation = paths[PREFIX + target + suffix][target_method]
            links[operation["operationId"]] = {
                "operationId": operation["operationId"],
                "parameters": {parameter: expression},
            }


_app: FastAPI | None = None


def __getattr__(name: str) -> Any:
    """`app`: the app the local cloud serves (`runhook.api.app:app`), made on first access;
    its container comes from the environment on the first request. Lambda makes its own
    (functions/api/app.py), so importing this module builds no app."""
    global _app
    if name != "app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if _app is None:
        _app = create_app()
    return _app
