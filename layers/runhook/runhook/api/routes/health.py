"""Health: no auth; proves the function can reach its table."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from runhook import __version__
from runhook.api.deps import Health
from runhook.api.strict import StrictJSONRoute

router = APIRouter(tags=["health"], route_class=StrictJSONRoute)


@router.get(
    "/health",
    summary="Liveness and table reachability",
    responses={503: {"description": "table unreachable"}},
)
def health(check: Health) -> dict[str, Any]:
    check.check()
    return {"status": "ok", "version": __version__}
