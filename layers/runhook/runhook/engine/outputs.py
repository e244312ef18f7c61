"""A task's `outputs`: name → JMESPath expression over {inputs, steps, run}.

Evaluated once, when the last step has finished; the values become the run's
`outputs`. A missing path gives null (JMESPath's rule), not an error. Outputs travel in
every later event and API answer, so their JSON is capped (`MAX_OUTPUT_BYTES`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from runhook.tasks.templating import TemplateError, search

MAX_OUTPUT_BYTES = 128 * 1024


class OutputError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def evaluate_outputs(spec: Mapping[str, str], data: dict[str, Any]) -> dict[str, Any]:
    outputs: dict[str, Any] = {}
    for name, expression in spec.items():
        try:
            outputs[name] = search(expression, data)
        except TemplateError as exc:
            raise OutputError("output_error", f"{name}: {exc}") from exc
    size = len(json.dumps(outputs, ensure_ascii=False, separators=(",", ":")).encode())
    if size > MAX_OUTPUT_BYTES:
        raise OutputError(
            "outputs_too_large",
            f"outputs are {size} bytes of JSON; the limit is {MAX_OUTPUT_BYTES}",
        )
    return outputs
