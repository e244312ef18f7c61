"""Retry from the failed step (issue 14 §2), end to end on the local cloud.

A task charges a card (an http step whose receiver counts its calls), then checks a
service that fails the first time, then reads the charge's result. Retrying the failed
run must not charge again: the receiver sees one charge across both runs, and the retry
completes with the first run's charge result visible to the later step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.support.loopback import Request, Target
from tests.support.orgs import Organizations
from tests.support.polling import eventually

pytestmark = pytest.mark.localcloud


class Flaky:
    """`/charge` counts charges; `/check` answers 500 until `healthy` is set."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.charges = 0
        self.healthy = False
        target.routes["/charge"] = self._charge
        target.routes["/check"] = self._check

    def _charge(self, _request: Request) -> tuple[int, dict[str, str], bytes]:
        self.charges += 1
        body = f'{{"charge": "ch_{self.charges}"}}'.encode()
        return 200, {"Content-Type": "application/json"}, body

    def _check(self, _request: Request) -> tuple[int, dict[str, str], bytes]:
        if not self.healthy:
            return 500, {}, b"down"
        return 200, {"Content-Type": "application/json"}, b'{"ok": true}'


def charge_task(base: str) -> dict[str, Any]:
    return {
        "name": "Charge then check",
        "inputs": {"type": "object", "properties": {"amount": {"type": "integer"}}},
        "steps": [
            {"id": "charge", "type": "http", "method": "POST", "url": f"{base}/charge"},
            {"id": "check", "type": "http", "url": f"{base}/check"},
            {
                "id": "summary",
                "type": "transform",
                "values": {"charge": "steps.charge.json.charge"},
            },
        ],
        "outputs": {"charge": "steps.summary.charge", "ok": "steps.check.json.ok"},
    }


@pytest.fixture()
def flaky(target: Target) -> Flaky:
    return Flaky(target)


@pytest.fixture()
def client(organizations: Organizations, new_org: Callable[..., str]) -> Iterator[httpx.Client]:
    with organizations.client(new_org("Retry tests"), timeout=30) as c:
        yield c


def finished(client: httpx.Client, run_id: str) -> dict[str, Any]:
    return eventually(
        lambda: client.get(f"/task-runs/{run_id}").json()["run"],
        lambda run: run["status"] in ("COMPLETED", "FAILED", "CANCELLED"),
        timeout=60,
        message=lambda run: f"run still {run['status']}",
    )


def failed_run(client: httpx.Client, flaky: Flaky, **body: Any) -> dict[str, Any]:
    task = client.post("/tasks", json=charge_task(flaky.target.base_url)).json()["task"]
    created = client.post(f"/tasks/{task['id']}/runs", json={"inputs": {"amount": 5}, **body})
    assert created.status_code == 202, created.text
    run = finished(client, created.json()["run"]["id"])
    assert run["status"] == "FAILED", run
    assert run["error"]["nodeId"] == "check"
    return run


def test_retry_skips_the_steps_that_succeeded(client: httpx.Client, flaky: Flaky) -> None:
    original = failed_run(client, flaky, tags=["billing"], metadata={"order": "A-1"})
    assert flaky.charges == 1
    flaky.healthy = True

    answer = client.post(f"/task-runs/{original['id']}/retry")
    assert answer.status_code == 202, answer.text
    retry = answer.json()["run"]
    assert retry["retryOf"] == original["id"]
    assert retry["reusedSteps"] == 1
    assert retry["inputs"] == original["inputs"]
    assert retry["taskVersion"] == original["taskVersion"]
    assert retry["tags"] == ["billing"] and retry["metadata"] == {"order": "A-1"}

    done = finished(client, retry["id"])
    assert done["status"] == "COMPLETED", done
    # The side effect ran once across both runs; its result reached the later step.
    assert flaky.charges == 1
    assert done["outputs"] == {"charge": "ch_1", "ok": True}
    assert client.get(f"/task-runs/{original['id']}").json()["run"]["retriedBy"] == retry["id"]
    logs = client.get(f"/task-runs/{retry['id']}/logs").json()["logEntries"]
    reused = [e for e in logs if "reused from run" in e["message"]]
    assert [(e["nodeId"], e["message"]) for e in reused] == [
        ("charge", f"charge: reused from run {original['id']}")
    ]

    # One retry per run: the link is the answer.
    again = client.post(f"/task-runs/{original['id']}/retry")
    assert again.status_code == 409
    assert again.json() == {"detail": "run_already_retried", "retriedBy": retry["id"]}
    # A COMPLETED run is not retried.
    completed = client.post(f"/task-runs/{retry['id']}/retry")
    assert completed.status_code == 409
    assert completed.json()["detail"] == "run_not_retryable"


