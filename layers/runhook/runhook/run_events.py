"""The shape of run events on the bus (docs/webhooks.md, "Events"): pure, no AWS.

Each event's detail carries the run's organization, id, task and `sequence` (receivers
order and deduplicate by it) and either the run resource or a batch of log entries.
The EventBridge adapter (`runhook.adapters.events`) puts them on the bus; the engine
(`runhook.engine.events`) and the API's services decide which to send.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from runhook import clock
from runhook.models import LogEntry, Run

SOURCE = "runhook"
LOG_EVENT = "task-run.log"

Event = tuple[str, dict[str, Any]]  # (detail-type, detail)


def _envelope(run: Run) -> dict[str, Any]:
    """What every run event's detail starts with (routing, ordering, deduplication)."""
    return {
        "orgId": run.org_id,
        "runId": run.id,
        "taskId": run.task_id,
        "sequence": run.sequence,
        "occurredAt": clock.now_iso(),
    }


def run_detail(run: Run, public_base_url: str) -> dict[str, Any]:
    """A lifecycle event's detail: the run resource (links under `public_base_url`)."""
    return {**_envelope(run), "run": run.to_resource(public_base_url)}


def log_detail(run: Run, entries: Sequence[LogEntry]) -> dict[str, Any]:
    """A `task-run.log` event's detail: a batch of the run's log entries."""
    return {**_envelope(run), "logEntries": [e.to_resource() for e in entries]}
