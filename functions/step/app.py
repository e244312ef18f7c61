"""StepFunction: the run state machine's Lambda (advance / await / fail actions).

Thin on purpose: the engine (runhook.engine.runner) holds the logic and knows
nothing of Lambda beyond the remaining-time callback.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from runhook.engine.runner import Engine

logger = Logger()


@logger.inject_lambda_context(correlation_id_path="state.runId")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return Engine(remaining_ms=remaining).handle(event)
