"""WebhookSendFunction: a batch of queued deliveries → signed POSTs, in parallel, with
partial batch failures (ReportBatchItemFailures). Logic: runhook.webhooks.send."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from runhook.bootstrap import Container
from runhook.webhooks.send import Record

logger = Logger()
NAMESPACE = "runhook"

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


def _count(name: str, value: int) -> None:
    """One EMF blob per metric: no state shared between concurrent invocations."""
    with single_metric(name=name, unit=MetricUnit.Count, value=value, namespace=NAMESPACE):
        pass


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
                _count(name, counts[note])
        _count("WebhookMessages", len(records))
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
