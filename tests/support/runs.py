"""A run model for tests that build table items or stream records without an API call."""

from __future__ import annotations

from typing import Any

from runhook import clock
from runhook.models import Run, RunStatus


def a_run(**changes: Any) -> Run:
    """A PENDING run of a fresh task in org-1 (three steps), with `changes` applied."""
    run = Run(
        id=clock.new_id(),
        org_id="org-1",
        task_id=clock.new_id(),
        task_version=1,
        status=RunStatus.PENDING,
        created_at=clock.now_iso(),
        steps_total=3,
    )
    return run.model_copy(update=changes)
