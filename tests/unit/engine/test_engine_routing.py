"""The routing rule (runhook.engine.routing): which runs may go to Express."""

from __future__ import annotations

import pytest

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
