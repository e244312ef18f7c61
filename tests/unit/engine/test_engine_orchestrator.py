"""The orchestrator against in-memory ports (tests/unit/engine/fakes.py): claiming,
batches and progress, retries, time budgets, completion, failure, approvals, races with
cancel and the events each committed write announces (the store is the outbox). The same flows run against DynamoDB Local in
tests/integration/engine and through the state machine in tests/e2e/engine."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from runhook import clock
from runhook.engine import policy
from runhook.engine.runner import RunNotActive
from runhook.engine.steps import KINDS, StepCall, StepFailure
from runhook.models import Run, RunStatus
from tests.unit.engine.fakes import Harness, ScriptedHttp

LOG = {"type": "log", "message": "x"}
HTTP = {"type": "http", "url": "https://example.com/"}
RETRY = {"maxAttempts": 3, "backoffSeconds": 2, "backoffRate": 3}
END = {"kind": "end"}


@pytest.fixture()
def h() -> Harness:
    return Harness()


@pytest.fixture()
def http(monkeypatch: pytest.MonkeyPatch) -> Callable[..., ScriptedHttp]:
    """`http(*script)`: http steps play the script instead of calling anything."""

    def install(*script: Any) -> ScriptedHttp:
        kind = ScriptedHttp(*script)
        monkeypatch.setitem(KINDS, "http", kind)
        return kind

    return install


def step(step_id: str, base: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"id": step_id, **base, **extra}


def current(h: Harness, run: Run) -> Run:
    return h.store.runs[run.id]


def warnings(h: Harness, run: Run) -> list[str]:
    return [m for _, level, m in h.store.log_lines(run.id) if level == "warning"]


# -- claim, batches, completion -----------------------------------------------------------


def test_quick_steps_run_in_one_invocation_and_are_stored_in_one_write(h: Harness) -> None:
    run = h.store.add_run(
        [step("a", LOG, message="one"), step("b", LOG), step("c", LOG, message="three")],
        outputs={"last": "steps.c.message"},
    )
    assert h.advance(run.id) == {"runId": run.id, "next": END}
    done = current(h, run)
    assert (done.status, done.current_step, done.outputs) == (
        RunStatus.COMPLETED,
        3,
        {"last": "three"},
    )
    # The claim; the three records with their log lines and the run's last line in one
    # write (quick steps wait for a checkpoint; the last steps' progress is the
    # completion); the completion.
    assert h.store.writes == ["transition", "record_steps", "transition"]
    assert sorted(h.store.records[run.id]) == [0, 1, 2]
    assert h.store.outbox == ["task-run.started", "task-run.log", "task-run.completed"]
    assert [m for _, _, m in h.store.log_lines(run.id)] == [
        "one",
        "x",
        "three",
        "completing the run: 3/3 steps finished",
    ]
    assert dict(h.last.outcomes) == {"run_started": 1, "step_succeeded": 3, "run_completed": 1}


@pytest.mark.parametrize(
    ("limit", "value", "checkpoints"),
    [
        ("MAX_HELD_RECORDS", 2, 2),  # steps 0-1 and 2-3; step 4 goes with the completion
        ("CHECKPOINT_SECONDS", 0.0, 4),  # every quick step is due at once
    ],
)
def test_a_long_burst_of_quick_steps_is_stored_at_every_checkpoint(
    h: Harness, monkeypatch: pytest.MonkeyPatch, limit: str, value: float, checkpoints: int
) -> None:
    from runhook.engine import journal

    monkeypatch.setattr(journal, limit, value)
    run = h.store.add_run([step(f"s{i}", LOG) for i in range(5)])
    assert h.advance(run.id)["next"] == END
    assert h.store.writes == [
        "transition",
        *["record_steps", "transition"] * checkpoints,
        "record_steps",
        "transition",
    ]
    assert h.store.outbox.count("task-run.updated") == checkpoints
    assert current(h, run).current_step == 5


def test_progress_is_stored_before_the_machine_pauses(h: Harness) -> None:
    run = h.store.add_run(
        [step("a", LOG), step("b", LOG), step("nap", {"type": "wait", "seconds": 5})]
    )
    assert h.advance(run.id)["next"]["index"] == 2
    assert current(h, run).current_step == 2 and sorted(h.store.records[run.id]) == [0, 1]
    assert h.store.outbox == ["task-run.started", "task-run.log", "task-run.updated"]


def test_a_step_failing_after_quick_steps_stores_them_and_counts_them_done(h: Harness) -> None:
    failing = {"type": "fail", "code": "bad_order", "message": "no"}
    run = h.store.add_run([step("a", LOG), step("b", LOG), step("c", failing)])
    assert h.advance(run.id)["next"] == END
    failed = current(h, run)
    assert failed.status is RunStatus.FAILED and failed.current_step == 2
    assert failed.error is not None and failed.error.code == "bad_order"
    records = h.store.records[run.id]
    assert [records[i].status for i in range(3)] == ["succeeded", "succeeded", "failed"]
    assert "task-run.updated" not in h.store.outbox


def test_a_cancel_during_a_burst_of_quick_steps_wins(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    def cancel_meanwhile(call: StepCall) -> dict[str, int]:
        h.store.cancel(run.id)
        return {"status": 200}

    quick = ScriptedHttp(cancel_meanwhile)
    quick.quick = True  # stands in for a quick kind during which a cancel lands
    monkeypatch.setitem(KINDS, "http", quick)
    run = h.store.add_run([step("a", LOG), step("b", HTTP), step("c", LOG)])
    assert h.advance(run.id)["next"] == END
    cancelled = current(h, run)
    assert cancelled.status is RunStatus.CANCELLED and cancelled.outputs == {}
    assert h.store.outbox[:2] == ["task-run.started", "task-run.cancelled"]
    assert not {"task-run.updated", "task-run.completed"} & set(h.store.outbox)


def test_progress_is_committed_before_a_slow_step_starts(
    h: Harness, http: Callable[..., ScriptedHttp]
) -> None:
    seen: list[list[str]] = []

    def slow(call: StepCall) -> dict[str, int]:
        seen.append(list(h.store.outbox))
        return {"status": 200}

    http(slow)
    run = h.store.add_run([step("a", LOG), step("b", HTTP), step("c", LOG)])
    h.advance(run.id)
    assert seen == [["task-run.started", "task-run.log", "task-run.updated"]]
    assert h.store.outbox[-2:] == ["task-run.log", "task-run.completed"]


def test_a_run_cancelled_before_it_started_ends_quietly(h: Harness) -> None:
    run = h.store.add_run([step("a", LOG)])
    h.store.cancel(run.id)
    assert h.advance(run.id) == {"runId": run.id, "next": END}
    assert current(h, run).status is RunStatus.CANCELLED
    assert h.store.outbox == ["task-run.cancelled"] and h.store.log_lines(run.id) == []


def test_a_retried_invocation_does_not_advance_twice(h: Harness) -> None:
    run = h.store.add_run(
        [step("a", LOG, message="one"), step("nap", {"type": "wait", "seconds": 5}), step("b", LOG)]
    )
    first = h.advance(run.id)
    assert first["next"] == {
        "kind": "wait",
        "index": 1,
        "seconds": 5,
        "until": first["next"]["until"],
    }
    seq = current(h, run).sequence
    retried = h.advance(run.id)  # Lambda retried the first invocation
    assert retried["next"]["kind"] == "wait" and retried["next"]["index"] == 1
    assert current(h, run).sequence == seq
    assert [m for n, _, m in h.store.log_lines(run.id) if n == "a"] == ["one"]
    assert h.advance(run.id, first["next"])["next"] == END
    assert current(h, run).status is RunStatus.COMPLETED
    assert h.store.records[run.id][1].result["waitedSeconds"] == 5


def test_a_wait_that_is_already_over_finishes_inline(h: Harness) -> None:
    run = h.store.add_run(
        [step("nap", {"type": "wait", "until": "2000-01-01T00:00:00Z"}), step("b", LOG)]
    )
    assert h.advance(run.id)["next"] == END
    assert current(h, run).status is RunStatus.COMPLETED
    assert h.store.records[run.id][0].result["waitedSeconds"] == 0


def test_a_step_of_another_runner_is_handed_over(h: Harness) -> None:
    browser = {"type": "browser", "actions": [{"action": "goto", "url": "https://example.com"}]}
    run = h.store.add_run([step("a", LOG), step("b", browser), step("c", LOG)])
    assert h.advance(run.id)["next"] == {"kind": "compute", "index": 1, "runner": "browser"}
    assert current(h, run).current_step == 1


def test_a_batch_for_a_runner_that_is_not_deployed_fails(h: Harness) -> None:
    run = h.store.add_run([step("a", LOG), step("b", LOG)])
    h.store.claim(run.id, started_at=clock.now_iso())
    h.advance(run.id, {"kind": "compute", "index": 0, "runner": "browser"})
    failed = current(h, run)
    assert failed.error is not None
    assert (failed.status, failed.error.code, failed.error.nodeId) == (
        RunStatus.FAILED,
        "runner_unavailable",
        "a",
    )


def test_outputs_that_cannot_be_evaluated_fail_the_run(h: Harness) -> None:
    run = h.store.add_run([step("a", LOG)], outputs={"n": "length(inputs.n)"}, inputs={"n": 3})
    h.advance(run.id)
    failed = current(h, run)
    assert failed.error is not None
    assert (failed.status, failed.error.code, failed.current_step) == (
        RunStatus.FAILED,
        "output_error",
        1,
    )
    assert h.store.outbox.count("task-run.failed") == 1
    assert "task-run.completed" not in h.store.outbox


def test_a_deleted_task_version_fails_the_run(h: Harness) -> None:
    run = h.store.add_run([step("a", LOG)])
    h.store.plans.clear()
    assert h.advance(run.id)["next"] == END
    failed = current(h, run)
    assert failed.error is not None and failed.error.code == "task_not_found"
    assert h.store.outbox == ["task-run.started", "task-run.failed"]


# -- retries ------------------------------------------------------------------------------


def test_a_retryable_failure_is_retried_after_a_short_backoff(
    h: Harness, http: Callable[..., ScriptedHttp]
) -> None:
    kind = http(StepFailure("http_error", "got 503", retryable=True), {"status": 200})
    run = h.store.add_run([step("call", HTTP, retry=RETRY)])
    assert h.advance(run.id)["next"] == END
    assert current(h, run).status is RunStatus.COMPLETED
    assert [c.attempt for c in kind.calls] == [1, 2]
    assert h.slept == [2.0]
    assert h.store.records[run.id][0].attempts == 2
    assert warnings(h, run) == ["attempt 1/3 failed: got 503; retrying in 2 s"]
    assert h.last.outcomes["step_attempt_failed"] == 1


def test_a_long_backoff_becomes_a_wait_state_and_resumes_at_its_attempt(
    h: Harness, http: Callable[..., ScriptedHttp]
) -> None:
    kind = http(StepFailure("http_error", "got 503", retryable=True), {"status": 200})
    run = h.store.add_run([step("call", HTTP, retry={**RETRY, "backoffSeconds": 30})])
    first = h.advance(run.id)
    assert first["next"] == {"kind": "wait", "index": 0, "seconds": 30, "attempt": 2, "retry": True}
    assert h.slept == []
    assert h.advance(run.id, first["next"])["next"] == END
    assert [c.attempt for c in kind.calls] == [1, 2]
    assert current(h, run).status is RunStatus.COMPLETED


def test_retry_after_raises_the_backoff_up_to_its_cap(
    h: Harness, http: Callable[..., ScriptedHttp]
) -> None:
    http(StepFailure("http_error", "got 429", retryable=True, retry_after=3600))
    run = h.store.add_run([step("call", HTTP, retry=RETRY)], timeout=3600)
    assert h.advance(run.id)["next"] == {
        "kind": "wait",
        "index": 0,
        "seconds": 300,
        "attempt": 2,
        "retry": True,
    }


def test_no_retry_starts_after_the_runs_deadline(
    h: Harness, http: Callable[..., ScriptedHttp]
) -> None:
    http(StepFailure("http_error", "got 503", retryable=True))
    run = h.store.add_run([step("call", HTTP, retry={**RETRY, "backoffSeconds": 10})], timeout=5)
    h.advance(run.id)
    failed = current(h, run)
    assert failed.error is not None and failed.error.code == "http_error"
    assert failed.error.message.endswith(
        "(no time left for another attempt before the run's timeout)"
    )
    assert h.slept == []


def test_a_run_cancelled_during_a_backoff_is_not_retried(
    h: Harness, http: Callable[..., ScriptedHttp]
) -> None:
    kind = http(StepFailure("http_error", "got 503", retryable=True), {"status": 200})
    run = h.store.add_run([step("call", HTTP, retry=RETRY)])
    h.on_sleep = lambda: h.store.cancel(run.id)
    assert h.advance(run.id)["next"] == END
    assert len(kind.calls) == 1
    assert current(h, run).status is RunStatus.CANCELLED
    assert warnings(h, run)[-1] == "run is no longer running: retry abandoned"


def test_a_failure_that_is_not_retryable_fails_the_run_at_once(
    h: Harness, http: Callable[..., ScriptedHttp]
) -> None:
    http(StepFailure("http_error", "got 404"))
    run = h.store.add_run([step("call", HTTP, retry=RETRY)])
    h.advance(run.id)
    failed = current(h, run)
    assert failed.error is not None
    assert (failed.error.code, failed.error.message, failed.error.nodeId) == (
        "http_error",
        "got 404",
        "call",
    )
    record = h.store.records[run.id][0]
    assert (record.status, record.error) == ("failed", {"code": "http_error", "message": "got 404"})
    assert ("call", "error", "failed: got 404") in h.store.log_lines(run.id)
    # the failed step's record and error line are committed before the run's end
    assert h.store.outbox[:3] == ["task-run.started", "task-run.log", "task-run.failed"]


def test_a_bug_in_a_kind_fails_the_step_not_the_machine(
    h: Harness, http: Callable[..., ScriptedHttp]
) -> None:
    http(RuntimeError("boom"))
    run = h.store.add_run([step("call", HTTP)])
    assert h.advance(run.id)["next"] == END
    failed = current(h, run)
    assert failed.error is not None
    assert (failed.error.code, failed.error.message) == ("step_error", "RuntimeError: boom")


# -- time budgets -------------------------------------------------------------------------


def test_a_run_past_its_deadline_fails_with_timeout(h: Harness) -> None:
    run = h.store.add_run([step("a", LOG)], deadline_in=-1)
    h.advance(run.id)
    failed = current(h, run)
    assert failed.error is not None
    assert (failed.error.code, failed.error.nodeId, failed.error.message) == (
        "timeout",
        "a",
        "the run did not finish within its timeout of 600 s",
    )


def test_a_pause_that_ends_after_the_deadline_fails_with_timeout(h: Harness) -> None:
    run = h.store.add_run([step("nap", {"type": "wait", "seconds": 5}), step("b", LOG)])
    first = h.advance(run.id)
    h.store.runs[run.id] = current(h, run).model_copy(update={"deadline": clock.now_iso()})
    h.advance(run.id, first["next"])
    failed = current(h, run)
    assert failed.error is not None and (failed.error.code, failed.error.nodeId) == (
        "timeout",
        "nap",
    )


def test_out_of_lambda_time_hands_the_next_step_over(h: Harness) -> None:
    run = h.store.add_run([step(f"s{i}", LOG) for i in range(3)])
    tight = int((policy.LAMBDA_MARGIN_SECONDS + 5) * 1000)  # one step, not a second's timeout
    out = h.advance(run.id, remaining_ms=lambda: tight)
    assert out["next"] == {"kind": "compute", "index": 1, "runner": "step"}
    assert h.advance(run.id, out["next"])["next"] == END
    assert current(h, run).status is RunStatus.COMPLETED


def test_no_lambda_time_for_an_attempt_hands_it_over_at_its_attempt(h: Harness) -> None:
    run = h.store.add_run([step("a", LOG)])
    none_left = int(policy.LAMBDA_MARGIN_SECONDS * 1000)
    out = h.advance(run.id, remaining_ms=lambda: none_left)
    assert out["next"] == {"kind": "compute", "index": 0, "runner": "step", "attempt": 1}
    assert current(h, run).status is RunStatus.RUNNING


# -- approvals ----------------------------------------------------------------------------


def approval_run(h: Harness) -> tuple[Run, dict[str, Any]]:
    run = h.store.add_run(
        [step("ok", {"type": "approval", "prompt": "ship {{ inputs.n }}?", "timeoutSeconds": 60})],
        inputs={"n": 3},
    )
    out = h.advance(run.id)
    assert out["next"] == {"kind": "approval", "index": 0, "timeoutSeconds": 60}
    return run, out


def test_await_parks_the_token_and_the_prompt(h: Harness) -> None:
    run, out = approval_run(h)
    assert h.park(out, "tok-1") == {"runId": run.id, "waiting": True}
    parked = current(h, run)
    assert h.store.tokens[run.id] == "tok-1"
    assert parked.waiting is not None
    assert (parked.waiting.nodeId, parked.waiting.prompt) == ("ok", "ship 3?")
    assert parked.waiting.expiresAt is not None
    assert h.store.outbox[-2:] == ["task-run.waiting", "task-run.log"]
    assert h.last.outcomes["approval_parked"] == 1


def test_an_answer_becomes_the_steps_result(h: Harness) -> None:
    run, out = approval_run(h)
    h.park(out)
    answer = {"approved": True, "data": {"x": 1}}
    assert h.advance(run.id, out["next"], answer=answer)["next"] == END
    assert current(h, run).status is RunStatus.COMPLETED
    assert h.store.records[run.id][0].result == {
        "approved": True,
        "data": {"x": 1},
        "comment": None,
    }


def test_a_rejection_fails_the_run(h: Harness) -> None:
    run, out = approval_run(h)
    h.park(out)
    h.advance(run.id, out["next"], answer={"approved": False, "comment": "no"})
    failed = current(h, run)
    assert failed.error is not None
    assert (failed.error.code, failed.error.message) == ("rejected", "rejected (comment: no)")
    assert run.id not in h.store.tokens


def test_await_refuses_a_run_that_is_no_longer_running(h: Harness) -> None:
    run, out = approval_run(h)
    h.store.cancel(run.id)
    with pytest.raises(RunNotActive):
        h.park(out)
    assert run.id not in h.store.tokens


def test_await_refuses_a_step_that_is_not_an_approval(h: Harness) -> None:
    run = h.store.add_run([step("a", LOG), step("nap", {"type": "wait", "seconds": 5})])
    out = h.advance(run.id)
    with pytest.raises(ValueError, match="step 1 is not an approval"):
        h.park(out)


# -- the catch-all ------------------------------------------------------------------------


def test_the_catch_all_fails_the_run_at_its_current_step_once(h: Harness) -> None:
    run = h.store.add_run(
        [step("a", LOG), step("ok", {"type": "approval", "prompt": "?"})], timeout=3600
    )
    out = h.advance(run.id)
    cause = json.dumps({"errorMessage": "boom", "errorType": "RuntimeError", "stackTrace": []})
    h.catch(out, {"Error": "RuntimeError", "Cause": cause})
    failed = current(h, run)
    assert failed.error is not None
    assert (failed.error.code, failed.error.nodeId) == ("internal_error", "ok")
    assert failed.error.message == "the engine failed: RuntimeError: boom"
    assert h.store.outbox[-2:] == ["task-run.failed", "task-run.log"]
    seq, announced = failed.sequence, list(h.store.outbox)
    h.catch(out, {"Error": "X"})  # a retried MarkFailed changes nothing, announces nothing
    assert current(h, run).sequence == seq
    assert h.store.outbox == announced


# -- races with cancel and with other invocations -----------------------------------------


def test_a_cancel_between_steps_stops_the_batch(
    h: Harness, http: Callable[..., ScriptedHttp]
) -> None:
    holder: list[Run] = []

    def cancel_then_answer(call: StepCall) -> dict[str, int]:
        h.store.cancel(holder[0].id)
        return {"status": 200}

    kind = http(cancel_then_answer)  # a second http call would find the script empty
    run = h.store.add_run([step("a", HTTP), step("b", HTTP)])
    holder.append(run)
    assert h.advance(run.id)["next"] == END
    assert len(kind.calls) == 1
    assert current(h, run).status is RunStatus.CANCELLED
    assert warnings(h, run) == ["run is no longer running: stopping"]
    assert "task-run.completed" not in h.store.outbox


def test_an_invocation_that_lost_the_progress_race_carries_on(
    h: Harness, http: Callable[..., ScriptedHttp]
) -> None:
    holder: list[Run] = []

    def overtaken(call: StepCall) -> dict[str, int]:
        h.store.advance(
            holder[0].id, from_step=0, to_step=1
        )  # an overlapping retry recorded step a
        return {"status": 200}

    http(overtaken)
    run = h.store.add_run([step("a", HTTP), step("b", LOG)])
    holder.append(run)
    assert h.advance(run.id)["next"] == END
    assert current(h, run).status is RunStatus.COMPLETED
    assert warnings(h, run) == []
