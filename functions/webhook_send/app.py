"""WebhookSendFunction: a batch of queued deliveries → signed POSTs, in parallel, with
partial batch failures (ReportBatchItemFailures). Logic: runhook.webhooks.send."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger

from runhook import observability
from runhook.bootstrap import Container
from runhook.webhooks.send import Record

logger = Logger()

# Outcome notes worth a metric each (EMF), e.g. WebhookSucceeded, WebhookRetry, WebhookFailed.
_METRICS = {
    "succeeded": "WebhookSucceeded",
    "retry": "WebhookRetry",
    "failed": "WebhookFailed",
    "endpoint_disabled": "WebhookEndpointDisabled",
    "stale": "WebhookStaleMessage",
    "busy": "WebhookBusy",
    "error": "WebhookSendError",
}


def create_handler(container: Container | None = None) -> Callable[[dict[str, Any], Any], Any]:
    """The Lambda handler on `container` (default: this function's environment)."""
    services = container or Container.from_environment()

    @logger.inject_lambda_context(clear_state=True)
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        records = [Record.from_lambda(r) for r in event.get("Records") or []]
        report = services.sender.send_batch(records)
        counts = Counter(report.outcomes)
        for note, name in _METRICS.items():
            if counts.get(note):
                observability.emit(name, counts[note])
        observability.emit("WebhookMessages", len(records))
        if report.disabled_endpoints:  # auto-disabled now: an operator should look (alarm)
            observability.emit("WebhookEndpointsAutoDisabled", len(report.disabled_endpoints))
        logger.info(
            "sent",
            extra={
                "records": len(records),
                "outcomes": dict(counts),
                "retrying": len(report.failed_message_ids),
                "endpointsDisabled": report.disabled_endpoints,
            },
        )
        return {"batchItemFailures": [{"itemIdentifier": i} for i in report.failed_message_ids]}

    return handler


handler = create_handler()
