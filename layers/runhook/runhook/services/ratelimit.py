"""Per-key rate limits that hold across every Lambda container.

One conditional UpdateItem per request on a fixed window of `burst / rate` seconds that
admits `burst` requests: the long-run average is `rate` per second and a quiet key may
burst. Cheaper than a token bucket (no read-before-write) and shared by all containers.
"""

from __future__ import annotations

import math
import time
from typing import Any

from runhook.dal.limits import LimitsRepository
from runhook.errors import RateLimited

DEFAULT_RATE = 20.0
DEFAULT_BURST = 40


def limits(org_settings: dict[str, Any]) -> tuple[float, int]:
    rate = float(org_settings.get("rateLimitPerSecond") or DEFAULT_RATE)
    burst = int(org_settings.get("rateLimitBurst") or max(DEFAULT_BURST, math.ceil(rate * 2)))
    return rate, max(burst, 1)


class RateLimiter:
    def __init__(self, limits_repo: LimitsRepository) -> None:
        self.limits = limits_repo

    def check(self, key_id: str, org_settings: dict[str, Any], now: float | None = None) -> None:
        """Count this request against the key's window; raise RateLimited when it is full."""
        rate, burst = limits(org_settings)
        window = max(burst / rate, 1.0)
        now = time.time() if now is None else now
        index = int(now // window)
        if not self.limits.take_rate_slot(key_id, index, burst, int(now + window + 60)):
            raise RateLimited(retry_after=max(1, math.ceil((index + 1) * window - now)))
