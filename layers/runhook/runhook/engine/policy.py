"""Retry and time-budget rules, as pure functions of numbers.

Every duration here is in **seconds** (floats). The two clocks they compare:

- the run's time left: its `deadline` minus now (`RunContext.run_remaining`);
- the invocation's Lambda time left: `context.get_remaining_time_in_millis()`, turned
  into seconds once where it is read (`engine.context.TimeBudget`), minus a margin kept
  for writing results and events before Lambda's timeout.

docs/engine.md §4 explains the rules; tests/unit/engine/test_engine_policy.py pins them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

LAMBDA_MARGIN_SECONDS = 30.0  # left for writing results and events before Lambda's timeout
INLINE_BACKOFF_LIMIT = 10.0  # longer retry backoffs become a Wait state (no compute billed)
MAX_RETRY_AFTER = 300.0  # a server's Retry-After is honoured up to this


@dataclass(frozen=True)
class Limits:
    """The engine's tunable limits (tests shrink them to stage hand-overs quickly)."""

    lambda_margin: float = LAMBDA_MARGIN_SECONDS
    inline_backoff_limit: float = INLINE_BACKOFF_LIMIT
    max_retry_after: float = MAX_RETRY_AFTER


DEFAULT_LIMITS = Limits()


class RetryPolicy(Protocol):
    """A step's `retry` ({maxAttempts, backoffSeconds, backoffRate})."""

    @property
    def maxAttempts(self) -> int: ...

    @property
    def backoffSeconds(self) -> float: ...

    @property
    def backoffRate(self) -> float: ...


def max_attempts(retry: RetryPolicy | None) -> int:
    return int(retry.maxAttempts) if retry is not None else 1


def may_retry(retry: RetryPolicy | None, attempt: int, *, retryable: bool) -> bool:
    """Whether a failed attempt may be followed by another (before looking at time)."""
    return retry is not None and retryable and attempt < max_attempts(retry)


def retry_delay(
    retry: RetryPolicy, attempt: int, retry_after: float | None, limits: Limits = DEFAULT_LIMITS
) -> float:
    """Backoff before the attempt after `attempt`: backoffSeconds * backoffRate^(attempt-1),
    raised to a server's Retry-After (capped at `limits.max_retry_after`)."""
    delay = float(retry.backoffSeconds) * float(retry.backoffRate) ** (attempt - 1)
    if retry_after is not None:
        delay = max(delay, min(retry_after, limits.max_retry_after))
    return delay


def retry_fits_run(delay: float, run_remaining: float) -> bool:
    """No retry starts that would begin after the run's deadline."""
    return delay < run_remaining


def sleeps_inline(
    delay: float, lambda_remaining: float, attempt_timeout: float, limits: Limits = DEFAULT_LIMITS
) -> bool:
    """Sleep the backoff here, or hand it to a Wait state (long, or no Lambda time for it
    plus another attempt)."""
    if delay > limits.inline_backoff_limit:
        return False
    return delay <= lambda_remaining - (limits.lambda_margin + attempt_timeout)


def wait_state_seconds(delay: float) -> int:
    """A backoff handed to a Wait state: whole seconds, at least one."""
    return max(1, math.ceil(delay))


def attempt_timeout(
    configured: float,
    run_remaining: float,
    lambda_remaining: float,
    limits: Limits = DEFAULT_LIMITS,
) -> float:
    """Seconds one attempt may take: its step's timeout, capped by the run's time left and
    the invocation's (minus the margin). Zero or less: no attempt fits."""
    return min(configured, run_remaining, lambda_remaining - limits.lambda_margin)


def fits_in_invocation(
    configured: float,
    run_remaining: float,
    lambda_remaining: float,
    limits: Limits = DEFAULT_LIMITS,
) -> bool:
    """Whether this invocation can still give a step its full timeout (else hand over)."""
    return lambda_remaining - limits.lambda_margin >= min(configured, run_remaining)
