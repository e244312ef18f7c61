"""The engine's one seam to the event bus: what a run announces, when, and how strictly.

`RunEvents` is the only place that decides publication (docs/engine.md §5):

- `started` goes out at once, best effort;
- `progressed` events (`task-run.updated`) are held while quick steps run, and sent
  together (`send_progress`, one PutEvents) before a slow step, before a retry's
  backoff, or at the end of the invocation;
- the invocation's log lines become `task-run.log` events (one, split only to stay
  under the bus's entry size) sent at the end, with
- the `final` lifecycle event (`completed`, `failed`, `waiting`), sent last and
  strictly: if publishing fails the invocation fails, the machine retries it, and an
  action that finds the run already over says so again (`republish_terminal`).

Progress and log events are best effort (a failure is logged; the next event carries
the newer state). `EventBus` is the port below it: a list of (detail-type, detail) put
on the bus in order. An outbox (events written with the state change and forwarded
from the table's stream) replaces what `RunEvents` does with them, nothing else.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any, Protocol

from runhook.errors import RunhookError
from runhook.models import LogEntry, Run, RunStatus
from runhook.run_events import LOG_EVENT, Event, log_detail

log = logging.getLogger("runhook.engine")

MAX_LOG_EVENT_BYTES = 200_000  # of log entries per task-run.log event (PutEvents: 256 KB)


class EventBus(Protocol):
    """The port below `RunEvents` (runhook.adapters.events.EventBus on AWS)."""

    def run_detail(self, run: Run) -> dict[str, Any]:
        """A lifecycle event's detail for `run` (its resource, with the API's links)."""
        ...

    def publish(self, events: Sequence[Event]) -> None:
        """Put the events on the bus, in order; raise a RunhookError when it cannot."""
        ...


class RunEvents:
    """One invocation's lifecycle events for the runs it touches (usually one)."""

    def __init__(self, bus: EventBus) -> None:
        self._bus = bus
        self._progress: list[Run] = []
        self._final: tuple[str, Run] | None = None

    def started(self, run: Run) -> None:
        """The claim: announced at once, best effort."""
        self._best_effort([("task-run.started", self._bus.run_detail(run))])

    def progressed(self, run: Run) -> None:
        """Progress moved: held until `send_progress` or `finish`."""
        self._progress.append(run)

    def send_progress(self) -> None:
        """Send the held progress events now (one PutEvents), best effort."""
        if self._progress:
            self._best_effort(self._take_progress())

    def final(self, detail_type: str, run: Run) -> None:
        """The invocation's lifecycle event (completed, failed, waiting): sent last."""
        self._final = (detail_type, run)

    def finish(self, run: Run, logs: Sequence[LogEntry], *, strict: bool = False) -> None:
        """Send what is held: progress, then `run`'s log lines, then the final event.

        Strict (raises) when there is a final event or `strict` is set; else best effort.
        """
        batch = self._take_progress() + log_events(run, logs)
        final, self._final = self._final, None
        if final is not None:
            batch.append((final[0], self._bus.run_detail(final[1])))
        if not batch:
            return
        if strict or final is not None:
            self._bus.publish(batch)
        else:
            self._best_effort(batch)

    def announce(self, detail_type: str, run: Run) -> None:
        """A lifecycle event on its own, now and strictly (the reconciler, a lost task)."""
        self._bus.publish([(detail_type, self._bus.run_detail(run))])

    def republish_terminal(self, run: Run) -> None:
        """At-least-once: an action that finds the run COMPLETED/FAILED says so again.

        This only happens when an earlier invocation committed the end and then failed
        (e.g. publishing); receivers drop the duplicate by its `sequence`.
        """
        if run.status is RunStatus.COMPLETED:
            self.announce("task-run.completed", run)
        elif run.status is RunStatus.FAILED:
            self.announce("task-run.failed", run)

    def _take_progress(self) -> list[Event]:
        runs, self._progress = self._progress, []
        return [("task-run.updated", self._bus.run_detail(run)) for run in runs]

    def _best_effort(self, batch: list[Event]) -> None:
        try:
            self._bus.publish(batch)
        except RunhookError:
            log.exception("publishing %s failed", [t for t, _ in batch])


def log_events(run: Run, logs: Sequence[LogEntry]) -> list[Event]:
    """`task-run.log` events for the entries: one, unless they would pass the size limit."""
    chunks: list[list[LogEntry]] = []
    size = 0
    for entry in logs:
        entry_size = len(json.dumps(entry.to_resource(), separators=(",", ":")))
        if not chunks or (chunks[-1] and size + entry_size > MAX_LOG_EVENT_BYTES):
            chunks.append([])
            size = 0
        chunks[-1].append(entry)
        size += entry_size
    return [(LOG_EVENT, log_detail(run, chunk)) for chunk in chunks]
