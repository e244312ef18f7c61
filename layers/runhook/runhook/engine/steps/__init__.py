"""The step kinds, one module each, behind `StepKind` (steps/base.py).

Adding a kind: write `steps/<kind>.py` with a `StepKind` subclass, give it a config
model in runhook.tasks.definition, and register it in `KINDS` below. An inline kind
that needs its own function (a browser) sets `runner`; see docs/engine.md.
"""

from __future__ import annotations

from runhook.engine.steps.approval import ApprovalKind
from runhook.engine.steps.base import (
    DEFAULT_RUNNER,
    Mode,
    Pause,
    StepCall,
    StepFailure,
    StepKind,
)
from runhook.engine.steps.browser import BrowserKind
from runhook.engine.steps.fail import FailKind
from runhook.engine.steps.http import HttpKind
from runhook.engine.steps.log import LogKind
from runhook.engine.steps.transform import TransformKind
from runhook.engine.steps.wait import WaitKind

KINDS: dict[str, StepKind] = {
    kind.kind: kind
    for kind in (
        HttpKind(),
        TransformKind(),
        WaitKind(),
        ApprovalKind(),
        FailKind(),
        LogKind(),
        BrowserKind(),  # runner "browser": its own function (a container image with Chromium)
    )
}


def get_kind(name: str) -> StepKind:
    """The kind named `name`; KeyError for an unknown one (validation rejects those)."""
    return KINDS[name]


__all__ = [
    "DEFAULT_RUNNER",
    "KINDS",
    "Mode",
    "Pause",
    "StepCall",
    "StepFailure",
    "StepKind",
    "get_kind",
]
