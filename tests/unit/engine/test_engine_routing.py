"""The routing rule (runhook.engine.routing): which runs may go to Express."""

from __future__ import annotations

from typing import Any

import pytest

from runhook.adapters.stepfunctions import StepFunctions
from runhook.engine.routing import (
    EXPRESS_LIMIT_SECONDS,
    EXPRESS_MAX_TIMEOUT_SECONDS,
    PAUSING_TYPES,
    choose_engine,
)
from runhook.engine.steps import KINDS, Mode

COMPUTE = ["http", "transform", "log", "http", "log"]


@pytest.mark.parametrize(
    ("steps", "timeout", "engine"),
    [
        (COMPUTE, 60, "express"),
        (COMPUTE, EXPRESS_MAX_TIMEOUT_SECONDS, "express"),
        (COMPUTE, EXPRESS_MAX_TIMEOUT_SECONDS + 1, "standard"),  # no margin left
        (COMPUTE, 3600, "standard"),
        (["log", "wait", "log"], 120, "express"),  # a short wait fits in five minutes
        (["log", "browser", "transform"], 120, "express"),
        (["http", "approval", "http"], 60, "standard"),  # waits for a person
        (["approval"], 1, "standard"),
    ],
)
def test_the_rule(steps: list[str], timeout: int, engine: str) -> None:
    assert choose_engine(steps, timeout) == engine


def test_the_margin_leaves_room_inside_express_five_minutes() -> None:
    assert EXPRESS_LIMIT_SECONDS == 300
    assert 0 < EXPRESS_MAX_TIMEOUT_SECONDS <= EXPRESS_LIMIT_SECONDS - 30


def test_every_callback_kind_is_known_to_the_rule() -> None:
    """The rule does not import the kinds (the API would pay for it at cold start): a new
    kind that parks a task token must be added to PAUSING_TYPES, or Express would get it."""
    callbacks = {name for name, kind in KINDS.items() if kind.mode is Mode.CALLBACK}
    assert callbacks == PAUSING_TYPES


class _RecordingClient:
    """The few Step Functions calls the adapter makes, recorded instead of sent."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def start_execution(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("start_execution", kwargs))
        return {}

    def stop_execution(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("stop_execution", kwargs))
        return {}


def _adapter(client: _RecordingClient) -> StepFunctions:
    return StepFunctions(
        "arn:aws:states:us-east-1:1:stateMachine:run",
        express_state_machine_arn="arn:aws:states:us-east-1:1:stateMachine:run-express",
        boto3_client=client,
    )


def test_a_run_starts_on_its_engine_machine() -> None:
    client = _RecordingClient()
    _adapter(client).start_run("r1", "express")
    _adapter(client).start_run("r2", "standard")
    machines = [kwargs["stateMachineArn"].rsplit(":", 1)[1] for _, kwargs in client.calls]
    assert machines == ["run-express", "run"]


def test_an_express_run_is_never_stopped_and_a_standard_one_is() -> None:
    """StopExecution is Standard only: for an Express run the engine's next step boundary
    ends the execution (tests/e2e/engine/test_engine_express.py), the call would be waste."""
    client = _RecordingClient()
    _adapter(client).stop_run("r1", "cancelled", "express")
    assert client.calls == []
    _adapter(client).stop_run("r2", "cancelled", "standard")
    assert [(name, kwargs["executionArn"]) for name, kwargs in client.calls] == [
        ("stop_execution", "arn:aws:states:us-east-1:1:execution:run:r2")
    ]
