"""Pure planning: which steps one invocation runs, and what a run costs in transitions.

Consecutive inline steps of the same runner form a *batch* and run in one Lambda
invocation; a batch ends at a pause (wait, approval), at a step of another runner,
or at the end of the task. The machine's transitions therefore grow with the number
of pauses, not with the number of steps (docs/engine.md, "Transitions per run").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from runhook.engine.steps import DEFAULT_RUNNER, Mode, get_kind

Stop = Literal["end", "wait", "approval", "handoff"]


@dataclass(frozen=True)
class Batch:
    start: int
    stop: int  # exclusive: the first step this batch does not run
    reason: Stop


def batch(step_types: Sequence[str], start: int, runner: str = DEFAULT_RUNNER) -> Batch:
    """The steps from `start` that `runner` can run in one go, and why it stops."""
    index = start
    while index < len(step_types):
        kind = get_kind(step_types[index])
        if kind.mode is Mode.WAIT:
            return Batch(start, index, "wait")
        if kind.mode is Mode.CALLBACK:
            return Batch(start, index, "approval")
        if kind.runner != runner:
            return Batch(start, index, "handoff")
        index += 1
    return Batch(start, index, "end")


def batches(step_types: Sequence[str]) -> list[Batch]:
    """Every batch of a run that takes the happy path (each pause continues)."""
    out: list[Batch] = []
    index = 0
    runner = DEFAULT_RUNNER
    while True:
        current = batch(step_types, index, runner)
        out.append(current)
        if current.reason == "end":
            return out
        if current.reason == "handoff":
            runner = get_kind(step_types[current.stop]).runner
            index = current.stop
        else:
            # The Advance after the pause finishes the paused step, then runs from here.
            runner = DEFAULT_RUNNER
            index = current.stop + 1


# Billed state transitions of the machine in statemachines/run.asl.json.
_START = 3  # Advance, Route, Done
_PER_PAUSE = 3  # Wait|Approval, Advance, Route
_PER_HANDOFF = 2  # <Runner>, Route


def expected_transitions(step_types: Sequence[str]) -> int:
    """State transitions of a run that completes without retries or hand-overs for time."""
    total = _START
    for current in batches(step_types):
        if current.reason in ("wait", "approval"):
            total += _PER_PAUSE
        elif current.reason == "handoff":
            total += _PER_HANDOFF
    return total
