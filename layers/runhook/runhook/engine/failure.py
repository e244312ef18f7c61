"""How a run fails: the one `fail_run`, and the {code, message} of what went wrong.

`fail_run` is shared by the engine's own failures (a step, a timeout, outputs), the
machine's catch-all (`fail` action) and the reconciler: a run becomes FAILED only from
PENDING/RUNNING, its `waiting` and task token go, and a run already over (a cancel
won the race) is left alone (None).
"""

from __future__ import annotations

import json
from datetime import timedelta

from runhook import clock
from runhook.engine.ports import RunStore
from runhook.engine.state import MachineState
from runhook.engine.steps import StepFailure
from runhook.models import Run, RunError
from runhook.tasks.templating import TemplateError

MAX_ERROR_MESSAGE = 2000


def fail_run(
    store: RunStore,
    run_id: str,
    code: str,
    message: str,
    node_id: str | None = None,
    *,
    steps_done: int | None = None,
) -> Run | None:
    """PENDING/RUNNING → FAILED {code, message, nodeId}; None when the run is already over."""
    error = RunError(code=code, message=message[:MAX_ERROR_MESSAGE], nodeId=node_id)
    return store.fail(run_id, error, finished_at=clock.now_iso(), steps_done=steps_done)


def as_failure(exc: Exception) -> StepFailure:
    """A step's exception as the failure it records (templates fail with `template_error`)."""
    if isinstance(exc, StepFailure):
        return exc
    if isinstance(exc, TemplateError):
        return StepFailure("template_error", str(exc))
    return StepFailure("step_error", str(exc))


def classify_error(state: MachineState, run: Run) -> tuple[str, str]:
    """The run's {code, message} for an error the machine caught."""
    error = state.error or {}
    name = str(error.get("Error") or "")
    cause = error.get("Cause")
    nxt = state.next
    deadline = clock.parse_iso(run.deadline) if run.deadline else None
    past_deadline = deadline is not None and clock.now() >= deadline - timedelta(seconds=1)
    if name == "States.Timeout":
        if past_deadline:
            return "timeout", "the run did not finish within its timeout"
        if nxt is not None and nxt.kind == "approval":
            return "approval_timeout", f"no answer within {nxt.timeoutSeconds} s"
        return "timeout", "a step timed out"
    detail = ""
    if isinstance(cause, str) and cause:
        try:
            parsed = json.loads(cause)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict) and "errorMessage" in parsed:
            detail = f"{parsed.get('errorType', name)}: {parsed.get('errorMessage')}"
        else:
            detail = cause
    message = f"the engine failed: {detail or name or 'unknown error'}"
    return "internal_error", message[:MAX_ERROR_MESSAGE]
