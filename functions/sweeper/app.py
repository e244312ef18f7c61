"""SweeperFunction: on a schedule (and, in the local cloud, right after start-up), find runs
and deliveries that nothing would ever touch again and unstick them. Logic:
runhook.services.sweeper; this handler picks the policy and turns the report into EMF
metrics (`SweptStuck` > 0 is worth an alarm: something was lost and had to be recovered).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger

from runhook import observability
from runhook.bootstrap import Container
from runhook.services.sweeper import SweepPolicy

logger = Logger()
metrics = observability.handler_metrics()

# The report's counts → metric names (every one is emitted, zeros included, so an alarm on
# SweptStuck has data points even when all is well).
METRICS = {
    "runs_checked": "SweptRunsChecked",
    "started": "SweptRunsStarted",
    "restarted": "SweptRunsRestarted",
    "settled": "SweptRunsSettled",
    "start_failed": "SweptRunsStartFailed",
    "timed_out": "SweptRunsTimedOut",
    "deliveries_checked": "SweptDeliveriesChecked",
    "deliveries_requeued": "SweptDeliveriesRequeued",
    "stuck": "SweptStuck",
    "errors": "SweepErrors",
}

# The event the local cloud sends at start-up: every execution and queue message it had
# in memory is gone, so the sweeper acts without its waiting periods.
AFTER_RESTART = "afterRestart"


def create_handler(container: Container | None = None) -> Callable[[dict[str, Any], Any], Any]:
    """The handler, wired once per cold start (no AWS call until an invocation)."""
    built = container or Container.from_environment()
    sweeper, scheduled = built.sweeper, built.sweep_policy

    @metrics.log_metrics
    @logger.inject_lambda_context
    def handler(event: dict[str, Any], context: Any) -> dict[str, int]:
        after_restart = isinstance(event, dict) and event.get(AFTER_RESTART) is True
        policy = SweepPolicy.after_restart() if after_restart else scheduled
        report = sweeper.sweep(policy).as_dict()
        for key, name in METRICS.items():
            observability.add(metrics, name, report.get(key, 0))
        logger.info("swept", extra={"afterRestart": after_restart, **report})
        return report

    return handler


handler = create_handler()
