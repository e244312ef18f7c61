"""`log`: write a (templated) message to the run's log at the step's level."""

from __future__ import annotations

from typing import Any

from runhook.engine.steps.base import StepCall, StepKind
from runhook.tasks.definition import LogStep
from runhook.tasks.templating import render

MAX_MESSAGE = 16_384


class LogKind(StepKind):
    kind = "log"
    quick = True
    default_timeout = 10.0
    config = LogStep

    def describe(self, call: StepCall) -> str | None:
        return None  # the message is the step's only line

    def run(self, call: StepCall) -> Any:
        message = render(call.step.message, call.data)[:MAX_MESSAGE]
        call.log(call.step.level, message)
        return {"message": message, "level": call.step.level}
