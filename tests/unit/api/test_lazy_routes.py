"""The API loads its route modules on the first request that needs them (issue 16 §3).

runhook.api.app.RouteLoader must change nothing a caller can see: the same OpenAPI
document, byte for byte, and every request routed to the same route (the same 404, 405
and redirect) as an app that includes every router at once, the FastAPI way. Each
request here goes to a fresh lazy app, so that only the modules its path claims are
loaded when it is routed. No key is sent: every route that needs one answers 401 from
its dependency before its body runs, so the container (a real one, from an explicit
environment) never reaches AWS.
"""

from __future__ import annotations

import json
import threading
from importlib import import_module
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from starlette.types import Receive, Scope, Send

from runhook.api.app import (
    PREFIX,
    ROUTE_MODULES,
    BodyLimit,
    RouteModule,
    _within_claims,
    create_app,
    new_app,
    openapi_document,
)
from runhook.bootstrap import Container

ENVIRON = {
    "TABLE_NAME": "lazy-routes-test",
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_ENDPOINT_URL": "http://127.0.0.1:9",  # nothing listens: no request reaches AWS
}


def eager_app() -> FastAPI:
    """The app as it was before lazy loading: every router included, in order."""
    app = new_app(Container.from_environment(ENVIRON))
    for module in ROUTE_MODULES:
        app.include_router(import_module(f"runhook.api.routes.{module.name}").router)
    app.add_middleware(BodyLimit)
    app.openapi = lambda: openapi_document(app)  # type: ignore[method-assign]
    return app


def lazy_app() -> FastAPI:
    return create_app(Container.from_environment(ENVIRON))


class Recorder:
    """The app, remembering the route each request was routed to (Starlette writes it into
    the request's scope, which every layer of the app passes on as the same dict)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.routes: list[Any] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)
        if scope["type"] == "http":
            self.routes.append(scope.get("route"))


def answer(app: FastAPI, method: str, path: str) -> tuple[Any, int, str, str, bytes]:
    """(the route, status, Allow, Location, body) of one request to `app`."""
    recorder = Recorder(app)
    with TestClient(recorder, follow_redirects=False) as client:
        response = client.request(method, path)
    return (
        recorder.routes[-1],
        response.status_code,
        response.headers.get("allow", ""),
        response.headers.get("location", ""),
        response.content,
    )


# Overlapping paths first: /task-runs/cancel is both a route of its own (POST) and a run
# id (GET /task-runs/{runId}); artifacts share /task-runs with the runs module.
REQUESTS = [
    ("GET", "/task-runs/cancel"),
    ("POST", "/task-runs/cancel"),
    ("DELETE", "/task-runs/cancel"),
    ("GET", "/task-runs/cancel/job_1"),
    ("POST", "/task-runs/run_1/cancel"),
    ("GET", "/task-runs/run_1/cancel"),
    ("GET", "/task-runs/run_1"),
    ("GET", "/task-runs/run_1/logs"),
    ("GET", "/task-runs/run_1/artifacts"),
    ("GET", "/task-runs/run_1/artifacts/shot.png"),
    ("GET", "/task-runs"),
    ("GET", "/task-runs/"),
    ("GET", "/tasks"),
    ("POST", "/tasks"),
    ("GET", "/tasks/"),
    ("GET", "/tasks/task_1"),
    ("PATCH", "/tasks/task_1"),
    ("POST", "/tasks/task_1/runs"),
    ("GET", "/tasks/task_1/runs"),
    ("POST", "/tasks/task_1/schedule/pause"),
    ("GET", "/tasks/task_1/schedule/pause"),
    ("POST", "/health"),
    ("GET", "/api-keys"),
    ("DELETE", "/api-keys/key_1"),
    ("GET", "/organization"),
    ("PUT", "/organization"),
    ("GET", "/webhook-endpoints/ep_1/deliveries"),
    ("POST", "/webhook-deliveries/d_1/replay"),
    ("GET", "/secrets"),
    ("PUT", "/secrets/s_1"),
    ("DELETE", "/browser-sessions/b_1"),
    ("GET", "/taskszzz"),
    ("GET", "/nowhere"),
    ("GET", ""),
    ("GET", "/"),
]
OUTSIDE = [("GET", "/"), ("GET", "/console"), ("GET", "/console/"), ("GET", "/elsewhere")]


@pytest.fixture(scope="module")
def eager() -> FastAPI:
    return eager_app()


@pytest.mark.parametrize(
    ("method", "path"), [(m, PREFIX + p) for m, p in REQUESTS] + OUTSIDE, ids=str
)
def test_a_first_request_is_routed_as_the_eager_app_routes_it(
    eager: FastAPI, method: str, path: str
) -> None:
    lazy = lazy_app()
    assert answer(lazy, method, path) == answer(eager, method, path)


def test_the_routes_are_in_the_eager_order_whatever_order_they_load_in(
    eager: FastAPI,
) -> None:
    app = lazy_app()
    paths = ["/secrets", "/webhook-endpoints", "/task-runs/x", "/health", "/tasks"]
    for path in paths:
        app.state.routes.load_for({"type": "http", "path": PREFIX + path, "root_path": ""})
    assert app.state.routes.loaded == {"secrets", "webhooks", "runs", "artifacts", "health"} | {
        "tasks"
    }
    app.state.routes.load_all()
    expected = [
        route
        for module in ROUTE_MODULES
        for route in import_module(f"runhook.api.routes.{module.name}").router.routes
    ]
    assert app.router.routes[-len(expected) :] == expected
    for method, path in REQUESTS:
        assert answer(app, method, PREFIX + path) == answer(eager, method, PREFIX + path)


def test_a_path_claims_only_its_modules_and_an_unclaimed_one_loads_all() -> None:
    app = lazy_app()
    assert answer(app, "GET", PREFIX + "/task-runs/run_1")[1] == 401
    assert app.state.routes.loaded == {"runs", "artifacts"}
    assert answer(app, "GET", PREFIX + "/taskszzz")[1] == 404
    assert app.state.routes.loaded == {m.name for m in ROUTE_MODULES}


def test_the_document_is_byte_identical(eager: FastAPI) -> None:
    lazy = lazy_app()
    assert json.dumps(lazy.openapi()) == json.dumps(eager.openapi())
    with TestClient(lazy_app()) as one, TestClient(eager) as other:
        served = one.get(PREFIX + "/openapi.json")
        assert served.status_code == 200
        assert served.content == other.get(PREFIX + "/openapi.json").content


def test_two_first_requests_at_once_load_each_module_once(eager: FastAPI) -> None:
    app = lazy_app()
    requests = [("GET", PREFIX + "/task-runs/run_1"), ("GET", PREFIX + "/webhook-endpoints")]
    requests *= 4
    barrier = threading.Barrier(len(requests))
    answers: dict[int, tuple[Any, ...]] = {}

    def send(index: int, method: str, path: str) -> None:
        barrier.wait()
        answers[index] = answer(app, method, path)

    threads = [threading.Thread(target=send, args=(i, *r)) for i, r in enumerate(requests)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [answers[i] for i in range(len(requests))] == [answer(eager, *r) for r in requests]
    routes = app.router.routes
    assert len(routes) == len({id(r) for r in routes}), "a module's routes placed twice"
    assert app.state.routes.loaded == {"runs", "artifacts", "webhooks"}


def routes_at(*paths: str) -> list[Any]:
    router = APIRouter()
    for path in paths:
        router.add_api_route(path, lambda: None)
    return list(router.routes)


@pytest.mark.parametrize("path", ["/public/v1/tasksX", "/public/v1/tasks{x}", "/tasks/a"])
def test_a_route_outside_its_modules_claims_is_refused(path: str) -> None:
    module = RouteModule("tasks", PREFIX, ("tasks",))
    with pytest.raises(RuntimeError, match="outside"):
        _within_claims(module, routes_at(path))


def test_a_route_inside_its_claims_is_kept() -> None:
    module = RouteModule("tasks", PREFIX, ("tasks",))
    inside = routes_at("/public/v1/tasks", "/public/v1/tasks/{taskId}", "/public/v1/tasks/")
    assert _within_claims(module, inside) == inside


# A fresh interpreter: the route modules' routers are module-level, so routes built by
# another test of this process would count as built.
_FIRST_REQUEST_PROBE = """
import json, sys
from fastapi.testclient import TestClient
from runhook.api.app import create_app
from runhook.api.routes import DeferredRoute
from runhook.bootstrap import Container
app = create_app(Container.from_environment(json.loads(sys.argv[1])))
with TestClient(app) as client:
    status = client.get(sys.argv[2]).status_code
