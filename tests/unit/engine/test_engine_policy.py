"""The retry and time-budget rules (engine/policy.py), the Lambda time budget and the
reconciler, without storage."""

from __future__ import annotations

import math

import pytest

from runhook.engine import policy
from runhook.engine.context import TimeBudget
from runhook.models import RunStatus
from runhook.tasks.definition import Retry
from tests.unit.engine.fakes import Harness

TIGHT = policy.Limits(lambda_margin=30, inline_backoff_limit=10, max_retry_after=300)


@pytest.mark.parametrize(
    ("attempt", "retry_after", "delay"),
    [
        (1, None, 2.0),  # backoffSeconds
        (2, None, 6.0),  # × backoffRate
        (3, None, 18.0),  # × backoffRate²
        (1, 5.0, 5.0),  # a server's Retry-After raises it
        (3, 5.0, 18.0),  # … but never lowers it
        (1, 3600.0, 300.0),  # … and is honoured up to 300 s
    ],
)
def test_retry_delay(attempt: int, retry_after: float | None, delay: float) -> None:
    retry = Retry(maxAttempts=5, backoffSeconds=2, backoffRate=3)
    assert policy.retry_delay(retry, attempt, retry_after, TIGHT) == delay


def test_attempts_and_whether_to_retry() -> None:
    retry = Retry(maxAttempts=3)
    assert policy.max_attempts(None) == 1 and policy.max_attempts(retry) == 3
    assert policy.may_retry(retry, 2, retryable=True)
    assert not policy.may_retry(retry, 3, retryable=True)  # the last attempt
    assert not policy.may_retry(retry, 1, retryable=False)  # e.g. a 404
    assert not policy.may_retry(None, 1, retryable=True)  # no retry policy


def test_a_retry_must_start_before_the_runs_deadline() -> None:
    assert policy.retry_fits_run(4.9, run_remaining=5.0)
    assert not policy.retry_fits_run(5.0, run_remaining=5.0)


@pytest.mark.parametrize(
    ("delay", "lambda_remaining", "timeout", "inline"),
    [
        (2.0, math.inf, 30.0, True),
        (10.0, math.inf, 30.0, True),  # up to the inline limit
        (10.5, math.inf, 30.0, False),  # longer: a Wait state
        (2.0, 62.0, 30.0, True),  # 2 + margin 30 + another attempt's 30 fit in 62 s
        (2.0, 61.0, 30.0, False),  # … not in 61 s: hand over
    ],
)
def test_sleep_inline_or_hand_the_backoff_to_a_wait_state(
    delay: float, lambda_remaining: float, timeout: float, inline: bool
) -> None:
    assert policy.sleeps_inline(delay, lambda_remaining, timeout, TIGHT) is inline


def test_a_wait_state_waits_whole_seconds_at_least_one() -> None:
    assert [policy.wait_state_seconds(d) for d in (0.0, 0.2, 1.0, 10.1)] == [1, 1, 1, 11]


def test_an_attempts_timeout_is_capped_by_both_clocks() -> None:
    assert policy.attempt_timeout(30, run_remaining=600, lambda_remaining=900, limits=TIGHT) == 30
    assert policy.attempt_timeout(30, run_remaining=12, lambda_remaining=900, limits=TIGHT) == 12
    assert policy.attempt_timeout(30, run_remaining=600, lambda_remaining=40, limits=TIGHT) == 10
    assert policy.attempt_timeout(30, run_remaining=600, lambda_remaining=30, limits=TIGHT) <= 0


def test_another_step_starts_only_with_time_for_its_whole_timeout() -> None:
    assert policy.fits_in_invocation(30, run_remaining=600, lambda_remaining=60, limits=TIGHT)
    assert not policy.fits_in_invocation(30, run_remaining=600, lambda_remaining=59, limits=TIGHT)
    # Near the run's deadline only the run's time left is needed.
    assert policy.fits_in_invocation(30, run_remaining=5, lambda_remaining=35, limits=TIGHT)


def test_the_time_budget_reads_lambdas_milliseconds_as_seconds() -> None:
    now = [100.0]
    budget = TimeBudget(lambda: 90_000, monotonic=lambda: now[0])
    assert budget.remaining() == 90.0
    now[0] += 30
    assert budget.remaining() == 60.0
    assert TimeBudget(None).remaining() == math.inf


def test_the_reconciler_fails_an_active_run_once() -> None:
    h = Harness()
    run = h.store.add_run([{"id": "a", "type": "wait", "seconds": 60}])
    event = {
        "detail-type": "Step Functions Execution Status Change",
        "detail": {"name": run.id, "status": "ABORTED", "error": "Manual", "cause": "console"},
    }
    reconciler = h.deps.reconciler()
    assert reconciler.reconcile(event) == {
        "action": "failed",
        "runId": run.id,
        "code": "execution_failed",
    }
    failed = h.store.runs[run.id]
    assert failed.status is RunStatus.FAILED and failed.error is not None
    assert failed.error.message == "the run's execution was stopped (Manual: console)"
    assert h.store.outbox == ["task-run.failed"]
    assert reconciler.reconcile(event)["action"] == "none"
    assert h.store.outbox == ["task-run.failed"]
