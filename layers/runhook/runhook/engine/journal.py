"""A run's log entries for one invocation: stored as they happen, published once.

Every entry is written to DynamoDB (`RunRepository.append_logs`) when the step that made it
finishes — or before the engine sleeps or hands over — so `GET …/logs` shows a
long-running step's progress. The bus gets all of an invocation's entries in one
`task-run.log` event (split only to stay under the event size limit), sent with the
invocation's final lifecycle event.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from runhook import clock
from runhook.dal.runs import RunRepository
from runhook.models import LogEntry, LogLevel

log = logging.getLogger("runhook.engine")

MAX_MESSAGE = 16_384


class Journal:
    def __init__(self, run_id: str, retention_days: int, runs: RunRepository) -> None:
        self.run_id = run_id
        self.retention_days = retention_days
        self.runs = runs
        self._unsaved: list[LogEntry] = []
        self._unpublished: list[LogEntry] = []

    def write(self, level: LogLevel, message: str, node_id: str | None = None) -> LogEntry:
        if len(message) > MAX_MESSAGE:
            message = message[: MAX_MESSAGE - 1] + "…"
        entry = LogEntry(
            id=clock.sortable_id(),
            timestamp=clock.now_iso(),
            level=level,
            message=message,
            nodeId=node_id,
        )
        self._unsaved.append(entry)
        self._unpublished.append(entry)
        # Echoed to the function's own log at DEBUG: the run's log is the record.
        log.debug("[%s] %s", level, message, extra={"run_id": self.run_id, "node_id": node_id})
        return entry

    def flush(self, extra_items: Sequence[dict[str, Any]] = ()) -> None:
        """Store the entries written since the last flush (with `extra_items`, e.g. a
        step's result item, in the same BatchWriteItem)."""
        if not self._unsaved and not extra_items:
            return
        entries, self._unsaved = self._unsaved, []
        try:
            self.runs.append_logs(
                self.run_id, entries, ttl_days=self.retention_days, extra_items=extra_items
            )
        except Exception:
            self._unsaved = entries + self._unsaved
            raise

    def take_unpublished(self) -> list[LogEntry]:
        entries, self._unpublished = self._unpublished, []
        return entries
