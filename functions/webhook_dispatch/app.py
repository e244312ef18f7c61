"""WebhookDispatchFunction: a run event from the bus → one queued delivery per
subscribed endpoint. Logic: runhook.webhooks.dispatch."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger

from runhook.bootstrap import Container

logger = Logger()


def create_handler(container: Container | None = None) -> Callable[[dict[str, Any], Any], Any]:
    """The Lambda handler on `container` (default: this function's environment)."""
    services = container or Container.from_environment()

    @logger.inject_lambda_context(correlation_id_path="detail.runId", clear_state=True)
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        result = services.dispatcher.dispatch(event)
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

    return handler


handler = create_handler()
