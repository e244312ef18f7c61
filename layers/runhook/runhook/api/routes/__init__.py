"""Route modules, one per resource, and the router every one of them makes.

Each module's routes are built once, by its router, with their final path and operation
id: runhook.api.app places them on the app as they are (FastAPI's include_router would
build every route a second time, for its inclusion, on the first request it sees).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter
from pydantic.alias_generators import to_camel

from runhook.api.strict import StrictJSONRoute

if TYPE_CHECKING:
    from fastapi.routing import APIRoute

PREFIX = "/public/v1"


def operation_id(route: APIRoute) -> str:
    """The route function's name in camelCase (`get_run_logs` → `getRunLogs`): stable,
    and what a generated client names its method (`create_run_public_v1_...` otherwise)."""
    return to_camel(route.name)


def api_router(tag: str) -> APIRouter:
    """The router of a public API module: under PREFIX, in the document under `tag`."""
    return APIRouter(
        prefix=PREFIX,
        tags=[tag],
        route_class=StrictJSONRoute,
        generate_unique_id_function=operation_id,
    )
