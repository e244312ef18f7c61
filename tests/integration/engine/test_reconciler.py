"""The reconciler: execution status changes (the events/reconciler samples) fail runs
that are still active, and leave finished runs alone. moto emits no such events, so the
samples are fed through the function's handler; the local cloud also emulates them."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from runhook.dal.runs import RunRepository
from runhook.models import Run, RunStatus
from tests.support.polling import eventually

pytestmark = pytest.mark.localcloud

runs_dal: RunRepository  # set for each test by `_local_runs`


@pytest.fixture(autouse=True)
def _local_runs(container: Any) -> None:
    """`runs_dal`: the local cloud's run repository."""
    global runs_dal
    runs_dal = container.runs


EVENTS = Path(__file__).resolve().parents[3] / "events" / "reconciler"
MakeRun = Callable[..., Run]


def _sample(name: str, run_id: str) -> dict[str, Any]:
    text = (EVENTS / name).read_text()
    sample_id = json.loads(text)["detail"]["name"]
    return dict(json.loads(text.replace(sample_id, run_id)))


def _handler(local_cloud: Any) -> Callable[[dict[str, Any]], Any]:
    """ReconcilerFunction's handler from the template, run the way the local Lambda runs it."""
    function = local_cloud.registry.get("ReconcilerFunction")
    assert function is not None

    def invoke(event: dict[str, Any]) -> Any:
        result = local_cloud.registry.invoke(function, event)
        assert not result.error, result.payload
        return result.payload

    return invoke


@pytest.mark.parametrize(
    ("sample", "code"),
    [
        ("execution_failed.json", "execution_failed"),
        ("execution_timed_out.json", "timeout"),
        ("execution_aborted.json", "execution_failed"),
    ],
)
def test_an_active_run_becomes_failed(
    local_cloud: Any, make_run: MakeRun, sample: str, code: str
) -> None:
    run = make_run([{"id": "a", "type": "wait", "seconds": 60}])
    runs_dal.transition(
        run.id,
        event="task-run.started",
        allowed_from={RunStatus.PENDING},
        changes={"status": RunStatus.RUNNING},
    )
    result = _handler(local_cloud)(_sample(sample, run.id))
    assert result["action"] == "failed"
    failed = runs_dal.get(run.id)
    assert failed is not None and failed.status is RunStatus.FAILED
    assert failed.error is not None and failed.error.code == code
    assert failed.finished_at is not None
    again = _handler(local_cloud)(_sample(sample, run.id))  # at-least-once delivery
    assert again["action"] == "none"


def test_a_finished_run_is_left_alone(local_cloud: Any, make_run: MakeRun) -> None:
    run = make_run([{"id": "a", "type": "log", "message": "x"}])
    runs_dal.transition(
        run.id,
        event="task-run.cancelled",
        allowed_from={RunStatus.PENDING},
        changes={"status": RunStatus.CANCELLED, "cancel_reason": "bye"},
    )
    result = _handler(local_cloud)(_sample("execution_aborted.json", run.id))
    assert result == {"action": "none", "runId": run.id, "status": "CANCELLED"}
    after = runs_dal.get(run.id)
    assert after is not None and (after.status, after.cancel_reason) == (RunStatus.CANCELLED, "bye")


def test_unrelated_events_are_ignored(local_cloud: Any, container: Any) -> None:

    reconcile = container.engine.reconciler().reconcile
    assert reconcile({"detail-type": "Something else"})["action"] == "ignored"
    event = _sample("execution_failed.json", "not-a-uuid")
    assert reconcile(event)["action"] == "ignored"


def test_an_execution_stopped_behind_the_engines_back_fails_its_run(
    local_cloud: Any, make_run: MakeRun, container: Any
) -> None:
    """Real path on the local cloud: StopExecution without a cancel → ABORTED → the
    emulated status-change event → the reconciler rule → FAILED."""
    run = make_run([{"id": "nap", "type": "wait", "seconds": 60}])
    stepfunctions = container.sfn
    stepfunctions.start_run(run.id)
    eventually(
        lambda: runs_dal.get(run.id),
        lambda current: current is None or current.status is RunStatus.RUNNING,
        timeout=20,
    )
    local_cloud.new_client("stepfunctions").stop_execution(
        executionArn=stepfunctions.execution_arn(run.id),
        error="Manual",
        cause="stopped in the console",
    )
    current = eventually(
        lambda: runs_dal.get(run.id),
        lambda current: current is None or current.status is RunStatus.FAILED,
        timeout=30,
        interval=0.2,
        message=str,
    )
    assert current is not None
    assert current.error is not None and current.error.code == "execution_failed"
