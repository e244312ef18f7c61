"""Stored organization settings are read within their bounds, whatever the table holds.

The rate limiter once raised OverflowError on every request of an organization whose rate
was 5e-324. These check the pure parts: reading a stored document never raises and gives
values the limiter's arithmetic can use, and the limiter itself stays finite.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from runhook.errors import RateLimited
from runhook.models import (
    MAX_MONTHLY_RUN_QUOTA,
    MAX_RATE_BURST,
    MAX_RATE_PER_SECOND,
    MIN_RATE_PER_SECOND,
    OrganizationSettings,
)
from runhook.services.authentication import ip_allowed
from runhook.services.ratelimit import RateLimiter, limits


class RecordingLimits:
    """The limits repository's rate-slot call, recorded (always admits)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int, int, int]] = []

    def take_rate_slot(self, key_id: str, window: int, burst: int, expires_at: int) -> bool:
        self.calls.append((key_id, window, burst, expires_at))
        return True


def check_once(settings_: OrganizationSettings, now: float = 1.7e9) -> tuple[str, int, int, int]:
    repo = RecordingLimits()
    RateLimiter(repo).check("key", settings_, now=now)  # type: ignore[arg-type]
    (call,) = repo.calls
    return call


def test_the_brick_value_is_clamped_and_the_limiter_stays_finite() -> None:
    read, problems = OrganizationSettings.from_stored({"rateLimitPerSecond": 5e-324})
    assert read.rateLimitPerSecond == MIN_RATE_PER_SECOND
    assert problems and "clamped" in problems[0]
    _, _, burst, expires_at = check_once(read)
    assert burst == 40
    assert expires_at <= 1.7e9 + 40 / MIN_RATE_PER_SECOND + 61


@pytest.mark.parametrize(
    ("raw", "expected", "clean"),
    [
        (None, OrganizationSettings(), True),
        ({}, OrganizationSettings(), True),
        ({"rateLimitPerSecond": 5, "rateLimitBurst": 9}, OrganizationSettings(rateLimitPerSecond=5, rateLimitBurst=9), True),
        ({"rateLimitPerSecond": float("nan")}, OrganizationSettings(), False),
        ({"rateLimitPerSecond": float("inf"), "rateLimitBurst": float("-inf")}, OrganizationSettings(), False),
        ({"rateLimitPerSecond": "fast", "rateLimitBurst": True, "monthlyRunQuota": []}, OrganizationSettings(), False),
        ({"rateLimitPerSecond": 10**400}, OrganizationSettings(rateLimitPerSecond=MAX_RATE_PER_SECOND), False),
        ({"rateLimitBurst": 0, "monthlyRunQuota": -1}, OrganizationSettings(rateLimitBurst=1, monthlyRunQuota=0), False),
        ({"rateLimitBurst": 2.7}, OrganizationSettings(rateLimitBurst=2), False),
        ({"monthlyRunQuota": Decimal("9E+125")}, OrganizationSettings(monthlyRunQuota=MAX_MONTHLY_RUN_QUOTA), False),
        ({"rateLimitPerSecond": Decimal("1E-130")}, OrganizationSettings(rateLimitPerSecond=MIN_RATE_PER_SECOND), False),
        ({"ipAllowlist": [" 10.1.2.3/8 ", "::1"]}, OrganizationSettings(ipAllowlist=["10.0.0.0/8", "::1/128"]), True),
        ([1, 2], OrganizationSettings(), False),
        ("settings", OrganizationSettings(), False),
    ],
)  # fmt: skip
def test_stored_settings_are_read_within_bounds(
    raw: Any, expected: OrganizationSettings, clean: bool
) -> None:
    read, problems = OrganizationSettings.from_stored(raw)
    assert read == expected
    assert (problems == []) is clean, problems


def test_unreadable_allowlist_entries_match_nothing() -> None:
    read, problems = OrganizationSettings.from_stored(
        {"ipAllowlist": ["127.0.0.0/8", "garbage", 7]}
    )
    assert read.ipAllowlist == ["127.0.0.0/8", "garbage", "7"] and len(problems) == 2
    assert ip_allowed("127.0.0.1", read.ipAllowlist)
    assert not ip_allowed("10.0.0.1", read.ipAllowlist)
    # Nothing valid left: nobody gets in (fails closed), and nothing raises.
    only_bad, _ = OrganizationSettings.from_stored({"ipAllowlist": "not a list"})
    assert only_bad.ipAllowlist == ["not a list"]
    assert not ip_allowed("127.0.0.1", only_bad.ipAllowlist)


def test_the_api_model_refuses_what_the_stored_reading_clamps() -> None:
    for bad in (
        {"rateLimitPerSecond": 5e-324},
        {"rateLimitPerSecond": float("nan")},
        {"rateLimitPerSecond": True},
        {"rateLimitPerSecond": "5"},
        {"rateLimitBurst": 2.0},
        {"monthlyRunQuota": MAX_MONTHLY_RUN_QUOTA + 1},
        {"ipAllowlist": ["x" * 65]},
        {"unknown": 1},
    ):
        with pytest.raises(ValidationError):
            OrganizationSettings.model_validate(bad)


NUMBERS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(),  # NaN, infinities, subnormals (5e-324) included
    st.decimals(),
    st.text(max_size=5),
    st.lists(st.integers(), max_size=2),
)
STORED = st.one_of(
    st.none(),
    st.integers(),
    st.text(max_size=5),
    st.fixed_dictionaries(
        {},
        optional={
            "rateLimitPerSecond": NUMBERS,
            "rateLimitBurst": NUMBERS,
            "monthlyRunQuota": NUMBERS,
            "ipAllowlist": st.one_of(NUMBERS, st.lists(st.one_of(st.text(max_size=20), NUMBERS), max_size=3)),
            "other": NUMBERS,
        },
    ),
)  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(raw=STORED, now=st.floats(min_value=0, max_value=4e9))
def test_any_stored_document_gives_a_finite_rate_window(raw: Any, now: float) -> None:
    read, _ = OrganizationSettings.from_stored(raw)
    rate, burst = limits(read)
    assert MIN_RATE_PER_SECOND <= rate <= MAX_RATE_PER_SECOND and math.isfinite(rate)
    assert 1 <= burst <= MAX_RATE_BURST
    quota = read.monthlyRunQuota
    assert quota is None or (type(quota) is int and 0 <= quota <= MAX_MONTHLY_RUN_QUOTA)
    _, window, _, expires_at = check_once(read, now)
    assert type(window) is int and type(expires_at) is int
    ip_allowed("127.0.0.1", read.ipAllowlist or [])  # never raises
    read.stored()  # and can be written back


def test_limits_are_bounded_even_for_settings_built_without_validation() -> None:
    raw = OrganizationSettings.model_construct(rateLimitPerSecond=5e-324, rateLimitBurst=10**9)
    assert limits(raw) == (MIN_RATE_PER_SECOND, MAX_RATE_BURST)
    nan = OrganizationSettings.model_construct(rateLimitPerSecond=float("nan"))
    assert limits(nan) == (20.0, 40)


def test_a_full_window_is_rate_limited_with_a_finite_retry_after() -> None:
    class Full(RecordingLimits):
        def take_rate_slot(self, key_id: str, window: int, burst: int, expires_at: int) -> bool:
            return False

    slow = OrganizationSettings(rateLimitPerSecond=MIN_RATE_PER_SECOND, rateLimitBurst=1)
    with pytest.raises(RateLimited) as caught:
        RateLimiter(Full()).check("key", slow, now=1.7e9 + 3)  # type: ignore[arg-type]
    assert 1 <= caught.value.retry_after <= 10
