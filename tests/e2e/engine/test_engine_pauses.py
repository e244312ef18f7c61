"""Wait states, approvals (waitForTaskToken) and cancellation, end to end."""

from __future__ import annotations

import time
from datetime import datetime

import pytest

from runhook.engine.plan import expected_transitions
from tests.e2e.engine.engine_e2e import Api, messages
from tests.support.loopback import Target

pytestmark = pytest.mark.localcloud


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def approval_task(target: Target, timeout: int = 300) -> dict:
    target.json("/quote", {"amount": 99.5})
    target.routes["/refund"] = lambda hit: (200, {"Content-Type": "application/json"}, hit.body)
    return {
        "name": "Refund with approval",
        "steps": [
            {"id": "quote", "type": "http", "url": target.url + "/quote"},
            {
                "id": "approve",
                "type": "approval",
                "prompt": "Refund {{ steps.quote.json.amount }} EUR?",
                "timeoutSeconds": timeout,
            },
            {
                "id": "refund",
                "type": "http",
                "method": "POST",
                "url": target.url + "/refund",
                "json": {"by": "{{ steps.approve.data.user }}"},
            },
        ],
        "outputs": {
            "approvedBy": "steps.approve.data.user",
            "comment": "steps.approve.comment",
            "refunded": "steps.refund.json.by",
        },
    }


def test_a_two_second_wait_takes_at_least_two_seconds(api: Api) -> None:
    task_id = api.task(
        {
            "name": "Nap",
            "steps": [
                {"id": "before", "type": "log", "message": "before"},
                {"id": "nap", "type": "wait", "seconds": 2},
                {"id": "after", "type": "log", "message": "after"},
            ],
        }
    )
    run = api.start(task_id)
    done = api.wait(run["id"])
    assert done["status"] == "COMPLETED"
    logs = api.logs(run["id"])
    before = next(e for e in logs if e["nodeId"] == "before")
    after = next(e for e in logs if e["nodeId"] == "after")
    assert (_ts(after["timestamp"]) - _ts(before["timestamp"])).total_seconds() >= 2.0
    assert messages(logs, "nap")[0].startswith("waiting 2 s")
    assert api.transitions(run["id"]) == ["Advance", "Route", "Wait", "Advance", "Route", "Done"]


def test_approval_approved_completes_with_the_posted_data(api: Api, target: Target) -> None:
    task_id = api.task(approval_task(target))
    run = api.start(task_id)
    waiting = api.waiting(run["id"])
    assert waiting["status"] == "RUNNING"
    assert waiting["waiting"]["nodeId"] == "approve"
    assert waiting["waiting"]["prompt"] == "Refund 99.5 EUR?"
    assert waiting["waiting"]["expiresAt"] > waiting["waiting"]["since"]
    assert waiting["progress"] == {"currentStep": 1, "stepsTotal": 3}
    assert [h.path for h in target.hits] == ["/quote"]

    resp = api.client.post(
        f"/task-runs/{run['id']}/resume",
        json={"approved": True, "data": {"user": "ann"}, "comment": "ok by me"},
    )
    assert resp.status_code in (200, 202), resp.text
    done = api.wait(run["id"])
    assert done["status"] == "COMPLETED", done
    assert done["outputs"] == {"approvedBy": "ann", "comment": "ok by me", "refunded": "ann"}
    assert done["waiting"] is None
    assert [h.path for h in target.hits] == ["/quote", "/refund"]
    states = api.transitions(run["id"])
    assert states == ["Advance", "Route", "Approval", "Advance", "Route", "Done"]
    assert len(states) == expected_transitions(["http", "approval", "http"])
    # Answering again: the run is no longer waiting.
    again = api.client.post(f"/task-runs/{run['id']}/resume", json={"approved": True})
    assert again.status_code == 409
    assert again.json()["detail"] == "run_not_waiting"


def test_approval_rejected_fails_the_run(api: Api, target: Target) -> None:
    task_id = api.task(approval_task(target))
    run = api.start(task_id)
    api.waiting(run["id"])
    resp = api.client.post(
        f"/task-runs/{run['id']}/resume", json={"approved": False, "comment": "too much"}
    )
    assert resp.status_code in (200, 202), resp.text
    done = api.wait(run["id"])
    assert done["status"] == "FAILED"
    assert done["error"]["code"] == "rejected"
    assert done["error"]["nodeId"] == "approve"
    assert "too much" in done["error"]["message"]
    assert [h.path for h in target.hits] == ["/quote"]  # the refund never ran


