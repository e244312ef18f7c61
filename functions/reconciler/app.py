"""ReconcilerFunction: Step Functions "Execution Status Change" (FAILED, TIMED_OUT,
ABORTED) → a run that is not yet over becomes FAILED. Logic: runhook.engine.reconcile.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from runhook.bootstrap import Container
from runhook.engine.reconcile import reconcile

logger = Logger()
container = Container.from_environment()  # built once per cold start; clients made lazily


@logger.inject_lambda_context(correlation_id_path="detail.name")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    result = reconcile(event, container)
    logger.info("reconciled", extra=result)
    return result
