"""The ASGI app: served by Mangum on Lambda and by uvicorn in the local cloud."""

from __future__ import annotations

import importlib
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runhook import __version__
from runhook.api import errors
from runhook.api.routes import PREFIX, operation_id
from runhook.api.schemas import DETAIL_CODES

if TYPE_CHECKING:
    from runhook.bootstrap import Container

__all__ = ["PREFIX", "RouteLoader", "create_app", "operation_id"]
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


@dataclass(frozen=True)
class RouteModule:
    """A module of runhook.api.routes, where it is mounted, and the paths it serves.

    `claims` are the first path segments below `prefix` that the module's routes start
    with: a request whose path lies under none of a module's claims cannot match any of
    its routes, so the module need not be loaded to answer it (RouteLoader checks every
    loaded route against its module's claims)."""

    name: str
    prefix: str
    claims: tuple[str, ...]

    def claimed_paths(self) -> tuple[str, ...]:
        return tuple(f"{self.prefix}/{segment}" for segment in self.claims)


# The canonical order: a route's precedence is its module's place here, then its place in
# its module, whether the modules are loaded at once or one by one.
ROUTE_MODULES: tuple[RouteModule, ...] = (
    RouteModule("health", PREFIX, ("health",)),
    RouteModule("runs", PREFIX, ("tasks", "task-runs")),
    RouteModule("tasks", PREFIX, ("tasks",)),
    RouteModule("admin", PREFIX, ("api-keys", "organization")),
    RouteModule("webhooks", PREFIX, ("webhook-endpoints", "webhook-deliveries")),
    RouteModule("artifacts", PREFIX, ("task-runs",)),
    RouteModule("secrets", PREFIX, ("secrets", "browser-sessions")),
    # The web console (docs/console.md): static files at /console, not in the document.
    RouteModule("console", "", ("console",)),
)


def claimed(path: str, claims: tuple[str, ...]) -> bool:
    """Whether `path` is one of `claims` or lies below one (segment-wise: /tasksX is not
    below /tasks)."""
    return any(path == claim or path.startswith(claim + "/") for claim in claims)


class RouteLoader:
    """Imports route modules when a request first needs them, keeping the eager order.

    A Lambda container answers one request before any other, and building FastAPI's
    routes (dependants, pydantic adapters) was most of the API's cold start. A module's
    router builds its routes with their final paths (runhook.api.routes.api_router); the
    loader places them on the app's router as they are, after FastAPI's own routes and in
    ROUTE_MODULES' order, whatever order the modules load in: the app's routes are always
    the eager app's, minus modules that cannot match the request. A path no module
    claims, a path under a root path, and the document (`app.openapi()`) load every
    module, so that 404 and 405 answers and the document are the whole app's.
    """

    def __init__(self, app: FastAPI) -> None:
        self._router = app.router
        self._own = list(app.router.routes)  # FastAPI's: the document and the docs page
        self._routes: dict[str, list[BaseRoute]] = {}
        self._lock = threading.Lock()  # two first requests at once (threads, TestClient)

    @property
    def loaded(self) -> frozenset[str]:
        return frozenset(self._routes)

    def load_for(self, scope: Scope) -> None:
        """Load what a request with this scope can be routed to."""
        if len(self._routes) == len(ROUTE_MODULES):
            return
        path: str = scope.get("path", "")
        wanted = [m for m in ROUTE_MODULES if claimed(path, m.claimed_paths())]
        if not wanted or scope.get("root_path"):
            wanted = list(ROUTE_MODULES)
        self._load(wanted)

    def load_all(self) -> None:
        self._load(list(ROUTE_MODULES))

    def _load(self, modules: list[RouteModule]) -> None:
        if all(m.name in self._routes for m in modules):
            return
        with self._lock:
            loaded = dict(self._routes)
            for module in modules:
                if module.name not in loaded:
                    router = importlib.import_module(f"runhook.api.routes.{module.name}").router
                    loaded[module.name] = _within_claims(module, router.routes)
            ordered = [r for m in ROUTE_MODULES for r in loaded.get(m.name, [])]
            # A new list, swapped in whole: a request routing now reads the old one, which
            # holds every module its own path needs (it loaded them before routing).
            self._router.routes = [*self._own, *ordered]
            self._routes = loaded


def _within_claims(module: RouteModule, routes: list[BaseRoute]) -> list[BaseRoute]:
    """`routes`, refused if one lies outside its module's claims: RouteLoader would not
    load the module for a request the route matches (a 404 where the eager app had none).
    Below a claim means a literal `/` after it (`/tasks{x}` is not below `/tasks`)."""
    claims = module.claimed_paths()
    for route in routes:
        path = str(getattr(route, "path", ""))
        literal = path.split("{", 1)[0]
        if path not in claims and not any(literal.startswith(c + "/") for c in claims):
            raise RuntimeError(f"route {path} is outside {module.name}'s claims {module.claims}")
    return list(routes)


class LoadRoutes:
    """The ASGI layer that has RouteLoader load a request's route modules before routing."""

    def __init__(self, app: ASGIApp, loader: RouteLoader) -> None:
        self.app = app
        self.loader = loader

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in {"http", "websocket"}:
            self.loader.load_for(scope)
        await self.app(scope, receive, send)


def create_app(container: Container | None = None) -> FastAPI:
    """The API on `container` (None: the environment's, built on the first request).

    Its route modules are imported by the first request that needs them (RouteLoader);
    `app.state.routes.load_all()` loads them all now."""
    app = new_app(container)
    loader = RouteLoader(app)
    app.state.routes = loader
    app.add_middleware(LoadRoutes, loader=loader)
    app.add_middleware(BodyLimit)

    def document() -> dict[str, Any]:
        loader.load_all()
        return openapi_document(app)

    app.openapi = document  # type: ignore[method-assign]
    return app


def new_app(container: Container | None) -> FastAPI:
    """The app without its routes: its metadata, error handlers and container."""
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
    return app


def openapi_document(app: FastAPI) -> dict[str, Any]:
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
    _add_error_schema(spec)
    _add_task_schema(spec, spec["components"]["schemas"])
    _add_detail_codes(spec)
    _add_links(spec)
    app.openapi_schema = spec
    return spec


def _add_error_schema(spec: dict[str, Any]) -> None:
    """The Error schema the error responses refer to (runhook.api.schemas.ERROR_SCHEMA), in
    its place among FastAPI's schemas (sorted by name): the routes name it by reference, so
    FastAPI does not generate it. Made as FastAPI makes a response model's (serialization
    mode, then through its OpenAPI `Schema` model), so the document is the same as with one."""
    from fastapi.encoders import jsonable_encoder
    from fastapi.openapi.models import Schema
    from pydantic import TypeAdapter
    from pydantic.json_schema import GenerateJsonSchema

    from runhook.api.resources import Error

    generator = GenerateJsonSchema(ref_template="#/components/schemas/{model}")
    core_schema = TypeAdapter(Error).core_schema
    _, definitions = generator.generate_definitions([("Error", "serialization", core_schema)])
    schemas = spec["components"]["schemas"]
    for name, made in definitions.items():
        schema = jsonable_encoder(Schema(**made), by_alias=True, exclude_none=True)
        if name in schemas and schemas[name] != schema:
            raise RuntimeError(f"two OpenAPI schemas named {name}")
        schemas[name] = schema
    spec["components"]["schemas"] = {name: schemas[name] for name in sorted(schemas)}


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
