"""The planner: which steps share an invocation, and the transitions a run costs."""

from __future__ import annotations

from typing import ClassVar

import pytest

from runhook.engine import plan
from runhook.engine.steps import KINDS, StepKind
from runhook.tasks.definition import LogStep


def test_consecutive_inline_steps_form_one_batch() -> None:
    assert plan.batch(["http", "transform", "log", "fail"], 0) == plan.Batch(0, 4, "end")


def test_batches_stop_at_pauses_and_resume_after_them() -> None:
    types = ["http", "transform", "wait", "log", "approval", "transform"]
    assert plan.batches(types) == [
        plan.Batch(0, 2, "wait"),
        plan.Batch(3, 4, "approval"),
        plan.Batch(5, 6, "end"),
    ]


def test_a_pause_first_gives_an_empty_batch() -> None:
    assert plan.batch(["approval", "log"], 0) == plan.Batch(0, 0, "approval")


@pytest.mark.parametrize(
    ("types", "transitions"),
    [
        (["http"], 3),
        (["http"] * 5, 3),  # N inline steps cost the same as one
        (["http"] * 100, 3),
        (["http", "approval", "transform"], 6),
        (["http", "wait", "http", "wait", "http"], 9),
        (["approval"], 6),
    ],
)
def test_expected_transitions(types: list[str], transitions: int) -> None:
    assert plan.expected_transitions(types) == transitions


class _OtherRunner(StepKind):
    kind = "other"
    config = LogStep
    runner: ClassVar[str] = "other"


def test_a_step_of_another_runner_hands_over(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(KINDS, "other", _OtherRunner())
    types = ["http", "other", "other", "log"]
    assert plan.batches(types) == [
        plan.Batch(0, 1, "handoff"),
        plan.Batch(1, 3, "handoff"),
        plan.Batch(3, 4, "end"),
    ]
    assert plan.expected_transitions(types) == 3 + 2 + 2


def test_browser_steps_run_in_their_own_function() -> None:
    types = ["http", "browser", "browser", "transform"]
    assert [b.reason for b in plan.batches(types)] == ["handoff", "handoff", "end"]
    assert plan.expected_transitions(types) == 7
