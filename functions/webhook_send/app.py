"""WebhookSendFunction: a batch of queued deliveries → signed POSTs, in parallel, with
partial batch failures (ReportBatchItemFailures). Logic: runhook.webhooks.send."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from runhook.webhooks.send import handle_sqs_event

logger = Logger()


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    response = handle_sqs_event(event)
    logger.info(
        "sent",
        extra={
            "records": len(event.get("Records") or []),
            "retrying": len(response["batchItemFailures"]),
        },
    )
    return response