def test_retry_from_start_and_with_new_inputs_reruns_everything(
    client: httpx.Client, flaky: Flaky
) -> None:
    first = failed_run(client, flaky)
    flaky.healthy = True
    retry = client.post(f"/task-runs/{first['id']}/retry", json={"fromStart": True}).json()["run"]
    assert retry["reusedSteps"] == 0
    assert finished(client, retry["id"])["outputs"]["charge"] == "ch_2"
    assert flaky.charges == 2

    flaky.healthy = False
    second = failed_run(client, flaky)
    flaky.healthy = True
    answer = client.post(f"/task-runs/{second['id']}/retry", json={"inputs": {"amount": 7}})
    assert answer.status_code == 202, answer.text
    rerun = answer.json()["run"]
    assert rerun["inputs"] == {"amount": 7} and rerun["reusedSteps"] == 0
    assert finished(client, rerun["id"])["status"] == "COMPLETED"
    assert flaky.charges == 4  # charged by `second` and again by its retry


def test_retry_is_idempotent_with_a_client_request_id(client: httpx.Client, flaky: Flaky) -> None:
    original = failed_run(client, flaky)
    body = {"clientRequestId": "retry-once"}
    first = client.post(f"/task-runs/{original['id']}/retry", json=body)
    second = client.post(f"/task-runs/{original['id']}/retry", json=body)
    assert (first.status_code, second.status_code) == (202, 200)
    assert first.json()["run"]["id"] == second.json()["run"]["id"]


def test_bad_retries_change_nothing(
    client: httpx.Client,
    flaky: Flaky,
    organizations: Organizations,
    new_org: Callable[..., str],
) -> None:
    original = failed_run(client, flaky)
    task_runs = f"/tasks/{original['taskId']}/runs"
    before = len(client.get(task_runs).json()["runs"])
    bad = [
        ({"inputs": {"amount": "five"}}, "invalid_inputs"),
        ({"fromStart": "yes"}, "invalid_body"),
        ({"from": 1}, "invalid_body"),
        ({"clientRequestId": ""}, "invalid_body"),
    ]
    for body, detail in bad:
        answer = client.post(f"/task-runs/{original['id']}/retry", json=body)
        assert (answer.status_code, answer.json().get("detail")) == (400, detail), answer.text
    assert client.post("/task-runs/not-a-uuid/retry").json()["detail"] == "invalid_run_id"
    # Another organization's run is not found, and is left alone.
    with organizations.client(new_org("Retry outsider"), timeout=30) as outsider:
        answer = outsider.post(f"/task-runs/{original['id']}/retry")
        assert (answer.status_code, answer.json()["detail"]) == (404, "run_not_found")
    assert len(client.get(task_runs).json()["runs"]) == before
    assert client.get(f"/task-runs/{original['id']}").json()["run"]["retriedBy"] is None


def test_an_active_run_is_not_retried(client: httpx.Client, flaky: Flaky) -> None:
    task = client.post(
        "/tasks",
        json={"name": "slow", "steps": [{"id": "pause", "type": "wait", "seconds": 30}]},
    ).json()["task"]
    run = client.post(f"/tasks/{task['id']}/runs").json()["run"]
    answer = client.post(f"/task-runs/{run['id']}/retry")
    assert answer.status_code == 409
    assert answer.json()["detail"] == "run_not_retryable"
    cancelled = client.post(f"/task-runs/{run['id']}/cancel").json()["run"]
    assert cancelled["status"] == "CANCELLED"
    # A cancelled run can be retried: nothing had succeeded, so it starts from the start.
    retry = client.post(f"/task-runs/{run['id']}/retry")
    assert retry.status_code == 202, retry.text
    assert retry.json()["run"]["reusedSteps"] == 0
    client.post(f"/task-runs/{retry.json()['run']['id']}/cancel")
