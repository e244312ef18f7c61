"""ScheduledRunFunction: EventBridge Scheduler's target (and the local cloud's, which fires
the same schedules itself). One invocation per fire of a task's schedule, with the event
`{"taskId", "orgId", "scheduledTime"}`; it creates at most one run per fire time
(runhook.services.schedules.ScheduledRuns; docs/schedules.md).

A dependency failure raises, so the scheduler retries the fire (idempotently); a fire
that must not make a run (task deleted or paused, overlap, quota) answers why.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger

from runhook import observability
from runhook.bootstrap import Container

logger = Logger()
metrics = observability.handler_metrics()

# Outcome → metric name (`ScheduledRunsRefused` > 0 is worth a look: quota or inputs).
METRICS = {
    "created": "ScheduledRunsCreated",
    "replayed": "ScheduledRunsReplayed",
    "skipped_overlap": "ScheduledRunsSkipped",
    "not_scheduled": "ScheduledRunsNotScheduled",
    "refused": "ScheduledRunsRefused",
}


def create_handler(container: Container | None = None) -> Callable[[dict[str, Any], Any], Any]:
    """The handler, wired once per cold start (no AWS call until an invocation)."""
    built = container or Container.from_environment()

    @metrics.log_metrics
    @logger.inject_lambda_context
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        result = built.scheduled_runs.fire(event if isinstance(event, dict) else {}).as_dict()
        observability.add(metrics, METRICS[result["outcome"]], 1)
        logger.info("schedule fired", extra=result)
        return result

    return handler


handler = create_handler()
