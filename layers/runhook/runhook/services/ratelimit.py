"""Per-key rate limits that hold across every Lambda container.

One conditional UpdateItem per request on a fixed window of `burst / rate` seconds that
admits `burst` requests: the long-run average is `rate` per second and a quiet key may
burst. Cheaper than a token bucket (no read-before-write) and shared by all containers.
"""

from __future__ import annotations

import math
import time

from runhook.dal.limits import LimitsRepository
from runhook.errors import RateLimited
from runhook.models import (
    MAX_RATE_BURST,
    MAX_RATE_PER_SECOND,
    MIN_RATE_PER_SECOND,
    OrganizationSettings,
)

DEFAULT_RATE = 20.0
DEFAULT_BURST = 40


def _within(value: float, low: float, high: float, default: float) -> float:
    return min(max(value, low), high) if math.isfinite(value) else default


def limits(org_settings: OrganizationSettings) -> tuple[float, int]:
    """The key's (rate, burst), always within the settings' bounds.

    The settings were read within them already (OrganizationSettings.from_stored); this
    bounds them again because the window arithmetic below must stay finite whatever it
    is handed: a rate of 5e-324 once made the window infinite and every request a 500.
    """
    rate = _within(
        float(org_settings.rateLimitPerSecond or DEFAULT_RATE),
        MIN_RATE_PER_SECOND,
        MAX_RATE_PER_SECOND,
        DEFAULT_RATE,
    )
    burst = org_settings.rateLimitBurst or max(DEFAULT_BURST, math.ceil(rate * 2))
    return rate, int(_within(float(burst), 1, MAX_RATE_BURST, DEFAULT_BURST))


class RateLimiter:
    def __init__(self, limits_repo: LimitsRepository) -> None:
        self.limits = limits_repo

    def check(
        self, key_id: str, org_settings: OrganizationSettings, now: float | None = None
    ) -> None:
        """Count this request against the key's window; raise RateLimited when it is full."""
        rate, burst = limits(org_settings)
        window = max(burst / rate, 1.0)
        now = time.time() if now is None else now
        index = int(now // window)
        if not self.limits.take_rate_slot(key_id, index, burst, int(now + window + 60)):
            raise RateLimited(retry_after=max(1, math.ceil((index + 1) * window - now)))
