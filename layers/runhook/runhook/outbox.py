"""The outbox: run events built from committed changes and put on the bus.

Writers never call the bus for run events. Each run transition commits the event it
announces on the run item, each write of log lines is an item; the table's stream hands those
changes (decoded by `runhook.dal.stream`) to the publisher function, which calls
`Outbox.publish`. So an event exists exactly when its change was committed: a Lambda
that dies after a commit loses nothing, and the publisher's retries re-send (never
invent) events. Receivers deduplicate by `eventId` (the dispatcher derives delivery
ids from it) and order by `sequence`.

Publishing is in stream order, ten events per PutEvents. When a call fails, `publish`
returns the stream position of the first change not known to be on the bus; the
function reports it as the batch's item failure, and Lambda retries from there (events
after it that did go out are sent again, with the same `eventId`).

Only what someone hears goes on the bus (issue 16, `RUN_EVENTS_ON_BUS=subscribed`, the
template's default): an event is published when an enabled endpoint of its organization
routes it (`runhook.webhooks.catalog.route`, the dispatcher's own rule), read with one
strongly consistent Query per organization per batch. An endpoint created before a change
was committed is therefore seen; one created after it may or may not get the event, as
before (the dispatcher reads endpoints later still). A failed read publishes the
organization's events anyway: the filter saves money, the dispatcher decides.
`RUN_EVENTS_ON_BUS=all` publishes every event (for rules of your own on the bus).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from runhook import run_events
from runhook.dal.stream import Change, LogAppended, RunChange
from runhook.errors import RunhookError
from runhook.models import LogEntry
from runhook.run_events import LOG_EVENT, Event

if TYPE_CHECKING:
    from runhook.dal.webhooks import Route

# An organization's endpoints as dispatch sees them (EndpointRepository.routes, consistent).
Audience = Callable[[str], Sequence["Route"]]

log = logging.getLogger("runhook.outbox")

PUT_EVENTS_BATCH = 10  # entries per PutEvents call (the API's limit)
MAX_LOG_EVENT_BYTES = 200_000  # of log entries per task-run.log event (PutEvents: 256 KB)


class EventBus(Protocol):
    """The port the outbox publishes through (runhook.adapters.events.EventBus on AWS)."""

    def publish(self, events: Sequence[Event]) -> None:
        """Put the events on the bus, in order; raise a RunhookError when it cannot."""
        ...


@dataclass(frozen=True)
class OutboxEvent:
    position: str  # stream position of the (first) change it was built from
    detail_type: str
    detail: dict[str, Any]


def build_events(changes: Sequence[Change], public_base_url: str) -> list[OutboxEvent]:
    """The events of a stream batch, in order: one per run change; consecutive log lines
    of one run become one `task-run.log` event (split only to stay under the size limit)."""
    events: list[OutboxEvent] = []
    pending_logs: list[LogAppended] = []
    for change in changes:
        if isinstance(change, LogAppended):
            if pending_logs and pending_logs[0].run_id != change.run_id:
                events.extend(_log_events(pending_logs))
                pending_logs = []
            pending_logs.append(change)
            continue
        events.extend(_log_events(pending_logs))
        pending_logs = []
        events.append(_run_event(change, public_base_url))
    events.extend(_log_events(pending_logs))
    return events


def _run_event(change: RunChange, public_base_url: str) -> OutboxEvent:
    detail = run_events.run_detail(
        change.run,
        public_base_url,
        detail_type=change.event_type,
        occurred_at=change.occurred_at or change.run.created_at,
    )
    return OutboxEvent(change.position, change.event_type, detail)


def _log_events(lines: Sequence[LogAppended]) -> list[OutboxEvent]:
    """One run's consecutive log lines as `task-run.log` events."""
    chunks: list[list[LogAppended]] = []
    size = 0
    for line in lines:
        entry_size = len(json.dumps(line.entry.to_resource(), separators=(",", ":")))
        if not chunks or size + entry_size > MAX_LOG_EVENT_BYTES:
            chunks.append([])
            size = 0
        chunks[-1].append(line)
        size += entry_size
    return [_log_event(chunk) for chunk in chunks]


def _log_event(chunk: Sequence[LogAppended]) -> OutboxEvent:
    first, last = chunk[0], chunk[-1]
    entries: list[LogEntry] = [line.entry for line in chunk]
    detail = run_events.log_detail(
        org_id=first.org_id,
        run_id=first.run_id,
        task_id=first.task_id,
        sequence=last.run_sequence,
        entries=entries,
        occurred_at=first.entry.timestamp or "",
    )
    return OutboxEvent(first.position, LOG_EVENT, detail)


def heard(events: Sequence[OutboxEvent], audience: Audience) -> list[OutboxEvent]:
    """The events some enabled endpoint of their organization routes (see the module doc).

    One `audience` call per organization in the batch; when it fails, that organization's
    events are all kept (publishing one nobody hears costs a bus event, dropping one
    somebody hears loses a delivery).
    """
    from runhook.webhooks import catalog

    routes: dict[str, Sequence[Route] | None] = {}
    kept: list[OutboxEvent] = []
    for event in events:
        org_id = str(event.detail.get("orgId") or "")
        if org_id not in routes:
            try:
                routes[org_id] = audience(org_id) if org_id else None
            except Exception as exc:  # any read failure: keep the events (fail open)
                log.warning("endpoints of %s unreadable, publishing all: %s", org_id, exc)
                routes[org_id] = None
        endpoints = routes[org_id]
        task_id = event.detail.get("taskId")
        if endpoints is None or any(
            endpoint.enabled
            and catalog.route(endpoint.events, endpoint.task_id, event.detail_type, task_id)
            for endpoint in endpoints
        ):
            kept.append(event)
    return kept


class Outbox:
    """Publishes the events of stream changes (one per publisher invocation batch).

    With an `audience`, only the events an endpoint routes (`heard`); without, all.
    """

    def __init__(
        self, bus: EventBus, public_base_url: str, audience: Audience | None = None
    ) -> None:
        self._bus = bus
        self._public_base_url = public_base_url
        self._audience = audience

    def publish(self, changes: Sequence[Change]) -> PublishResult:
        """Publish in order; stop at the first call that fails (see the module doc)."""
        built = build_events(changes, self._public_base_url)
        events = built if self._audience is None else heard(built, self._audience)
        unheard = len(built) - len(events)
        for start in range(0, len(events), PUT_EVENTS_BATCH):
            batch = events[start : start + PUT_EVENTS_BATCH]
            try:
                self._bus.publish([(e.detail_type, e.detail) for e in batch])
            except RunhookError:
                position = batch[0].position
                log.warning("publishing %d events failed: retry from %s", len(batch), position)
                return PublishResult(start, retry_from=batch[0].position, unheard=unheard)
        return PublishResult(len(events), retry_from=None, unheard=unheard)


@dataclass(frozen=True)
class PublishResult:
    published: int  # events put on the bus by this call
    retry_from: str | None  # the stream position to retry from; None when all went out
    unheard: int = 0  # events left off the bus: no endpoint routes them
