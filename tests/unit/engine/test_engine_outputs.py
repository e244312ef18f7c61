"""Outputs, machine state shapes and the catch-all's error classification."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from runhook import clock
from runhook.engine.outputs import MAX_OUTPUT_BYTES, OutputError, evaluate_outputs
from runhook.engine.runner import classify_error
from runhook.engine.state import MachineState, Next, StepEvent, output
from runhook.models import Run, RunStatus

DATA = {
    "inputs": {"orderId": "1"},
    "steps": {"total": {"amount": 12.5}, "approve": {"approved": True, "data": {"user": "ann"}}},
    "run": {"id": "r", "taskId": "t"},
}


def test_outputs_are_jmespath_over_the_context() -> None:
    spec = {
        "amount": "steps.total.amount",
        "approvedBy": "steps.approve.data.user",
        "none": "steps.x.y",
        "run": "run.id",
    }
    assert evaluate_outputs(spec, DATA) == {
        "amount": 12.5,
        "approvedBy": "ann",
        "none": None,
        "run": "r",
    }


def test_outputs_errors_and_size_cap() -> None:
    with pytest.raises(OutputError) as info:
        evaluate_outputs({"bad": "abs(inputs.orderId)"}, DATA)
    assert info.value.code == "output_error"
    big = {"inputs": {"blob": "x" * (MAX_OUTPUT_BYTES + 1)}, "steps": {}, "run": {}}
    with pytest.raises(OutputError) as info:
        evaluate_outputs({"blob": "inputs.blob"}, big)
    assert info.value.code == "outputs_too_large"


def test_state_carries_references_only() -> None:
    nxt = Next(kind="wait", index=3, seconds=2, until="2026-01-01T00:00:00.000Z")
    assert output("r", nxt) == {
        "runId": "r",
        "next": {"kind": "wait", "index": 3, "seconds": 2, "until": "2026-01-01T00:00:00.000Z"},
    }
    event = StepEvent.model_validate(
        {
            "action": "advance",
            "state": {
                "runId": "r",
                "next": {"kind": "approval", "index": 1, "timeoutSeconds": 5},
                "answer": {"approved": True},
            },
        }
    )
    assert event.state.next == Next(kind="approval", index=1, timeoutSeconds=5)
    with pytest.raises(ValueError):
        StepEvent.model_validate({"action": "explode", "state": {"runId": "r"}})


def _run(deadline_in: float) -> Run:
    now = clock.now()
    return Run(
        id="r",
        org_id="o",
        task_id="t",
        task_version=1,
        status=RunStatus.RUNNING,
        created_at=clock.iso(now),
        deadline=clock.iso(now + timedelta(seconds=deadline_in)),
    )


def test_classify_approval_timeout_vs_run_timeout() -> None:
    state = MachineState(
        runId="r",
        next=Next(kind="approval", index=0, timeoutSeconds=5),
        error={"Error": "States.Timeout", "Cause": ""},
    )
    assert classify_error(state, _run(600))[0] == "approval_timeout"
    assert classify_error(state, _run(0))[0] == "timeout"


def test_classify_lambda_error_keeps_type_and_message() -> None:
    cause = json.dumps({"errorMessage": "boom", "errorType": "KeyError", "stackTrace": ["..."]})
    state = MachineState(runId="r", error={"Error": "KeyError", "Cause": cause})
    code, message = classify_error(state, _run(600))
    assert code == "internal_error"
    assert "KeyError: boom" in message
    assert "stackTrace" not in message
