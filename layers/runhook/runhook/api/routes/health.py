"""Health: no auth; proves the function can reach its table."""

from __future__ import annotations

from typing import Any

from runhook import __version__
from runhook.api.deps import Health
from runhook.api.resources import HealthStatus
from runhook.api.routes import api_router
from runhook.api.schemas import responses

router = api_router("health")


@router.get(
    "/health",
    response_model=HealthStatus,
    summary="Liveness and table reachability",
    responses=responses(_503="service_unavailable (the table is unreachable; with Retry-After)"),
)
def get_health(check: Health) -> dict[str, Any]:
    check.check()
    return {"status": "ok", "version": __version__}