def test_approval_times_out(api: Api, target: Target) -> None:
    task_id = api.task(approval_task(target, timeout=1))
    run = api.start(task_id)
    done = api.wait(run["id"], timeout=30)
    assert done["status"] == "FAILED"
    assert (done["error"]["code"], done["error"]["nodeId"]) == ("approval_timeout", "approve")
    assert done["waiting"] is None
    assert [h.path for h in target.hits] == ["/quote"]
    resp = api.client.post(f"/task-runs/{run['id']}/resume", json={"approved": True})
    assert resp.status_code == 409


def test_resume_a_run_that_is_not_waiting_is_409(api: Api) -> None:
    task_id = api.task({"name": "Nap", "steps": [{"id": "nap", "type": "wait", "seconds": 30}]})
    run = api.start(task_id)
    api.wait(run["id"], lambda r: r["status"] == "RUNNING")
    resp = api.client.post(f"/task-runs/{run['id']}/resume", json={"approved": True})
    assert resp.status_code == 409
    api.client.post(f"/task-runs/{run['id']}/cancel", json={})


def test_cancel_during_a_wait(api: Api, target: Target) -> None:
    target.routes["/after"] = lambda hit: (200, {}, b"")
    task_id = api.task(
        {
            "name": "Long nap",
            "steps": [
                {"id": "nap", "type": "wait", "seconds": 30},
                {"id": "after", "type": "http", "url": target.url + "/after"},
            ],
        }
    )
    run = api.start(task_id)
    api.wait(run["id"], lambda r: any(e["nodeId"] == "nap" for e in api.logs(r["id"])))
    resp = api.client.post(f"/task-runs/{run['id']}/cancel", json={"reason": "changed my mind"})
    assert resp.status_code == 202
    assert resp.json()["run"]["status"] == "CANCELLED"
    execution = api.wait_execution(run["id"], timeout=10)
    assert execution["status"] == "ABORTED"
    time.sleep(0.5)
    done = api.run(run["id"])
    assert (done["status"], done["cancelReason"]) == ("CANCELLED", "changed my mind")
    assert target.hits == []
    assert "after" not in {e["nodeId"] for e in api.logs(run["id"])}


def test_cancel_during_an_approval(api: Api, target: Target) -> None:
    task_id = api.task(approval_task(target))
    run = api.start(task_id)
    api.waiting(run["id"])
    resp = api.client.post(f"/task-runs/{run['id']}/cancel", json={"reason": "no"})
    assert resp.status_code == 202
    assert resp.json()["run"]["status"] == "CANCELLED"
    assert resp.json()["run"]["waiting"] is None
    # The token was failed, so the execution ends now (moto ignores StopExecution while a
    # task token is pending; AWS would abort it).
    execution = api.wait_execution(run["id"], timeout=15)
    if execution["status"] == "FAILED":
        # Two emulator races end moto's execution FAILED; only they are let through, and the
        # run's own state, checked below, is what the cancel promises:
        # - its ASL interpreter sometimes loses its place after a SendTaskFailure (a race in
        #   its evaluation stack: MarkFailed fails with States.Runtime "'dict' object has no
        #   attribute 'region'", which no Catch may catch);
        # - the cancel's StopExecution, right after its SendTaskFailure, can land while moto
        #   handles the failure: the Catch is then skipped and the execution fails with the
        #   cancel's own error, `Cancelled` (about 1 in 50 under load; AWS would abort it).
        failures = _failures(api, run["id"])
        ended_by_the_cancel = bool(failures) and {e for e, _ in failures} == {"Cancelled"}
        assert _moto_runtime_race(api, run["id"]) or ended_by_the_cancel, (execution, failures)
    else:
        assert execution["status"] in ("SUCCEEDED", "ABORTED")
    done = api.run(run["id"])
    assert done["status"] == "CANCELLED"
    assert done["error"] is None
    assert [h.path for h in target.hits] == ["/quote"]  # the refund never ran
    assert "refund" not in {e["nodeId"] for e in api.logs(run["id"])}
    assert (
        api.client.post(f"/task-runs/{run['id']}/resume", json={"approved": True}).status_code
        == 409
    )


def _failures(api: Api, run_id: str) -> list[tuple[str, str]]:
    """(error, cause) of every failure event in the execution's history."""
    sfn = api.cloud.new_client("stepfunctions")
    history = sfn.get_execution_history(executionArn=api.execution_arn(run_id), maxResults=1000)
    return [
        (str(details.get("error", "")), str(details.get("cause", "")))
        for event in history["events"]
        for key, details in event.items()
        if key.endswith("EventDetails") and isinstance(details, dict) and details.get("error")
    ]


def _moto_runtime_race(api: Api, run_id: str) -> bool:
    """Whether the execution failed on moto's own States.Runtime error (see above)."""
    return any(
        error == "States.Runtime" and "has no attribute 'region'" in cause
        for error, cause in _failures(api, run_id)
    )
