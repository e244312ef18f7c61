"""WebhookSendFunction: a batch of queued deliveries → signed POSTs, in parallel, with
partial batch failures (ReportBatchItemFailures). Logic: runhook.webhooks.send."""

from __future__ import annotations

from collections import Counter
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from runhook.webhooks.send import Record, default_sender

logger = Logger()
metrics = Metrics(namespace="runhook")

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


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    records = [Record.from_lambda(r) for r in event.get("Records") or []]
    report = default_sender().send_batch(records)
    counts = Counter(report.outcomes)
    for note, name in _METRICS.items():
        if counts.get(note):
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=counts[note])
    metrics.add_metric(name="WebhookMessages", unit=MetricUnit.Count, value=len(records))
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
