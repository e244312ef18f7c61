"""Retry schedule arithmetic (pure).

The schedule lists the seconds to wait before each retry after the first attempt
(docs/webhooks.md: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h), so a delivery gets
`len(schedule) + 1` attempts. The attempt number of a queued delivery is its SQS
`ApproximateReceiveCount`; the queue's `maxReceiveCount` must be `len(schedule) + 1`
so that SQS redrives the message to the DLQ right after the last attempt. When the
two disagree the smaller wins (and the sender dead-letters the message itself).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

MAX_VISIBILITY_SECONDS = 12 * 60 * 60  # SQS ChangeMessageVisibility limit
RETRY_AFTER_STATUSES = frozenset({429, 503})


def max_attempts(schedule: Sequence[float], max_receive_count: int | None = None) -> int:
    attempts = len(schedule) + 1
    if max_receive_count:
        attempts = min(attempts, max_receive_count)
    return max(1, attempts)


def retry_delay(
    attempt: int,
    schedule: Sequence[float],
    *,
    max_receive_count: int | None = None,
    status: int | None = None,
    retry_after: float | None = None,
) -> int | None:
    """Seconds before the next attempt after attempt number `attempt` (1-based) failed.

    None when that was the last attempt. A `Retry-After` (runhook.clock.parse_retry_after)
    on 429/503 is honoured
    within the schedule: it can push the next attempt later than scheduled (never
    sooner), up to SQS's 12-hour visibility limit, and it still counts as one of
    the schedule's attempts.
    """
    if attempt >= max_attempts(schedule, max_receive_count):
        return None
    delay = float(schedule[min(attempt, len(schedule)) - 1])
    if retry_after is not None and status in RETRY_AFTER_STATUSES:
        delay = max(delay, retry_after)
    return math.ceil(min(max(0.0, delay), MAX_VISIBILITY_SECONDS))
