"""PublisherFunction: the table's stream → run events on the bus (the outbox).

Stream records are decoded (runhook.dal.stream) and published in order
(runhook.outbox). When the bus refuses a call, the first record not yet published is
reported in `batchItemFailures` (ReportBatchItemFailures): Lambda checkpoints before it
and retries from it, so nothing committed is lost and nothing is skipped. Powertools'
batch processor handles one record at a time; here a batch of changes becomes
PutEvents calls of ten and one run's log lines one event, so the response is built
by hand in its documented shape.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger

from runhook import observability
from runhook.bootstrap import Container
from runhook.dal.stream import decode_records

logger = Logger()
metrics = observability.handler_metrics()


def create_handler(container: Container | None = None) -> Callable[[dict[str, Any], Any], Any]:
    """The handler, wired once per cold start (no AWS call until an invocation)."""
    outbox = (container or Container.from_environment()).outbox

    @metrics.log_metrics
    @logger.inject_lambda_context
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        records = event.get("Records") or []
        result = outbox.publish(decode_records(records))
        observability.add(metrics, "RunEventsPublished", result.published)
        if result.unheard:  # RUN_EVENTS_ON_BUS=subscribed: no endpoint routes them
            observability.add(metrics, "RunEventsUnheard", result.unheard)
        if result.retry_from is None:
            return {"batchItemFailures": []}
        observability.add(metrics, "RunEventPublishFailures", 1)
        return {"batchItemFailures": [{"itemIdentifier": result.retry_from}]}

    return handler


handler = create_handler()
