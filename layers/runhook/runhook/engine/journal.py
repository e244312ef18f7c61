"""A run's log entries for one invocation, stored as they happen.

Every entry is stored (`RunStore.write_logs`, or with the step's record in
`RunStore.record_step`) when the step that made it finishes — or before the engine
sleeps or hands over — so `GET …/logs` shows a long-running step's progress. Stored
entries are published from the table's stream as `task-run.log` events (`runhook.outbox`).
"""

from __future__ import annotations

import logging

from runhook import clock
from runhook.engine.ports import RunStore, StepRecord
from runhook.models import LogEntry, LogLevel, Run

log = logging.getLogger("runhook.engine")

MAX_MESSAGE = 16_384


class Journal:
    def __init__(self, run: Run, store: RunStore) -> None:
        self.run = run  # for its id and deadline (the stored items' expiry)
        self._store = store
        self._unsaved: list[LogEntry] = []

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

    def flush(self, record: StepRecord | None = None) -> None:
        """Store the entries written since the last flush (with `record`, a finished
        step, in the same write). Entries that could not be stored stay for the next."""
        if not self._unsaved and record is None:
            return
        entries, self._unsaved = self._unsaved, []
        try:
            if record is None:
                self._store.write_logs(self.run, entries)
            else:
                self._store.record_step(self.run, record, entries)
        except Exception:
            self._unsaved = entries + self._unsaved
            raise
