"""Per-key rate limits that hold across every Lambda container.

One conditional UpdateItem per request on a fixed window of `burst / rate` seconds that
admits `burst` requests: the long-run average is `rate` per second and a quiet key may
burst. Cheaper than a token bucket (no read-before-write) and shared by all containers.
"""

from __future__ import annotations

import math
import time
from typing import Any

from botocore.exceptions import ClientError

from runhook.dal.dynamo import ddb, error_code, table_name, to_item, to_values, translate_errors
from runhook.errors import RateLimited

DEFAULT_RATE = 20.0
DEFAULT_BURST = 40


def limits(org_settings: dict[str, Any]) -> tuple[float, int]:
    rate = float(org_settings.get("rateLimitPerSecond") or DEFAULT_RATE)
    burst = int(org_settings.get("rateLimitBurst") or max(DEFAULT_BURST, math.ceil(rate * 2)))
    return rate, max(burst, 1)


def check(key_id: str, org_settings: dict[str, Any], now: float | None = None) -> None:
    """Count this request against the key's window; raise RateLimited when it is full."""
    rate, burst = limits(org_settings)
    window = max(burst / rate, 1.0)
    now = time.time() if now is None else now
    index = int(now // window)
    try:
        with translate_errors():
            ddb().update_item(
                TableName=table_name(),
                Key=to_item({"pk": f"RATE#{key_id}", "sk": f"W#{index}"}),
                UpdateExpression="ADD n :one SET expiresAt = :exp",
                ConditionExpression="attribute_not_exists(n) OR n < :burst",
                ExpressionAttributeValues=to_values(
                    {":one": 1, ":burst": burst, ":exp": int(now + window + 60)}
                ),
            )
    except ClientError as exc:
        if error_code(exc) == "ConditionalCheckFailedException":
            retry_after = max(1, math.ceil((index + 1) * window - now))
            raise RateLimited(retry_after=retry_after) from exc
        raise
