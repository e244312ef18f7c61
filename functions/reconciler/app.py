"""ReconcilerFunction: Step Functions "Execution Status Change" (FAILED, TIMED_OUT,
ABORTED) → a run that is not yet over becomes FAILED. Logic: runhook.engine.reconcile.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from runhook.engine.reconcile import reconcile

logger = Logger()


@logger.inject_lambda_context(correlation_id_path="detail.name")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    result = reconcile(event)
    logger.info("reconciled", extra=result)
    return result
