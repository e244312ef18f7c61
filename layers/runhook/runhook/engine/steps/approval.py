"""`approval`: pause until a person answers `POST /task-runs/{id}/resume` — a callback task.

The machine runs a ``.waitForTaskToken`` task; the engine stores the token on the run
with `waiting` {nodeId, prompt, since, expiresAt} and announces `task-run.waiting`.
The answer {approved, data, comment} becomes the step's result; a rejection fails the
run with `rejected`; no answer within the step's `timeoutSeconds` (capped by the
run's deadline) fails it with `approval_timeout`.
"""

from __future__ import annotations

import math
from typing import Any

from runhook.engine.steps.base import Mode, Pause, StepCall, StepFailure, StepKind, short
from runhook.tasks.definition import ApprovalStep
from runhook.tasks.templating import render

MAX_PROMPT = 4096


class ApprovalKind(StepKind):
    kind = "approval"
    config = ApprovalStep
    mode = Mode.CALLBACK

    def describe(self, call: StepCall) -> str | None:
        return None

    def pause(self, call: StepCall, remaining: float) -> Pause:
        """At most the step's timeout (capped by the run's time left); the prompt is what
        the engine stores in the run's `waiting` when it parks the approval."""
        step: ApprovalStep = call.step
        limit = float(step.timeoutSeconds) if step.timeoutSeconds else remaining
        seconds = max(1, math.ceil(min(limit, remaining)))
        prompt = render(step.prompt, call.data)[:MAX_PROMPT]
        return Pause(seconds=seconds, prompt=prompt, detail={"timeoutSeconds": seconds})

    def resume(self, call: StepCall, paused: dict[str, Any], answer: Any) -> Any:
        answer = answer if isinstance(answer, dict) else {}
        approved = answer.get("approved") is True
        comment = answer.get("comment")
        result = {"approved": approved, "data": answer.get("data"), "comment": comment}
        suffix = f" (comment: {short(comment, 300)})" if comment else ""
        if not approved:
            raise StepFailure(
                "rejected", f"rejected{suffix}" if comment else "the approval was rejected"
            )
        call.log("info", f"approved{suffix}")
        return result
