"""ReconcilerFunction: Step Functions "Execution Status Change" (FAILED, TIMED_OUT,
ABORTED) → a run that is not yet over becomes FAILED. Logic: runhook.engine.reconcile.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger

from runhook.bootstrap import Container

logger = Logger()


def create_handler(container: Container | None = None) -> Callable[[dict[str, Any], Any], Any]:
    """The handler, wired once per cold start (no AWS call until an invocation)."""
    reconciler = (container or Container.from_environment()).engine.reconciler()

    @logger.inject_lambda_context(correlation_id_path="detail.name")
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        result = reconciler.reconcile(event)
        logger.info("reconciled", extra=result)
        return result

    return handler


handler = create_handler()
