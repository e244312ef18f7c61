"""Webhook event types and which endpoints receive which event (pure logic).

An endpoint subscribes to a list of event types (none: all of them), optionally
scoped to one task. `task-run.succeeded` is the Komos seed's name for
`task-run.completed`: an endpoint subscribed under that name receives the event
under that name.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

LIFECYCLE_EVENTS: tuple[str, ...] = (
    "task-run.started",
    "task-run.updated",
    "task-run.completed",
    "task-run.failed",
    "task-run.cancelled",
    "task-run.waiting",
)
LOG_EVENT = "task-run.log"
EVENT_TYPES: tuple[str, ...] = (*LIFECYCLE_EVENTS, LOG_EVENT)
ALIASES: dict[str, str] = {"task-run.succeeded": "task-run.completed"}
SUBSCRIBABLE: tuple[str, ...] = (*EVENT_TYPES, *ALIASES)


def invalid_events(events: Iterable[str]) -> list[str]:
    """The names in `events` nobody can subscribe to."""
    return [e for e in events if e not in SUBSCRIBABLE]


def normalize_events(events: Sequence[str] | None) -> list[str] | None:
    """Deduplicated subscription list in a stable order; None (or empty) means all."""
    if not events:
        return None
    seen: list[str] = []
    for event in events:
        if event not in seen:
            seen.append(event)
    return seen


def delivered_name(subscribed: Sequence[str] | None, event_type: str) -> str | None:
    """The name under which an endpoint receives `event_type`, or None if it does not.

    The canonical name wins when an endpoint subscribed under both names.
    """
    if event_type not in EVENT_TYPES:
        return None
    if not subscribed:
        return event_type
    if event_type in subscribed:
        return event_type
    for alias, canonical in ALIASES.items():
        if canonical == event_type and alias in subscribed:
            return alias
    return None


def in_scope(endpoint_task_id: str | None, event_task_id: str | None) -> bool:
    """An endpoint scoped to a task only hears about that task's runs."""
    return endpoint_task_id is None or endpoint_task_id == event_task_id


def route(
    subscribed: Sequence[str] | None,
    endpoint_task_id: str | None,
    event_type: str,
    event_task_id: str | None,
) -> str | None:
    """Delivered event name for an enabled endpoint, or None when it gets nothing."""
    if not in_scope(endpoint_task_id, event_task_id):
        return None
    return delivered_name(subscribed, event_type)
