"""Cancelling an Express run on the local cloud (issue 16).

An Express execution cannot be stopped (StopExecution is Standard only), so the cancel
relies on the engine: the run turns CANCELLED at once, the step in flight (if any) finishes
but is not recorded, no later step starts, and the execution ends by itself at the next
step boundary, where the engine finds the run no longer RUNNING. On Standard the same
cancel aborts the execution (tests/e2e/engine/test_engine_pauses.py).
"""

from __future__ import annotations

import threading

import pytest

from tests.e2e.engine.engine_e2e import Api
from tests.support.loopback import Hit, Target

pytestmark = pytest.mark.localcloud

SHORT = 120  # a task timeout that fits Express (runhook.engine.routing: <= 240 s)


def _nodes(api: Api, run_id: str) -> set[str]:
    return {e["nodeId"] for e in api.logs(run_id)}


def test_cancel_during_a_wait_ends_the_express_execution_at_the_next_advance(
    api: Api, target: Target
) -> None:
    target.routes["/after"] = lambda hit: (200, {}, b"")
    task_id = api.task(
        {
            "name": "Express nap",
            "timeoutSeconds": SHORT,
            "steps": [
                {"id": "nap", "type": "wait", "seconds": 3},
                {"id": "after", "type": "http", "url": target.url + "/after"},
            ],
        }
    )
    run = api.start(task_id)
    assert run["engine"] == "express"
    api.wait(run["id"], lambda r: "nap" in _nodes(api, r["id"]))
    resp = api.client.post(f"/task-runs/{run['id']}/cancel", json={"reason": "changed my mind"})
    assert resp.status_code == 202, resp.text
    assert resp.json()["run"]["status"] == "CANCELLED"
    # Not stopped (Express cannot be): the Wait state ends, Advance finds CANCELLED and the
    # execution ends quietly, a success as far as Step Functions is concerned.
    execution = api.wait_execution(run["id"], timeout=30)
    assert execution["status"] == "SUCCEEDED", execution
    done = api.run(run["id"])
    assert (done["status"], done["cancelReason"], done["error"]) == (
        "CANCELLED",
        "changed my mind",
        None,
    )
    assert target.hits == []
    assert "after" not in _nodes(api, run["id"])


def test_cancel_during_a_step_lets_it_finish_and_starts_no_other(api: Api, target: Target) -> None:
    entered, release = threading.Event(), threading.Event()

    def slow(hit: Hit) -> tuple[int, dict[str, str], bytes]:
        entered.set()
        release.wait(20)
        return 200, {"Content-Type": "application/json"}, b'{"ok": true}'

    target.routes["/slow"] = slow
    target.routes["/after"] = lambda hit: (200, {}, b"")
    task_id = api.task(
        {
            "name": "Express slow step",
            "timeoutSeconds": SHORT,
            "steps": [
                {"id": "slow", "type": "http", "url": target.url + "/slow"},
                {"id": "after", "type": "http", "url": target.url + "/after"},
            ],
        }
    )
    run = api.start(task_id)
    assert run["engine"] == "express"
    assert entered.wait(60), "the slow step never called its target"
    resp = api.client.post(f"/task-runs/{run['id']}/cancel", json={"reason": "stop"})
    assert resp.status_code == 202, resp.text
    assert resp.json()["run"]["status"] == "CANCELLED"
    release.set()  # the step in flight finishes; recording it is refused
    execution = api.wait_execution(run["id"], timeout=30)
    assert execution["status"] == "SUCCEEDED", execution
    done = api.run(run["id"])
    assert (done["status"], done["cancelReason"]) == ("CANCELLED", "stop")
    assert done["progress"]["currentStep"] == 0  # the slow step's result was not recorded
    last = api.logs(run["id"])[-1]
    assert (last["nodeId"], last["level"], last["message"]) == (
        "slow",
        "warning",
        "run is no longer running: stopping",
    )
    assert [h.path for h in target.hits] == ["/slow"]  # the next step never started
    assert "after" not in _nodes(api, run["id"])
