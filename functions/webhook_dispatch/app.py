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
        # Most run events find no subscribed endpoint (every event of an organization with
        # no webhooks): one INFO line each was ~40 % of a short run's log bytes (issue 16,
        # docs/performance.md, table 5). They are DEBUG; a dispatch that queued, requeued or
        # found deliveries stays INFO.
        touched = summary["deliveriesCreated"] or summary["deliveriesRequeued"]
        quiet = result.skipped is not None and not (touched or summary["deliveriesExisting"])
        (logger.debug if quiet else logger.info)("dispatched", extra=summary)
        return summary

    return handler


handler = create_handler()
