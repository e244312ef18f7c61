"""BrowserStepFunction: the run state machine's Lambda for browser steps (a container image).

The same engine as the step function, as the "browser" runner: it runs the browser step
the machine routed here (and any further browser steps right after it), then hands the
run back (`next.runner`). Playwright is loaded only when a browser step runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger

from runhook.bootstrap import Container
from runhook.engine.runner import Engine  # at init: the engine and every step kind
from runhook.engine.steps.browser import RUNNER

logger = Logger()


def create_handler(container: Container | None = None) -> Callable[[dict[str, Any], Any], Any]:
    """The handler, wired once per cold start (no AWS call until an invocation)."""
    deps = (container or Container.from_environment()).engine

    @logger.inject_lambda_context(correlation_id_path="state.runId")
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        engine: Engine = deps.engine(runner=RUNNER, remaining_ms=remaining)
        return engine.handle(event)

    return handler


handler = create_handler()
