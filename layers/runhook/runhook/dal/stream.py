"""The table's stream records, decoded into what the outbox publishes.

A DynamoDB stream record (Lambda's event shape, or `GetRecords` locally) becomes:

- `RunChange` — a run item whose update bumped `sequence` and names the event it
  announces (`eventType`, `eventAt`: written by `RunRepository.transition`);
- `LogAppended` — each entry of a newly inserted log item (the item carries its run's
  organization, task and sequence, so no read is needed; it holds one entry or several,
  `runhook.dal.run_logs`).

Everything else (step results, deliveries, keys, a run item touched without a
transition, a log item written before log items carried their context) is not an event
and is skipped. A record that cannot be decoded is logged and skipped too: one bad item
must not hold up every event behind it on its shard.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from runhook import keys
from runhook.dal.run_logs import LINE_TYPE, LOGS_TYPE, entries_of
from runhook.dal.runs import EVENT_AT, EVENT_TYPE, run_from_item
from runhook.dal.table import deserialize
from runhook.models import LogEntry, Run

log = logging.getLogger("runhook.outbox")


@dataclass(frozen=True)
class RunChange:
    position: str  # the stream record's SequenceNumber
    event_type: str
    occurred_at: str
    run: Run


@dataclass(frozen=True)
class LogAppended:
    position: str
    org_id: str
    task_id: str
    run_id: str
    run_sequence: int
    entry: LogEntry


Change = RunChange | LogAppended


def decode_records(records: Iterable[Mapping[str, Any]]) -> list[Change]:
    """The changes in stream order (skipping records that announce nothing)."""
    changes: list[Change] = []
    for record in records:
        stream = record.get("dynamodb") or {}
        position = str(stream.get("SequenceNumber", ""))
        try:
            changes.extend(_decode(str(record.get("eventName", "")), stream, position))
        except Exception:  # a malformed item: logged and skipped, never a stuck shard
            log.exception("stream record %s could not be decoded: skipped", position)
    return changes


def _decode(event_name: str, stream: Mapping[str, Any], position: str) -> list[Change]:
    if event_name not in ("INSERT", "MODIFY") or not stream.get("NewImage"):
        return []
    new = deserialize(stream["NewImage"])
    kind = new.get("type")
    if kind == "run":
        old = deserialize(stream["OldImage"]) if stream.get("OldImage") else {}
        event_type = new.get(EVENT_TYPE)
        if not event_type or old.get("sequence") == new.get("sequence"):
            return []  # created (PENDING announces nothing) or touched without a transition
        occurred_at = str(new.get(EVENT_AT) or "")
        return [RunChange(position, str(event_type), occurred_at, run_from_item(new))]
    if kind in (LOGS_TYPE, LINE_TYPE) and event_name == "INSERT" and new.get("orgId"):
        return [
            LogAppended(
                position=position,
                org_id=str(new["orgId"]),
                task_id=str(new.get("taskId", "")),
                run_id=keys.run_id_of(str(new["pk"])),
                run_sequence=int(new.get("runSequence", 0)),
                entry=entry,
            )
            for entry in entries_of(new)
        ]
    return []
