"""StepFunction: the run state machine's Lambda (advance / await / fail actions).

Thin on purpose: the engine (runhook.engine.runner) holds the logic and knows nothing
of Lambda beyond the remaining-time callback; this handler adds the run id as the log
correlation id and turns what the invocation did into EMF metrics.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from runhook.bootstrap import Container
from runhook.engine.runner import Engine  # at init: the engine and every step kind

logger = Logger()
metrics = Metrics(namespace="runhook")

_METRICS = {
    "run_started": "RunsStarted",
    "run_completed": "RunsCompleted",
    "run_failed": "RunsFailed",
    "step_succeeded": "StepsSucceeded",
    "step_failed": "StepsFailed",
    "step_attempt_failed": "StepAttemptsFailed",
    "approval_parked": "ApprovalsWaiting",
}

_ACTIONS = frozenset({"advance", "await", "fail"})


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
            action = str(event.get("action", "unknown"))
            metrics.add_dimension(name="action", value=action if action in _ACTIONS else "unknown")
            metrics.add_metric(name="StepInvocations", unit=MetricUnit.Count, value=1)
            for outcome, name in _METRICS.items():
                if engine.outcomes.get(outcome):
                    value = engine.outcomes[outcome]
                    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)

    return handler


handler = create_handler()
