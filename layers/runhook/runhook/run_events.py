"""The shape of run events on the bus (docs/webhooks.md, "Events"): pure, no AWS.

Each event's detail carries the run's organization, id, task and `sequence` (receivers
order and deduplicate by it), an `eventId` that is the same however often the event is
published (the outbox may publish an event again after a failure; the dispatcher
derives delivery ids from it), and either the run resource or a batch of log entries.
The outbox (`runhook.outbox`) builds them from the table's stream; the EventBridge
adapter (`runhook.adapters.events`) puts them on the bus.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from runhook.models import LogEntry, Run

SOURCE = "runhook"
LOG_EVENT = "task-run.log"

Event = tuple[str, dict[str, Any]]  # (detail-type, detail)


def lifecycle_event_id(run_id: str, sequence: int, detail_type: str) -> str:
    """A lifecycle event is one committed change of the run: (run, sequence, type)."""
    return f"{run_id}:{sequence}:{detail_type}"


def log_event_id(run_id: str, first_entry_id: str) -> str:
    """A log event is named by its first entry (entry ids are unique and time-ordered)."""
    return f"{run_id}:log:{first_entry_id}"


def _envelope(
    *, org_id: str, run_id: str, task_id: str, sequence: int, occurred_at: str, event_id: str
) -> dict[str, Any]:
    """What every run event's detail starts with (routing, ordering, deduplication)."""
    return {
        "orgId": org_id,
        "runId": run_id,
        "taskId": task_id,
        "sequence": sequence,
        "occurredAt": occurred_at,
        "eventId": event_id,
    }


def run_detail(
    run: Run, public_base_url: str, *, detail_type: str, occurred_at: str
) -> dict[str, Any]:
    """A lifecycle event's detail: the run resource (links under `public_base_url`)."""
    envelope = _envelope(
        org_id=run.org_id,
        run_id=run.id,
        task_id=run.task_id,
        sequence=run.sequence,
        occurred_at=occurred_at,
        event_id=lifecycle_event_id(run.id, run.sequence, detail_type),
    )
    return {**envelope, "run": run.to_resource(public_base_url)}


def log_detail(
    *,
    org_id: str,
    run_id: str,
    task_id: str,
    sequence: int,
    entries: Sequence[LogEntry],
    occurred_at: str,
) -> dict[str, Any]:
    """A `task-run.log` event's detail: a batch of the run's log entries (at least one)."""
    envelope = _envelope(
        org_id=org_id,
        run_id=run_id,
        task_id=task_id,
        sequence=sequence,
        occurred_at=occurred_at,
        event_id=log_event_id(run_id, entries[0].id),
    )
    return {**envelope, "logEntries": [e.to_resource() for e in entries]}
