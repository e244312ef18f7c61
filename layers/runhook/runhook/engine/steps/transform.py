"""`transform`: named JMESPath expressions over the run's context."""

from __future__ import annotations

from typing import Any

from runhook.engine.steps.base import StepCall, StepFailure, StepKind, short
from runhook.tasks.definition import TransformStep
from runhook.tasks.templating import TemplateError, search


class TransformKind(StepKind):
    kind = "transform"
    quick = True
    default_timeout = 10.0
    config = TransformStep

    def describe(self, call: StepCall) -> str | None:
        names = ", ".join(call.step.values)
        return f"transform: evaluating {names}"

    def run(self, call: StepCall) -> Any:
        result: dict[str, Any] = {}
        for name, expression in call.step.values.items():
            try:
                result[name] = search(expression, call.data)
            except TemplateError as exc:
                raise StepFailure("expression_error", f"{name}: {exc}") from exc
        call.log("info", "result: " + short(result, 500))
        return result
