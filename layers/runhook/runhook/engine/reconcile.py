"""No run stays RUNNING forever: act on Step Functions "Execution Status Change" events.

When a run's execution FAILED, TIMED_OUT or was ABORTED while the run is still
PENDING/RUNNING in DynamoDB (the engine's own catch-all could not run: a bad deploy,
a throttled Lambda that ran out of retries, someone stopping the execution in the
console), the run becomes FAILED with `execution_failed` (FAILED, ABORTED) or
`timeout` (TIMED_OUT); that change announces `task-run.failed` (published from the
table's stream). A run that is already over —
the usual case: a cancel aborts its execution — is left alone. The execution's name
is the run id.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import BaseModel, ConfigDict

from runhook import clock
from runhook.engine.failure import fail_run
from runhook.engine.ports import RunStore

log = logging.getLogger("runhook.engine.reconcile")

DETAIL_TYPE = "Step Functions Execution Status Change"
_CODES = {"FAILED": "execution_failed", "TIMED_OUT": "timeout", "ABORTED": "execution_failed"}
_MESSAGES = {
    "FAILED": "the run's execution failed",
    "TIMED_OUT": "the run's execution timed out",
    "ABORTED": "the run's execution was stopped",
}


class StatusChange(BaseModel):
    """The `detail` of an "Execution Status Change" event (the fields we use)."""

    model_config = ConfigDict(extra="ignore")

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
        run = self._store.get_run(run_id)
        if run is None:
            return {"action": "ignored", "runId": run_id, "reason": "no such run"}
        if not run.active:
            return {"action": "none", "runId": run_id, "status": run.status.value}
        failed = fail_run(self._store, run.id, _CODES[change.status], change.message())
        if failed is None:  # it ended meanwhile
            return {"action": "none", "runId": run_id, "status": "ended meanwhile"}
        log.warning("run %s marked FAILED after its execution %s", run_id, change.status)
        code = failed.error.code if failed.error else ""
        return {"action": "failed", "runId": run_id, "code": code}
