"""Retry schedule arithmetic: attempts, delays, Retry-After, the SQS limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from runhook.clock import parse_retry_after
from runhook.settings import Settings
from runhook.webhooks.schedule import MAX_VISIBILITY_SECONDS, max_attempts, retry_delay

DEFAULT = Settings().retry_schedule


def test_default_schedule_is_the_design() -> None:
    assert DEFAULT == [5, 300, 1800, 7200, 18000, 36000, 36000]
    assert max_attempts(DEFAULT) == 8
    # attempt n failed → wait schedule[n-1]; after attempt 8 there is none
    assert [retry_delay(n, DEFAULT) for n in range(1, 9)] == [
        5,
        300,
        1800,
        7200,
        18000,
        36000,
        36000,
        None,
    ]


def test_compressed_schedule_from_the_environment() -> None:
    schedule = Settings(WEBHOOK_RETRY_SCHEDULE="1, 1,2").retry_schedule
    assert schedule == [1, 1, 2]
    assert [retry_delay(n, schedule) for n in range(1, 6)] == [1, 1, 2, None, None]


def test_max_receive_count_caps_attempts() -> None:
    assert max_attempts(DEFAULT, 8) == 8
    assert max_attempts(DEFAULT, 3) == 3
    assert max_attempts(DEFAULT, 20) == 8
    assert retry_delay(3, DEFAULT, max_receive_count=3) is None
    assert retry_delay(2, DEFAULT, max_receive_count=3) == 300
    assert max_attempts([]) == 1 and retry_delay(1, []) is None


def test_retry_after_is_honoured_within_limits() -> None:
    # only on 429/503, never sooner than scheduled, at most SQS's 12 h
    assert retry_delay(1, DEFAULT, status=429, retry_after=60) == 60
    assert retry_delay(1, DEFAULT, status=503, retry_after=2) == 5
    assert retry_delay(1, DEFAULT, status=500, retry_after=60) == 5
    assert retry_delay(2, DEFAULT, status=429, retry_after=10**6) == MAX_VISIBILITY_SECONDS
    assert retry_delay(8, DEFAULT, status=429, retry_after=1) is None
    assert retry_delay(1, [1.2]) == 2  # whole seconds, rounded up


def test_parse_retry_after() -> None:
    now = datetime(2025, 10, 14, 18, 0, tzinfo=UTC)
    assert parse_retry_after("120", now) == 120
    assert parse_retry_after(format_datetime(now + timedelta(seconds=90), usegmt=True), now) == 90
    assert parse_retry_after(format_datetime(now - timedelta(seconds=90), usegmt=True), now) == 0
    for bad in (None, "", "soon", "-5", "1.5"):
        assert parse_retry_after(bad, now) is None
