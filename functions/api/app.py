"""ApiFunction: the public REST API behind API Gateway (HTTP API, payload v2)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from mangum import Mangum

from runhook.api.app import app

logger = Logger()
_mangum = Mangum(app, lifespan="off")


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return _mangum(event, context)  # type: ignore[arg-type]
