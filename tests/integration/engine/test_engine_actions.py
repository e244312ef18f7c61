"""The engine's actions, called as the state machine would (and as a retry would)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from runhook.dal.runs import RunRepository
from runhook.engine import policy
from runhook.engine.runner import Engine, RunNotActive
from runhook.models import Run, RunStatus
from tests.support.loopback import Hit, Target

pytestmark = pytest.mark.localcloud

runs_dal: RunRepository  # set for each test by `_local_runs`
local: Any  # the local cloud's Container, likewise


@pytest.fixture(autouse=True)
def _local_runs(container: Any) -> None:
    """`runs_dal`: the local cloud's run repository."""
    global runs_dal, local
    runs_dal, local = container.runs, container


MakeRun = Callable[..., Run]


def engine(**kw: Any) -> Engine:
    """An engine for one invocation, wired as the step function wires it (the local cloud's
    environment: DynamoDB Local and its bus)."""
    return local.engine.engine(**kw)


def advance(
    run_id: str, nxt: dict[str, Any] | None = None, *, limits: policy.Limits | None = None
) -> dict[str, Any]:
    state: dict[str, Any] = {"runId": run_id}
    if nxt is not None:
        state["next"] = nxt
    invocation = engine(remaining_ms=lambda: 900_000, limits=limits or policy.Limits())
    return invocation.handle({"action": "advance", "state": state})


def logs(run_id: str) -> list[tuple[str | None, str, str]]:
    entries, _ = runs_dal.list_logs(run_id, after=None, limit=500)
    return [(e.nodeId, e.level, e.message) for e in entries]


def test_a_run_cancelled_before_it_started_ends_quietly(make_run: MakeRun) -> None:
    run = make_run([{"id": "a", "type": "log", "message": "never"}])
    runs_dal.transition(
        run.id,
        event="task-run.cancelled",
        allowed_from={RunStatus.PENDING},
        changes={"status": RunStatus.CANCELLED},
    )
    assert advance(run.id) == {"runId": run.id, "next": {"kind": "end"}}
    after = runs_dal.get(run.id)
    assert after is not None
    assert (after.status, after.started_at) == (RunStatus.CANCELLED, None)
    assert logs(run.id) == []


def test_a_retried_invocation_does_not_advance_twice(make_run: MakeRun) -> None:
    run = make_run(
        [
            {"id": "a", "type": "log", "message": "one"},
            {"id": "nap", "type": "wait", "seconds": 5},
            {"id": "b", "type": "log", "message": "two"},
        ]
    )
    first = advance(run.id)
    assert first["next"] == {
        "kind": "wait",
        "index": 1,
        "seconds": 5,
        "until": first["next"]["until"],
    }
    seq = runs_dal.get(run.id).sequence  # type: ignore[union-attr]
    retried = advance(run.id)  # Lambda retried the first invocation
    assert retried["next"]["kind"] == "wait" and retried["next"]["index"] == 1
    assert runs_dal.get(run.id).sequence == seq  # type: ignore[union-attr]
    assert [m for n, _, m in logs(run.id) if n == "a"] == ["one"]  # step a ran once

    done = advance(run.id, first["next"])
    assert done["next"] == {"kind": "end"}
    again = advance(run.id, first["next"])  # a retry of the post-wait invocation
    assert again["next"] == {"kind": "end"}
    final = runs_dal.get(run.id)
    assert final is not None and final.status is RunStatus.COMPLETED
    assert [m for n, _, m in logs(run.id) if n == "b"] == ["two"]
    assert final.current_step == 3


def test_results_flow_between_invocations_and_big_results_round_trip(
    make_run: MakeRun, target: Target
) -> None:
    body = json.dumps(
        {"rows": [{"i": i, "text": "lorem ipsum " * 8} for i in range(6000)]}
    ).encode()
    assert len(body) > 500_000
    target.routes["/big"] = lambda hit: (200, {"Content-Type": "application/json"}, body)
    run = make_run(
        [
            {"id": "fetch", "type": "http", "url": target.url + "/big"},
            {"id": "nap", "type": "wait", "seconds": 1},
            {
                "id": "count",
                "type": "transform",
                "values": {
                    "n": "length(steps.fetch.json.rows)",
                    "last": "steps.fetch.json.rows[-1].i",
                },
            },
        ],
        outputs={"n": "steps.count.n", "last": "steps.count.last"},
    )
    first = advance(run.id)
    assert first["next"]["kind"] == "wait"
    stored = local.engine.store.load_step_records(run.id)
    assert stored[0].result["json"]["rows"][5999]["i"] == 5999  # parts reassembled
    advance(run.id, first["next"])  # a new invocation reads the result back
    final = runs_dal.get(run.id)
    assert final is not None and final.status is RunStatus.COMPLETED
    assert final.outputs == {"n": 6000, "last": 5999}


def test_a_long_backoff_becomes_a_wait_state(make_run: MakeRun, target: Target) -> None:
    short_backoffs = policy.Limits(inline_backoff_limit=0.05)
    hits: list[Hit] = []

    def flaky(hit: Hit) -> tuple[int, dict[str, str], bytes]:
        hits.append(hit)
        return (
            (503, {}, b"") if len(hits) == 1 else (200, {"Content-Type": "application/json"}, b"{}")
        )

    target.routes["/flaky"] = flaky
    run = make_run(
        [
            {
                "id": "call",
                "type": "http",
                "url": target.url + "/flaky",
                "retry": {"maxAttempts": 2, "backoffSeconds": 3},
            }
        ]
    )
    first = advance(run.id, limits=short_backoffs)
    assert first["next"] == {"kind": "wait", "index": 0, "seconds": 3, "attempt": 2, "retry": True}
    assert len(hits) == 1
    advance(run.id, first["next"], limits=short_backoffs)
    final = runs_dal.get(run.id)
    assert final is not None and final.status is RunStatus.COMPLETED
    warnings = [m for _, level, m in logs(run.id) if level == "warning"]
    assert warnings == [
        "attempt 1/2 failed: expected status 2xx, got 503 Service Unavailable; retrying in 3 s"
    ]


