"""Per-step results under the run's partition: ``RUN#<run>`` / ``STEP#<0001>``.

One item per finished step (succeeded or failed) with the result as JSON. A result
larger than fits comfortably in an item (an http body may be 1 MB; an item at most
400 KB) is zlib-compressed and, if still large, split into part items
``STEP#<0001>#P<001>`` that sort right after their step; the step item is written
last, so a reader never sees a half-written result. One consistent Query
(``begins_with(sk, "STEP#")``) reads them all back in order.

Items expire (TTL) `log_retention_days` after the run's deadline, like the logs.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field
from typing import Any

from runhook import clock, keys
from runhook.dal.codec import dumps
from runhook.dal.expressions import prefix_query
from runhook.dal.table import Table

INLINE_LIMIT = 64 * 1024  # JSON up to this size is stored as a plain string
PART_BYTES = 350 * 1024  # compressed bytes per part item


@dataclass
class StepRecord:
    index: int
    step_id: str
    kind: str
    status: str  # "succeeded" | "failed"
    result: Any = None
    error: dict[str, Any] | None = None
    attempts: int = 1
    started_at: str | None = None
    finished_at: str | None = None
    duration_ms: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _part_sk(index: int, part: int) -> str:
    return f"{keys.step_sk(index)}#P{part:03d}"


def put_items(
    run_id: str, record: StepRecord, expires_at: int
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The items of a step: (its parts, if any; the step item itself).

    Write the parts first: the step item marks the result complete. Overwrites: a
    retried step's record wins.
    """
    pk = keys.run_pk(run_id)
    item: dict[str, Any] = {
        "pk": pk,
        "sk": keys.step_sk(record.index),
        "type": "step",
        "index": record.index,
        "stepId": record.step_id,
        "kind": record.kind,
        "status": record.status,
        "attempts": record.attempts,
        "startedAt": record.started_at,
        "finishedAt": record.finished_at,
        "durationMs": record.duration_ms,
        "error": dumps(record.error) if record.error else None,
        "expiresAt": expires_at,
    }
    encoded = dumps(record.result)
    parts: list[dict[str, Any]] = []
    if len(encoded.encode()) <= INLINE_LIMIT:
        item["result"] = encoded
    else:
        packed = zlib.compress(encoded.encode(), 6)
        chunks = [packed[i : i + PART_BYTES] for i in range(0, len(packed), PART_BYTES)]
        item["resultParts"] = len(chunks)
        for n, chunk in enumerate(chunks, start=1):
            part = {
                "pk": pk,
                "sk": _part_sk(record.index, n),
                "type": "step_part",
                "chunk": chunk,
                "expiresAt": expires_at,
            }
            parts.append(part)
    return parts, item


def load(table: Table, run_id: str) -> dict[int, StepRecord]:
    """Every recorded step of the run, by index (parts reassembled)."""
    items = table.query_all(prefix_query(keys.run_pk(run_id), keys.STEP_PREFIX, consistent=True))
    parts: dict[int, list[bytes]] = {}
    for item in items:  # parts sort after their step item: collect them first
        if item.get("type") == "step_part":
            index = int(str(item["sk"])[len(keys.STEP_PREFIX) :].split("#", 1)[0])
            parts.setdefault(index, []).append(bytes(item["chunk"]))
    records: dict[int, StepRecord] = {}
    for item in items:
        if item.get("type") != "step":
            continue
        index = int(item["index"])
        if "resultParts" in item:
            count = int(item["resultParts"])
            chunks = parts.get(index, [])[:count]  # a retried step may have left more parts
            if len(chunks) != count:
                raise RuntimeError(f"step {index} of run {run_id}: result parts missing")
            result = json.loads(zlib.decompress(b"".join(chunks)))
        else:
            result = json.loads(item["result"]) if "result" in item else None
        records[index] = StepRecord(
            index=index,
            step_id=str(item.get("stepId", "")),
            kind=str(item.get("kind", "")),
            status=str(item.get("status", "")),
            result=result,
            error=json.loads(item["error"]) if item.get("error") else None,
            attempts=int(item.get("attempts", 1)),
            started_at=item.get("startedAt"),
            finished_at=item.get("finishedAt"),
            duration_ms=int(item["durationMs"]) if item.get("durationMs") is not None else None,
        )
    return records


def expiry(deadline_iso: str | None, retention_days: int) -> int:
    """TTL epoch: the run's deadline (or now) plus the retention period."""
    base = clock.parse_iso(deadline_iso).timestamp() if deadline_iso else clock.epoch()
    return int(base) + retention_days * 86400
