"""How a run fails: the one `fail_run`.

`fail_run` is shared by the engine's own failures (a step, a timeout, outputs), the
machine's catch-all (`fail` action) and the reconciler: a run becomes FAILED only from
PENDING/RUNNING, its `waiting` and task token go, and a run already over (a cancel
won the race) is left alone (None).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from runhook import clock
from runhook.models import Run, RunError

if TYPE_CHECKING:  # the reconciler imports this module: keep its cold start light
    from runhook.engine.ports import RunStore

MAX_ERROR_MESSAGE = 2000


def fail_run(
    store: RunStore,
    run_id: str,
    code: str,
    message: str,
    node_id: str | None = None,
    *,
    steps_done: int | None = None,
    artifacts: list[str] | None = None,
) -> Run | None:
    """PENDING/RUNNING → FAILED {code, message, nodeId}; None when the run is already over.
    `artifacts`: names of the run's artifacts that explain the failure (`error.artifacts`)."""
    error = RunError(
        code=code, message=message[:MAX_ERROR_MESSAGE], nodeId=node_id, artifacts=artifacts
    )
    return store.fail(run_id, error, finished_at=clock.now_iso(), steps_done=steps_done)
