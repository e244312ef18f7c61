"""StepFunction: the run state machine's Lambda (advance / await / fail actions).

Thin on purpose: the engine (runhook.engine.runner) holds the logic and knows nothing
of Lambda beyond the remaining-time callback; this handler adds the run id as the log
correlation id and turns what the invocation did into EMF metrics.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from runhook.bootstrap import Container
from runhook.engine.runner import Engine

logger = Logger()
container = Container.from_environment()  # built once per cold start; clients made lazily
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


@metrics.log_metrics
@logger.inject_lambda_context(correlation_id_path="state.runId")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    engine = Engine(remaining_ms=remaining, container=container)
    try:
        return engine.handle(event)
    finally:
        action = str(event.get("action", "unknown"))
        metrics.add_dimension(name="action", value=action if action in _ACTIONS else "unknown")
        metrics.add_metric(name="StepInvocations", unit=MetricUnit.Count, value=1)
        for outcome, name in _METRICS.items():
            if engine.outcomes.get(outcome):
                metrics.add_metric(name=name, unit=MetricUnit.Count, value=engine.outcomes[outcome])
