"""Time and identifiers, in the formats of the public API (docs/data-model.md)."""

from __future__ import annotations

import os
import threading
import time
import uuid
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


def now() -> datetime:
    return datetime.now(UTC)


def iso(dt: datetime) -> str:
    """ISO 8601 UTC with milliseconds and `Z` (the contract's timestamp format)."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def now_iso() -> str:
    return iso(now())


def parse_iso(value: str) -> datetime:
    dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def epoch() -> int:
    return int(time.time())


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date (RFC 9110 §10.2.3).

    None when absent or malformed (a negative or fractional delta is malformed); a date
    in the past is 0. The one parser for webhook receivers and http steps alike.
    """
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - now).total_seconds())


def new_id() -> str:
    return str(uuid.uuid4())


_last = [0, 0]  # last millisecond, counter within it
_id_lock = threading.Lock()


def sortable_id() -> str:
    """A UUIDv7: ids made by one process sort by creation, even within one millisecond."""
    with _id_lock:
        ms = int(time.time() * 1000)
        if ms <= _last[0]:
            ms, counter = _last[0], _last[1] + 1
            if counter > 0xFFF:
                ms, counter = ms + 1, 0
        else:
            counter = 0
        _last[0], _last[1] = ms, counter
    rand = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (ms & ((1 << 48) - 1)) << 80 | (0x7 << 76) | counter << 64 | (0b10 << 62) | rand
    return str(uuid.UUID(int=value))


def is_uuid(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value.lower() and len(value) == 36
    except (ValueError, AttributeError, TypeError):
        return False
