"""Tags and metadata on runs (issue 14 §4), end to end on the local cloud."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.support.orgs import Organizations

pytestmark = pytest.mark.localcloud

WAITING_TASK: dict[str, Any] = {
    "name": "Tagged",
    "tags": ["billing", "nightly"],
    "steps": [{"id": "pause", "type": "wait", "seconds": 60}],
}


@pytest.fixture()
def client(organizations: Organizations, new_org: Callable[..., str]) -> Iterator[httpx.Client]:
    with organizations.client(new_org("Tag tests"), timeout=30) as c:
        yield c


@pytest.fixture()
def task(client: httpx.Client) -> dict[str, Any]:
    answer = client.post("/tasks", json=WAITING_TASK)
    assert answer.status_code == 201, answer.text
    task: dict[str, Any] = answer.json()["task"]
    assert task["tags"] == ["billing", "nightly"]
    return task


def start(client: httpx.Client, task_id: str, **body: Any) -> dict[str, Any]:
    answer = client.post(f"/tasks/{task_id}/runs", json=body)
    assert answer.status_code == 202, answer.text
    run: dict[str, Any] = answer.json()["run"]
    return run


def ids(answer: httpx.Response) -> list[str]:
    assert answer.status_code == 200, answer.text
    return [r["id"] for r in answer.json()["runs"]]


def test_tags_and_metadata_are_stored_merged_and_listed(
    client: httpx.Client, task: dict[str, Any]
) -> None:
    metadata = {"customer": {"id": 42, "tier": "gold"}, "note": "ünïcode"}
    run = start(client, task["id"], tags=["env:prod", "billing"], metadata=metadata)
    assert run["tags"] == ["billing", "nightly", "env:prod"]  # the task's first, each once
    assert run["metadata"] == metadata
    plain = start(client, task["id"])
    assert plain["tags"] == ["billing", "nightly"] and plain["metadata"] == {}
    assert client.get(f"/task-runs/{run['id']}").json()["run"]["metadata"] == metadata

    assert ids(client.get("/task-runs", params={"tag": "env:prod"})) == [run["id"]]
    assert ids(client.get("/task-runs", params={"tag": "billing"})) == [plain["id"], run["id"]]
    assert ids(client.get("/task-runs", params={"tag": "nope"})) == []
    with_task = {"tag": "billing", "taskId": task["id"], "triggerType": "api"}
    assert ids(client.get("/task-runs", params=with_task)) == [plain["id"], run["id"]]
    other_trigger = {"tag": "billing", "triggerType": "schedule"}
    assert ids(client.get("/task-runs", params=other_trigger)) == []
    after = {"tag": "billing", "createdAfter": run["timestamps"]["createdAt"]}
    assert run["id"] in ids(client.get("/task-runs", params=after))


def test_listing_by_tag_pages_with_tokens(client: httpx.Client, task: dict[str, Any]) -> None:
    runs = [start(client, task["id"], tags=["paged"])["id"] for _ in range(5)]
    seen: list[str] = []
    token: str | None = None
    for _ in range(5):
        params: dict[str, Any] = {"tag": "paged", "pageSize": 2}
        if token:
            params["pageToken"] = token
        answer = client.get("/task-runs", params=params)
        seen += ids(answer)
        token = answer.json()["nextPageToken"]
        if token is None:
            break
    assert seen == list(reversed(runs))
    # A token of one tag's listing does not read another's.
    first = client.get("/task-runs", params={"tag": "paged", "pageSize": 2}).json()
    forged = client.get(
        "/task-runs", params={"tag": "billing", "pageToken": first["nextPageToken"]}
    )
    assert (forged.status_code, forged.json()["detail"]) == (400, "invalid_page_token")


def test_bad_tags_and_metadata_are_400s_that_write_nothing(
    client: httpx.Client, task: dict[str, Any]
) -> None:
    bad: list[tuple[dict[str, Any], str, str]] = [
        ({"tags": ["has space"]}, "invalid_tags", "tags[0]"),
        ({"tags": ["ok", ""]}, "invalid_tags", "tags[1]"),
        ({"tags": ["x" * 65]}, "invalid_tags", "tags[0]"),
        ({"tags": [f"t{i}" for i in range(11)]}, "invalid_tags", "tags"),
        ({"tags": ["#hash"]}, "invalid_tags", "tags[0]"),
        ({"metadata": {"blob": "x" * 5000}}, "invalid_metadata", "metadata"),
    ]
    for body, detail, path in bad:
        answer = client.post(f"/tasks/{task['id']}/runs", json={**body, "clientRequestId": "k"})
        assert answer.status_code == 400, answer.text
        assert answer.json()["detail"] == detail
        assert [e["path"] for e in answer.json()["errors"]] == [path]
    for body in ({"tags": "billing"}, {"metadata": [1, 2]}, {"tags": [1]}):
        answer = client.post(f"/tasks/{task['id']}/runs", json=body)
        assert (answer.status_code, answer.json()["detail"]) == (400, "invalid_body"), body
    assert client.get(f"/tasks/{task['id']}/runs").json()["runs"] == []
    assert ids(client.get("/task-runs", params={"tag": "billing"})) == []
    # The clientRequestId was not claimed by any refused request.
    assert start(client, task["id"], clientRequestId="k")["tags"] == ["billing", "nightly"]
    # A task's default tags are checked when it is saved.
    answer = client.post("/tasks", json={**WAITING_TASK, "tags": ["bad tag"]})
    assert (answer.status_code, answer.json()["detail"]) == (400, "invalid_task")
    both = client.get("/task-runs", params={"tag": "billing", "status": "RUNNING"})
    assert (both.status_code, both.json()["detail"]) == (400, "invalid_query")


def test_another_organization_sees_no_tagged_runs(
    client: httpx.Client,
    task: dict[str, Any],
    organizations: Organizations,
    new_org: Callable[..., str],
) -> None:
    run = start(client, task["id"], tags=["shared-name"])
    with organizations.client(new_org("Tag outsider"), timeout=30) as outsider:
        assert ids(outsider.get("/task-runs", params={"tag": "shared-name"})) == []
        assert outsider.get(f"/task-runs/{run['id']}").status_code == 404