deferred = [r for r in app.router.routes if isinstance(r, DeferredRoute)]
print(json.dumps({"status": status, "routes": len(deferred),
                  "built": [r.name for r in deferred if r._built is not None]}))
"""


def first_request_in_a_fresh_interpreter(path: str) -> dict[str, Any]:
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-c", _FIRST_REQUEST_PROBE, json.dumps(ENVIRON), path],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def test_a_first_request_builds_only_the_route_that_answers_it() -> None:
    """Routing reads every route of the loaded modules; only the one that handles the
    request is built by FastAPI (runhook.api.routes.DeferredRouter)."""
    first = first_request_in_a_fresh_interpreter(PREFIX + "/task-runs/run_1")
    assert first["status"] == 401
    assert first["routes"] == 12  # the runs and artifacts modules' routes, loaded
    assert first["built"] == ["get_run"]
    refused = first_request_in_a_fresh_interpreter(PREFIX + "/task-runs/run_1/nothing")
    assert (refused["status"], refused["built"]) == (404, [])


def test_a_built_route_is_the_route_fastapi_builds() -> None:
    """What a deferred route reads from its built route is what add_api_route makes: the
    same path, name, methods, operation id, response model and status code."""
    from runhook.api.routes import DeferredRoute, runs

    for route in runs.router.routes:
        assert isinstance(route, DeferredRoute)
        built = route.built
        assert type(built).__name__ == "StrictJSONRoute"
        assert (route.path, route.name, route.methods) == (built.path, built.name, built.methods)
        assert route.unique_id == built.unique_id == operation_id_of(route.name)
        assert route.response_model is built.response_model is not None
        assert route.status_code == built.status_code


def operation_id_of(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)
