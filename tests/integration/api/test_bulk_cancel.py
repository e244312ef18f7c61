"""Bulk cancel (issue 14 §3), end to end on the local cloud: by ids in the request, by
filter as a job that the API function works through in the background (its own async
invocation, run by the local cloud's Lambda emulation)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.support.orgs import Organizations
from tests.support.polling import eventually

pytestmark = pytest.mark.localcloud

WAITING = {"name": "Waits", "steps": [{"id": "pause", "type": "wait", "seconds": 120}]}
QUICK = {"name": "Quick", "steps": [{"id": "hi", "type": "log", "message": "hi"}]}


@pytest.fixture()
def client(organizations: Organizations, new_org: Callable[..., str]) -> Iterator[httpx.Client]:
    with organizations.client(new_org("Bulk cancel"), timeout=30) as c:
        yield c


def task(client: httpx.Client, definition: dict[str, Any]) -> str:
    answer = client.post("/tasks", json=definition)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["task"]["id"])


def start(client: httpx.Client, task_id: str) -> str:
    answer = client.post(f"/tasks/{task_id}/runs")
    assert answer.status_code == 202, answer.text
    return str(answer.json()["run"]["id"])


def status(client: httpx.Client, run_id: str) -> str:
    return str(client.get(f"/task-runs/{run_id}").json()["run"]["status"])


def completed_run(client: httpx.Client) -> str:
    run_id = start(client, task(client, QUICK))
    eventually(lambda: status(client, run_id), lambda s: s == "COMPLETED", timeout=60)
    return run_id


def test_cancel_by_ids_reports_what_it_cancelled_and_skipped(
    client: httpx.Client, organizations: Organizations, new_org: Callable[..., str]
) -> None:
    waiting = task(client, WAITING)
    active = [start(client, waiting) for _ in range(2)]
    done = completed_run(client)
    with organizations.client(new_org("Bulk outsider"), timeout=30) as outsider:
        theirs = start(outsider, task(outsider, WAITING))
        missing = "00000000-0000-4000-8000-000000000000"
        body = {"runIds": [*active, done, theirs, missing, active[0]], "reason": "cleanup"}
        answer = client.post("/task-runs/cancel", json=body)
        assert answer.status_code == 202, answer.text
        assert answer.json() == {
            "cancelled": active,
            "skipped": [
                {"runId": done, "reason": "already_terminal"},
                {"runId": theirs, "reason": "not_found"},
                {"runId": missing, "reason": "not_found"},
            ],
            "job": None,
        }
        assert outsider.get(f"/task-runs/{theirs}").json()["run"]["status"] != "CANCELLED"
        outsider.post(f"/task-runs/{theirs}/cancel")
    for run_id in active:
        run = client.get(f"/task-runs/{run_id}").json()["run"]
        assert (run["status"], run["cancelReason"]) == ("CANCELLED", "cleanup")
    assert status(client, done) == "COMPLETED"


def test_cancel_by_filter_runs_as_a_job_with_progress(
    client: httpx.Client, organizations: Organizations, new_org: Callable[..., str]
) -> None:
    waiting, other = task(client, WAITING), task(client, WAITING)
    mine = [start(client, waiting) for _ in range(4)]
    spared = start(client, other)
    answer = client.post("/task-runs/cancel", json={"taskId": waiting, "reason": "bulk"})
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["cancelled"] == [] and body["skipped"] == []
    job = body["job"]
    assert job["filter"]["taskId"] == waiting and job["limit"] == 1000
    finished = eventually(
        lambda: client.get(f"/task-runs/cancel/{job['id']}").json()["job"],
        lambda j: j["status"] == "COMPLETED",
        timeout=60,
        message=lambda j: f"job still {j}",
    )
    assert (finished["cancelled"], finished["skipped"], finished["stoppedByLimit"]) == (4, 0, False)
    assert {status(client, r) for r in mine} == {"CANCELLED"}
    assert status(client, spared) in ("PENDING", "RUNNING")
    # Another organization does not see the job.
    with organizations.client(new_org("Job outsider"), timeout=30) as outsider:
        hidden = outsider.get(f"/task-runs/cancel/{job['id']}")
        assert (hidden.status_code, hidden.json()["detail"]) == (404, "job_not_found")
    client.post(f"/task-runs/{spared}/cancel")


def test_a_job_stops_at_its_limit(client: httpx.Client) -> None:
    waiting = task(client, WAITING)
    runs = [start(client, waiting) for _ in range(3)]
    body = {"taskId": waiting, "status": "RUNNING", "limit": 2}
    eventually(lambda: [status(client, r) for r in runs], lambda s: set(s) == {"RUNNING"})
    job = client.post("/task-runs/cancel", json=body).json()["job"]
    finished = eventually(
        lambda: client.get(f"/task-runs/cancel/{job['id']}").json()["job"],
        lambda j: j["status"] == "COMPLETED",
        timeout=60,
    )
    assert (finished["cancelled"], finished["stoppedByLimit"]) == (2, True)
    # Newest first: the oldest run is the one left.
    assert [status(client, r) for r in runs] == ["RUNNING", "CANCELLED", "CANCELLED"]
    client.post(f"/task-runs/{runs[0]}/cancel")


def test_bad_bulk_cancels_change_nothing(client: httpx.Client) -> None:
    waiting = task(client, WAITING)
    run_id = start(client, waiting)
    bad: list[tuple[dict[str, Any], str]] = [
        ({}, "invalid_bulk_cancel"),
        ({"runIds": [run_id], "taskId": waiting}, "invalid_bulk_cancel"),
        ({"runIds": [run_id], "limit": 5}, "invalid_bulk_cancel"),
        ({"runIds": []}, "invalid_run_ids"),
        ({"runIds": [run_id] * 101}, "invalid_run_ids"),
        ({"runIds": [run_id, "nope"]}, "invalid_run_ids"),
        ({"taskId": waiting, "status": "COMPLETED"}, "invalid_filter"),
        ({"taskId": "nope"}, "invalid_filter"),
        ({"createdBefore": "yesterday"}, "invalid_filter"),
        ({"taskId": waiting, "limit": 1001}, "invalid_filter"),
        ({"runIds": [run_id], "reason": "x" * 1025}, "invalid_body"),
        ({"runIds": "all"}, "invalid_body"),
    ]
    for body, detail in bad:
        answer = client.post("/task-runs/cancel", json=body)
        assert (answer.status_code, answer.json().get("detail")) == (400, detail), body
    assert status(client, run_id) in ("PENDING", "RUNNING")
    for job_id, code in (("nope", 400), ("00000000-0000-4000-8000-000000000000", 404)):
        assert client.get(f"/task-runs/cancel/{job_id}").status_code == code
    client.post(f"/task-runs/{run_id}/cancel")
