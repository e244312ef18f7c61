"""A run's log entries and finished steps' records for one invocation, until stored.

Entries and records wait here until the engine's next checkpoint
(`runhook.engine.recorder`): after a slow step, before one starts, before the engine
sleeps or hands over, at the end of the run, and at least every `CHECKPOINT_SECONDS`
through a burst of quick steps. One `flush` stores them all in one write
(`RunStore.record_steps`, or `RunStore.write_logs` when no step finished), so a burst of
quick steps costs one write, not one per step. Stored entries are published from the
table's stream as `task-run.log` events (`runhook.outbox`).
"""

from __future__ import annotations

import logging
import time

from runhook import clock
from runhook.engine.ports import RunStore, StepRecord
from runhook.models import LogEntry, LogLevel, Run

log = logging.getLogger("runhook.engine")

MAX_MESSAGE = 16_384
# A burst of quick steps is stored at least this often (progress and logs stay fresh) and
# in batches of at most MAX_HELD_RECORDS records.
CHECKPOINT_SECONDS = 1.0
MAX_HELD_RECORDS = 20


class Journal:
    def __init__(self, run: Run, store: RunStore) -> None:
        self.run = run  # for its id and deadline (the stored items' expiry)
        self._store = store
        self._unsaved: list[LogEntry] = []
        self._records: list[StepRecord] = []
        self._held_since = 0.0

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
        # Echoed to the function's own log at DEBUG: the run's log is the record.
        log.debug("[%s] %s", level, message, extra={"run_id": self.run.id, "node_id": node_id})
        return entry

    def hold(self, record: StepRecord) -> None:
        """Keep a finished step's record for the next flush."""
        if not self._records:
            self._held_since = time.monotonic()
        self._records.append(record)

    def checkpoint_due(self) -> bool:
        """Whether the held records should be stored now rather than with the next step's."""
        if not self._records:
            return False
        waited = time.monotonic() - self._held_since
        return len(self._records) >= MAX_HELD_RECORDS or waited >= CHECKPOINT_SECONDS

    def flush(self) -> None:
        """Store the held records and the entries written since the last flush, in one
        write. What could not be stored stays for the next flush."""
        if not self._unsaved and not self._records:
            return
        entries, self._unsaved = self._unsaved, []
        records, self._records = self._records, []
        try:
            if records:
                self._store.record_steps(self.run, records, entries)
            else:
                self._store.write_logs(self.run, entries)
        except Exception:
            self._unsaved = entries + self._unsaved
            self._records = records + self._records
            raise
