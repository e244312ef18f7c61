"""Route modules, one per resource, and the router every one of them makes.

Each module's routes are built once, by its router, with their final path and operation
id: runhook.api.app places them on the app as they are (FastAPI's include_router would
build every route a second time, for its inclusion, on the first request it sees).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from fastapi.routing import APIRoute
from pydantic.alias_generators import to_camel
from starlette.routing import compile_path, get_name

from runhook.api.strict import StrictJSONRoute

PREFIX = "/public/v1"


def operation_id(route: APIRoute) -> str:
    """The route function's name in camelCase (`get_run_logs` → `getRunLogs`): stable,
    and what a generated client names its method (`create_run_public_v1_...` otherwise)."""
    return to_camel(route.name)


def api_router(tag: str) -> APIRouter:
    """The router of a public API module: under PREFIX, in the document under `tag`; its
    routes are built when they first answer a request (DeferredRouter)."""
    return DeferredRouter(
        prefix=PREFIX,
        tags=[tag],
        route_class=StrictJSONRoute,
        generate_unique_id_function=operation_id,
    )


class DeferredRouter(APIRouter):
    """An APIRouter whose routes FastAPI builds when one first handles a request.

    A Lambda container's first request is answered by one route, but routing it reads
    every route of the modules its path claims (runhook.api.app.RouteLoader): building
    them all (dependants, pydantic adapters of parameters, bodies and response models)
    was ~30 ms of CPU for the run routes alone. A DeferredRoute matches a path as the
    built route would (its path and methods are known without building) and builds on
    first use of anything else."""

    def add_api_route(self, path: str, endpoint: Callable[..., Any], **options: Any) -> None:
        self.routes.append(DeferredRoute(self, path, endpoint, options))


_BUILDING = threading.Lock()  # two first requests at once build a route once


class DeferredRoute(StrictJSONRoute):
    """A route of a DeferredRouter: its path, methods, name and endpoint now, everything
    else (read through `__getattr__`) from the route FastAPI builds on first use, with the
    same router and options as `APIRouter.add_api_route` would have built it at import.

    An APIRoute, so the document, FastAPI's include_router and a route's checks read it
    as one; Starlette's `matches` uses only what is set here, so routing a request builds
    only the route that handles it."""

    def __init__(
        self, router: APIRouter, path: str, endpoint: Callable[..., Any], options: dict[str, Any]
    ) -> None:  # no super().__init__(): that is the build this class defers
        self._source = (router, path, endpoint, options)
        self._built: APIRoute | None = None
        self.path = router.prefix + path
        self.endpoint = endpoint
        name: str | None = options.get("name")
        self.name = get_name(endpoint) if name is None else name
        self.methods = {method.upper() for method in options.get("methods") or ["GET"]}
        self.path_regex, self.path_format, self.param_convertors = compile_path(self.path)

    @property
    def built(self) -> APIRoute:
        """The route FastAPI builds (once)."""
        if self._built is None:
            with _BUILDING:
                if self._built is None:
                    self._built = self._build()
        return self._built

    def _build(self) -> APIRoute:
        router, path, endpoint, options = self._source
        scratch = APIRouter(  # the module router's settings, without its deferred routes
            prefix=router.prefix,
            tags=list(router.tags),
            route_class=router.route_class,
            generate_unique_id_function=router.generate_unique_id_function,
        )
        APIRouter.add_api_route(scratch, path, endpoint, **options)
        route = scratch.routes[-1]
        assert isinstance(route, APIRoute)
        known = ("path", "name", "methods", "path_format")
        if any(getattr(route, key) != getattr(self, key) for key in known):
            raise RuntimeError(f"the deferred route {self.path} differs from FastAPI's")
        return route

    def __getattr__(self, name: str) -> Any:
        # Only for attributes not set in __init__: FastAPI's, from the built route.
        if name.startswith("__") or name in {"_source", "_built"}:
            raise AttributeError(name)
        return getattr(self.built, name)
