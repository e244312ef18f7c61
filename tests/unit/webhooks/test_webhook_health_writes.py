"""Health without a write per attempt (issue 16): the pure rules behind it."""

from __future__ import annotations

from runhook.dal.webhooks import outcomes_of
from runhook.webhook_models import Endpoint
from runhook.webhooks.send import SUCCESS_STAMP_SECONDS, health_unchanged

T0 = "2026-11-30T01:00:00.000Z"


def _endpoint(**fields: object) -> Endpoint:
    base: dict[str, object] = {
        "id": "ep",
        "org_id": "org",
        "url": "https://hooks.example.com/",
        "secret": "whsec_x",
        "created_at": T0,
        "updated_at": T0,
    }
    return Endpoint.model_validate({**base, **fields})


def test_a_delivery_head_implies_its_attempt_outcomes_newest_first() -> None:
    assert outcomes_of("succeeded", 1) == [True]
    assert outcomes_of("succeeded", 3) == [True, False, False]
    assert outcomes_of("failed", 2) == [False, False]
    assert outcomes_of("pending", 2) == [False, False]
    assert outcomes_of("pending", 0) == []
    # An attempt in flight (leased) has no outcome yet.
    assert outcomes_of("pending", 2, in_flight=True) == [False]
    assert outcomes_of("pending", 1, in_flight=True) == []
    assert outcomes_of("succeeded", 1, in_flight=True) == [True]


def test_steady_successes_write_no_health_within_the_stamp_interval() -> None:
    fresh = _endpoint(last_success_at=T0)
    soon = "2026-11-30T01:00:30.000Z"
    assert health_unchanged(fresh, [(soon, True), (T0, True)])
    late = f"2026-11-30T01:0{int(SUCCESS_STAMP_SECONDS) // 60}:00.001Z"
    assert not health_unchanged(fresh, [(late, True)])  # lastSuccessAt is due a refresh


def test_any_failure_or_streak_or_first_success_is_written() -> None:
    soon = "2026-11-30T01:00:10.000Z"
    assert not health_unchanged(_endpoint(last_success_at=T0), [(soon, True), (soon, False)])
    assert not health_unchanged(_endpoint(), [(soon, True)])  # never succeeded before
    streak = _endpoint(last_success_at=T0, consecutive_failures=2, failing_since=T0)
    assert not health_unchanged(streak, [(soon, True)])  # the streak must be reset
    assert not health_unchanged(_endpoint(last_success_at=T0), [])
