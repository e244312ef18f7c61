"""ApiFunction: the public REST API behind API Gateway (HTTP API, payload v2)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger
from mangum import Mangum

from runhook.api.app import create_app
from runhook.bootstrap import Container

logger = Logger()


def create_handler(container: Container | None = None) -> Callable[[dict[str, Any], Any], Any]:
    """The Lambda handler on `container` (default: this function's environment)."""
    mangum = Mangum(create_app(container or Container.from_environment()), lifespan="off")

    @logger.inject_lambda_context(clear_state=True)
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return mangum(event, context)  # type: ignore[arg-type]

    return handler


handler = create_handler()
