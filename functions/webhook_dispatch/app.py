"""WebhookDispatchFunction: a run event from the bus → one queued delivery per
subscribed endpoint. Logic: runhook.webhooks.dispatch."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from runhook.webhooks.dispatch import dispatch

logger = Logger()


@logger.inject_lambda_context(correlation_id_path="detail.runId", clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    result = dispatch(event)
    summary = {
        "eventId": event.get("id"),
        "eventType": result.event_type,
        "deliveriesCreated": len(result.created),
        "deliveriesRequeued": len(result.requeued),
        "deliveriesExisting": len(result.existing),
        "skipped": result.skipped,
    }
    logger.info("dispatched", extra=summary)
    return summary
