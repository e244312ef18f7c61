"""What both clients share: settings from arguments or the environment, the retry policy
(pure functions, unit-tested without a server) and reading an answer into JSON or an error."""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from runhook_client.errors import RunhookError, error_for

DEFAULT_BASE_URL = "http://127.0.0.1:3000"
API_PREFIX = "/public/v1"
RETRYABLE_STATUSES = frozenset({429, 503})


@dataclass(frozen=True)
class Settings:
    api_key: str | None
    base_url: str  # the service's root; requests go to base_url + /public/v1
    timeout: float

    @classmethod
    def resolve(cls, api_key: str | None, base_url: str | None, timeout: float | None) -> Settings:
        """Arguments first, then RUNHOOK_API_KEY / RUNHOOK_API_URL, then the local cloud."""
        url = base_url or os.environ.get("RUNHOOK_API_URL") or DEFAULT_BASE_URL
        url = url.rstrip("/")
        if url.endswith(API_PREFIX):  # accept …/public/v1 too
            url = url[: -len(API_PREFIX)]
        key = api_key or os.environ.get("RUNHOOK_API_KEY") or None
        return cls(api_key=key, base_url=url, timeout=30.0 if timeout is None else timeout)

    def headers(self) -> dict[str, str]:
        from runhook_client import __version__

        out = {"User-Agent": f"runhook-client/{__version__}", "Accept": "application/json"}
        if self.api_key:
            out["Authorization"] = f"Bearer {self.api_key}"
        return out


@dataclass(frozen=True)
class RetryPolicy:
    """Retries of 429 and 503 answers: at most `max_retries`, each wait bounded.

    The server's `Retry-After` wins when it gives one (capped at `max_delay`: a caller would
    rather get RateLimited than hang); otherwise exponential backoff with full jitter.
    """

    max_retries: int = 3
    base_delay: float = 0.5
    max_delay: float = 30.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to sleep before retry number `attempt` (1-based)."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_delay)
        ceiling = min(self.base_delay * 2 ** (attempt - 1), self.max_delay)
        return random.uniform(ceiling / 2, ceiling)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """`Retry-After` as seconds: delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)


def should_retry(response: httpx.Response, attempt: int, policy: RetryPolicy) -> bool:
    return response.status_code in RETRYABLE_STATUSES and attempt <= policy.max_retries


def decode(response: httpx.Response) -> Any:
    """The answer's JSON (None for an empty body), or the RunhookError it stands for."""
    body: Any = None
    if response.content:
        try:
            body = response.json()
        except ValueError:
            body = response.text
    if response.status_code >= 400:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        raise error_for(response.status_code, body, retry_after)
    return body


def transport_error(exc: httpx.HTTPError, url: str) -> RunhookError:
    from runhook_client.errors import TransportError

    error = TransportError(f"cannot reach {url}: {exc.__class__.__name__}: {exc}")
    error.__cause__ = exc
    return error
