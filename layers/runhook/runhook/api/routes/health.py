"""Health: no auth; proves the function can reach its table."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from runhook import __version__
from runhook.api.strict import StrictJSONRoute
from runhook.dal.dynamo import get
from runhook.errors import ServiceUnavailable

router = APIRouter(tags=["health"], route_class=StrictJSONRoute)


@router.get(
    "/health",
    summary="Liveness and table reachability",
    responses={503: {"description": "table unreachable"}},
)
def health() -> dict[str, Any]:
    try:
        get("HEALTH", "HEALTH")
    except ServiceUnavailable:
        raise
    except Exception as exc:  # a missing table or bad credentials are unavailability too
        raise ServiceUnavailable(message=str(exc)) from exc
    return {"status": "ok", "version": __version__}
