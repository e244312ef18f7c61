"""A run's log entries as items: several entries per item (issue 16, write units).

DynamoDB bills a write per started KB of each item, and a log line is ~200 bytes: one
item per line paid a whole unit for each (two or three per step). Each `append` call
(a step's lines, with its result) now stores its entries **together**, in as few items
as fit `MAX_BATCH_BYTES`:

- ``pk = RUN#<run>``, ``sk = LOG#<the id of the item's last entry>``, ``type = "logs"``,
  ``entries`` (a list of `LogEntry` maps, in id order), and what the item's `task-run.log`
  event needs (``orgId``, ``taskId``, ``runSequence``), and the TTL (``expiresAt``).
- Items written before (``type = "log"``: one entry, its fields on the item, ``sk =
  LOG#<its id>``) are read the same way: an item of one entry whose last id is its own.
  With packing turned off (``pack=False``: template.yaml's StepRecordPacks=off, for a
  deploy next to a release before packing, which reads nothing else) every entry is
  written that way again.

**Why the last id in the sort key.** Entry ids are UUIDv7 (`clock.sortable_id`), and one
run has one writer at a time (the engine's invocations of a run follow each other), so the
items of a run hold consecutive, non-overlapping id ranges and sort by them. Reading
after an entry id `X` (the API's ``after`` cursor) is then one Query from
``ExclusiveStartKey = LOG#X``: the first item it returns is the one whose range holds
the entries just after `X` (its last id is greater), and entries up to `X` in it are
skipped. A page that ends inside an item names its last entry as the cursor, and the
next page starts inside that item again. No read is needed before a write, and the
cursor stays a log entry id, as the contract says. (Were two writers ever to overlap, a
duplicate Express execution writing while the first still runs, a read without a cursor
would still return every entry; a page boundary inside the overlap could skip one for a
tailing reader, as one item per line could when an entry older than a stored one was
written late.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from runhook import clock, keys
from runhook.dal.expressions import Item, key, prefix_query
from runhook.dal.table import Table
from runhook.models import LogEntry, LogLevel, Run

LOGS_TYPE = "logs"  # an item of several entries
LINE_TYPE = "log"  # an item of one entry (written before issue 16's packing)
MAX_BATCH_BYTES = 64 * 1024  # of entries per item: well under 400 KB, a few units at most
MAX_ITEMS_PER_QUERY = 100  # items per Query call while a page fills
_ENTRY_OVERHEAD = 160  # bytes of an entry besides its message (id, timestamp, names)


def batches(entries: Sequence[LogEntry], max_bytes: int = MAX_BATCH_BYTES) -> list[list[LogEntry]]:
    """`entries` in id order, cut into runs whose messages fit `max_bytes` (at least one
    entry each: a message is at most 16 KB, `runhook.engine.journal.MAX_MESSAGE`)."""
    out: list[list[LogEntry]] = []
    size = 0
    for entry in sorted(entries, key=lambda e: e.id):
        cost = len(entry.message.encode()) + _ENTRY_OVERHEAD
        if not out or size + cost > max_bytes:
            out.append([])
            size = 0
        out[-1].append(entry)
        size += cost
    return out


def log_items(
    run: Run, entries: Sequence[LogEntry], ttl_days: int, *, pack: bool = True
) -> list[Item]:
    """The items that store `entries` (see the module docstring); `pack=False`: one item
    per entry, the layout releases before packing read."""
    expires = clock.epoch() + ttl_days * 86400
    pk = keys.run_pk(run.id)
    context = {"orgId": run.org_id, "taskId": run.task_id, "runSequence": run.sequence}
    if not pack:
        return [
            {
                **key(pk, keys.log_sk(e.id)),
                "type": LINE_TYPE,
                **_stored(e),
                **context,
                "expiresAt": expires,
            }
            for e in entries
        ]
    return [
        {
            **key(pk, keys.log_sk(batch[-1].id)),
            "type": LOGS_TYPE,
            "entries": [_stored(e) for e in batch],
            **context,
            "expiresAt": expires,
        }
        for batch in batches(entries)
    ]


def entries_of(item: Mapping[str, Any]) -> list[LogEntry]:
    """The entries an item holds, in id order (either layout).

    A stored value must never make a read fail (a hand-edited item, or one written by
    another tool): an entry without a usable id is skipped, since the id is the logs'
    cursor; any other field out of shape is read as the nearest valid value.
    """
    stored = (item.get("entries") or []) if item.get("type") == LOGS_TYPE else [item]
    if not isinstance(stored, list):
        return []
    entries = (_entry(e) for e in stored if isinstance(e, Mapping))
    return [e for e in entries if e is not None]


def read_after(
    table: Table, run_id: str, *, after: str | None, limit: int
) -> tuple[list[LogEntry], str | None]:
    """Up to `limit` entries after the entry `after`, in time order, and the cursor of the
    next page (the last entry's id) when at least one more entry is stored.

    Each Query asks for as many items as entries are still wanted (one more than the
    page, to know whether another follows): an item holds at least one, so no Query
    reads items the page will not use beyond the one that tells.
    """
    pk = keys.run_pk(run_id)
    query = prefix_query(pk, keys.LOG_PREFIX, consistent=True)
    start = key(pk, keys.log_sk(after)) if after else None
    page: list[LogEntry] = []
    while True:
        wanted = min(limit + 1 - len(page), MAX_ITEMS_PER_QUERY)
        items, start = table.query(query, limit=wanted, start=start)
        for item in items:
            page.extend(e for e in entries_of(item) if after is None or e.id > after)
        if len(page) > limit:
            return page[:limit], page[limit - 1].id
        if start is None:
            return page, None


def _stored(entry: LogEntry) -> dict[str, Any]:
    stored = entry.model_dump()
    return {name: value for name, value in stored.items() if value is not None}


# Levels other tools write, read as the contract's three (`LogEntry.level`).
_LEVELS: dict[str, LogLevel] = {
    "info": "info",
    "warning": "warning",
    "error": "error",
    "warn": "warning",
    "fatal": "error",
    "critical": "error",
}


def _entry(stored: Mapping[str, Any]) -> LogEntry | None:
    """A stored entry as a LogEntry; None when it has no id (see `entries_of`)."""
    entry_id = stored.get("id")
    if not isinstance(entry_id, str) or not entry_id:
        return None
    message = stored.get("message")
    return LogEntry(
        id=entry_id,
        timestamp=_text(stored.get("timestamp")),
        level=_LEVELS.get(str(stored.get("level", "")).lower(), "info"),
        message="" if message is None else str(message),
        nodeId=_text(stored.get("nodeId")),
    )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None
