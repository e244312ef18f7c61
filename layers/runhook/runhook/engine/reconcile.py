"""No run stays RUNNING forever: act on Step Functions "Execution Status Change" events.

When a run's execution FAILED, TIMED_OUT or was ABORTED while the run is still
PENDING/RUNNING in DynamoDB (the engine's own catch-all could not run: a bad deploy,
a throttled Lambda that ran out of retries, someone stopping the execution in the
console), the run becomes FAILED with `execution_failed` (FAILED, ABORTED) or
`timeout` (TIMED_OUT); that change announces `task-run.failed` (published from the
table's stream). A run that is already over —
the usual case: a cancel aborts its execution — is left alone. The execution's name
is the run id.

The sweeper (runhook.services.sweeper) ends runs the same way: `settle` for a run whose
execution it found finished, `fail` for its own codes (`timeout`, `start_failed`).
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import BaseModel, ConfigDict

from runhook import clock
from runhook.engine.failure import fail_run
from runhook.engine.ports import RunStore
from runhook.models import Run

log = logging.getLogger("runhook.engine.reconcile")

DETAIL_TYPE = "Step Functions Execution Status Change"
# Not a Step Functions status: the sweeper's verdict on an Express execution (which emits no
# status events and cannot be described) that outlived its 5-minute life with its run active.
EXPRESS_ENDED = "EXPRESS_ENDED"
_CODES = {
    "FAILED": "execution_failed",
    "TIMED_OUT": "timeout",
    "ABORTED": "execution_failed",
    # Only the sweeper sees this one (the rule matches the three above): an execution that
    # succeeded while its run is still active ended without the engine ending the run.
    "SUCCEEDED": "execution_failed",
    EXPRESS_ENDED: "execution_failed",
}
_MESSAGES = {
    "FAILED": "the run's execution failed",
    "TIMED_OUT": "the run's execution timed out",
    "ABORTED": "the run's execution was stopped",
    "SUCCEEDED": "the run's execution ended before the run did",
    EXPRESS_ENDED: (
        "the run's Express execution ended without recording the run's end "
        "(its history is in the Express machine's log group)"
    ),
}


class StatusChange(BaseModel):
    """The `detail` of an "Execution Status Change" event (the fields we use)."""

    model_config = ConfigDict(extra="ignore", defer_build=True)

    executionArn: str = ""
    stateMachineArn: str = ""
    name: str = ""
    status: str
    error: str | None = None
    cause: str | None = None

    def message(self) -> str:
        message = _MESSAGES[self.status]
        if self.error:
            message += f" ({self.error}"
            message += f": {self.cause[:500]})" if self.cause else ")"
        return message


class Reconciler:
    """The reconciler function's logic, over the engine's store."""

    def __init__(self, store: RunStore) -> None:
        self._store = store

    def reconcile(self, event: dict[str, Any]) -> dict[str, Any]:
        """Handle one EventBridge event; returns what was done (for logs and tests)."""
        if event.get("detail-type") != DETAIL_TYPE:
            return {"action": "ignored", "reason": "not an execution status change"}
        change = StatusChange.model_validate(event.get("detail") or {})
        run_id = change.name or change.executionArn.rsplit(":", 1)[-1]
        if change.status not in _CODES:
            return {"action": "ignored", "runId": run_id, "reason": f"status {change.status}"}
        if not clock.is_uuid(run_id):
            return {"action": "ignored", "runId": run_id, "reason": "not a run execution"}
        return self.settle(run_id, change)

    def settle(self, run_id: str, change: StatusChange) -> dict[str, Any]:
        """The run's execution ended (`change.status`): FAILED if the run is still active."""
        if change.status not in _CODES:
            return {"action": "ignored", "runId": run_id, "reason": f"status {change.status}"}
        run = self._store.get_run(run_id)
        if run is None:
            return {"action": "ignored", "runId": run_id, "reason": "no such run"}
        if not run.active:
            return {"action": "none", "runId": run_id, "status": run.status.value}
        failed = self.fail(run.id, _CODES[change.status], change.message())
        if failed is None:  # it ended meanwhile
            return {"action": "none", "runId": run_id, "status": "ended meanwhile"}
        log.warning("run %s marked FAILED after its execution %s", run_id, change.status)
        code = failed.error.code if failed.error else ""
        return {"action": "failed", "runId": run_id, "code": code}

    def fail(self, run_id: str, code: str, message: str) -> Run | None:
        """`fail_run` (its change announces `task-run.failed` through the outbox); None
        when the run was already over."""
        return fail_run(self._store, run_id, code, message)
