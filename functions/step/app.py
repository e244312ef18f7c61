"""StepFunction: the run state machine's Lambda (advance / await / fail actions).

Thin on purpose: the engine (runhook.engine.runner) holds the logic and knows nothing
of Lambda beyond the remaining-time callback; this handler adds the run id as the log
correlation id and turns what the invocation did into EMF metrics.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger

from runhook import observability
from runhook.bootstrap import Container
from runhook.engine.runner import Engine  # at init: the engine and every step kind

logger = Logger()
metrics = observability.handler_metrics()

_METRICS = {
    "run_started": "RunsStarted",
    "run_completed": "RunsCompleted",
    "run_failed": "RunsFailed",
    "step_succeeded": "StepsSucceeded",
    "step_failed": "StepsFailed",
    "step_attempt_failed": "StepAttemptsFailed",
    "approval_parked": "ApprovalsWaiting",
}


def create_handler(container: Container | None = None) -> Callable[[dict[str, Any], Any], Any]:
    """The handler, wired once per cold start (no AWS call until an invocation)."""
    deps = (container or Container.from_environment()).engine

    @metrics.log_metrics
    @logger.inject_lambda_context(correlation_id_path="state.runId")
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        engine: Engine = deps.engine(remaining_ms=remaining)
        try:
            return engine.handle(event)
        finally:
            # No per-action dimension: every runhook metric has the same dimensions
            # (runhook.observability), so alarms and the dashboard find it.
            observability.add(metrics, "StepInvocations", 1)
            for outcome, name in _METRICS.items():
                if engine.outcomes.get(outcome):
                    observability.add(metrics, name, engine.outcomes[outcome])

    return handler


handler = create_handler()
