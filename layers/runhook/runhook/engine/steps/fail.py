"""`fail`: end the run as FAILED with the step's `code` and (templated) `message`."""

from __future__ import annotations

from typing import Any

from runhook.engine.steps.base import StepCall, StepFailure, StepKind
from runhook.tasks.definition import FailStep
from runhook.tasks.templating import render


class FailKind(StepKind):
    kind = "fail"
    quick = True
    default_timeout = 10.0
    config = FailStep

    def describe(self, call: StepCall) -> str | None:
        return None  # the failure line says it all

    def run(self, call: StepCall) -> Any:
        raise StepFailure(call.step.code, render(call.step.message, call.data))