def test_out_of_lambda_time_hands_over_to_a_new_invocation(make_run: MakeRun) -> None:
    run = make_run([{"id": f"s{i}", "type": "log", "message": str(i)} for i in range(3)])
    # Room for one step (the first always runs), not for a second step's full timeout.
    tight = engine(remaining_ms=lambda: int((policy.LAMBDA_MARGIN_SECONDS + 5) * 1000))
    out = tight.handle({"action": "advance", "state": {"runId": run.id}})
    assert out["next"] == {"kind": "compute", "index": 1, "runner": "step"}
    advance(run.id, out["next"])
    final = runs_dal.get(run.id)
    assert final is not None and final.status is RunStatus.COMPLETED
    assert [n for n, _, _ in logs(run.id) if n] == ["s0", "s1", "s2"]


def test_await_refuses_a_run_that_is_no_longer_running(make_run: MakeRun) -> None:
    run = make_run([{"id": "ok", "type": "approval", "prompt": "ok?", "timeoutSeconds": 60}])
    out = advance(run.id)
    assert out["next"] == {"kind": "approval", "index": 0, "timeoutSeconds": 60}
    runs_dal.transition(
        run.id,
        event="task-run.cancelled",
        allowed_from={RunStatus.RUNNING},
        changes={"status": RunStatus.CANCELLED},
    )
    with pytest.raises(RunNotActive):
        engine().handle({"action": "await", "state": out, "taskToken": "tok"})
    item = runs_dal.get_item(run.id)
    assert item is not None and "taskToken" not in item


def test_await_parks_the_token_and_waiting(make_run: MakeRun) -> None:
    run = make_run(
        [{"id": "ok", "type": "approval", "prompt": "ship {{ inputs.n }}?", "timeoutSeconds": 60}],
        inputs={"n": 3},
    )
    out = advance(run.id)
    engine().handle({"action": "await", "state": out, "taskToken": "tok-1"})
    item = runs_dal.get_item(run.id)
    parked = runs_dal.get(run.id)
    assert item is not None and item["taskToken"] == "tok-1"
    assert parked is not None and parked.waiting is not None
    assert (parked.waiting.nodeId, parked.waiting.prompt) == ("ok", "ship 3?")


def test_the_catch_all_fails_the_run_at_the_current_step(make_run: MakeRun) -> None:
    run = make_run(
        [
            {"id": "a", "type": "log", "message": "x"},
            {"id": "ok", "type": "approval", "prompt": "?"},
        ]
    )
    out = advance(run.id)
    cause = json.dumps({"errorMessage": "boom", "errorType": "RuntimeError", "stackTrace": []})
    engine().handle(
        {"action": "fail", "state": {**out, "error": {"Error": "RuntimeError", "Cause": cause}}}
    )
    failed = runs_dal.get(run.id)
    assert failed is not None and failed.status is RunStatus.FAILED
    assert failed.error is not None
    assert (failed.error.code, failed.error.nodeId) == ("internal_error", "ok")
    assert "RuntimeError: boom" in failed.error.message
    # A second catch (a retried MarkFailed) changes nothing.
    seq = failed.sequence
    engine().handle({"action": "fail", "state": {**out, "error": {"Error": "X"}}})
    assert runs_dal.get(run.id).sequence == seq  # type: ignore[union-attr]


def test_a_cancel_between_steps_stops_the_batch(make_run: MakeRun, target: Target) -> None:
    run_holder: list[str] = []

    def cancel_then_answer(hit: Hit) -> tuple[int, dict[str, str], bytes]:
        runs_dal.transition(
            run_holder[0],
            event="task-run.cancelled",
            allowed_from={RunStatus.RUNNING},
            changes={"status": RunStatus.CANCELLED},
        )
        return 200, {}, b""

    target.routes["/cancel-me"] = cancel_then_answer
    target.routes["/never"] = lambda hit: (200, {}, b"")
    run = make_run(
        [
            {"id": "a", "type": "http", "url": target.url + "/cancel-me"},
            {"id": "b", "type": "http", "url": target.url + "/never"},
        ]
    )
    run_holder.append(run.id)
    started = time.monotonic()
    assert advance(run.id)["next"] == {"kind": "end"}
    assert time.monotonic() - started < 5
    assert [h.path for h in target.hits] == ["/cancel-me"]
    final = runs_dal.get(run.id)
    assert final is not None and final.status is RunStatus.CANCELLED


def test_a_batch_for_a_runner_that_is_not_deployed_fails_instead_of_looping(
    make_run: MakeRun,
) -> None:
    run = make_run(
        [{"id": "a", "type": "log", "message": "x"}, {"id": "b", "type": "log", "message": "y"}]
    )
    runs_dal.transition(
        run.id,
        event="task-run.started",
        allowed_from={RunStatus.PENDING},
        changes={"status": RunStatus.RUNNING},
    )
    advance(run.id, {"kind": "compute", "index": 0, "runner": "browser"})
    failed = runs_dal.get(run.id)
    assert failed is not None and failed.status is RunStatus.FAILED
    assert failed.error is not None and (failed.error.code, failed.error.nodeId) == (
        "runner_unavailable",
        "a",
    )
