"""The Komos runs contract, end to end over HTTP: the README's quick start and its edges."""

from __future__ import annotations

import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.localcloud

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
RUN_FIELDS = {
    "id", "taskId", "status", "triggerType", "timestamps", "progress", "inputs", "outputs",
    "logsUrl", "error", "cancelReason",
}  # fmt: skip


def check_run_shape(run: dict[str, Any]) -> None:
    assert set(run) >= RUN_FIELDS
    assert run["status"] in {"PENDING", "RUNNING", "COMPLETED", "FAILED", "CANCELLED"}
    assert run["triggerType"] in {"manual", "schedule", "api"}
    assert ISO.match(run["timestamps"]["createdAt"])
    for key in ("startedAt", "finishedAt"):
        assert run["timestamps"][key] is None or ISO.match(run["timestamps"][key])
    assert run["logsUrl"].endswith(f"/public/v1/task-runs/{run['id']}/logs")
    uuid.UUID(run["id"])


def test_quick_start_flow(api: httpx.Client, task_id: str) -> None:
    created = api.post(
        f"/tasks/{task_id}/runs", json={"inputs": {"name": "Ada"}, "clientRequestId": "qs-1"}
    )
    assert created.status_code == 202, created.text
    run = created.json()["run"]
    check_run_shape(run)
    assert run["status"] == "PENDING" and run["progress"] is None
    assert run["inputs"] == {"name": "Ada"}

    again = api.post(
        f"/tasks/{task_id}/runs", json={"inputs": {"name": "Ada"}, "clientRequestId": "qs-1"}
    )
    assert again.status_code == 200
    assert again.json()["run"]["id"] == run["id"]

    got = api.get(f"/task-runs/{run['id']}")
    assert got.status_code == 200 and got.json()["run"]["id"] == run["id"]
    check_run_shape(got.json()["run"])

    listed = api.get(f"/tasks/{task_id}/runs").json()["runs"]
    assert [r["id"] for r in listed] == [run["id"]]
    org_runs = api.get("/task-runs", params={"taskId": task_id}).json()
    assert [r["id"] for r in org_runs["runs"]] == [run["id"]]

    logs = api.get(f"/task-runs/{run['id']}/logs")
    assert logs.status_code == 200
    assert logs.json()["runId"] == run["id"] and isinstance(logs.json()["logEntries"], list)

    cancelled = api.post(f"/task-runs/{run['id']}/cancel", json={"reason": "changed my mind"})
    assert cancelled.status_code == 202
    body = cancelled.json()["run"]
    assert body["status"] == "CANCELLED" and body["cancelReason"] == "changed my mind"
    assert ISO.match(body["timestamps"]["finishedAt"])

    # A terminal run is returned unchanged, still 202.
    again_cancel = api.post(f"/task-runs/{run['id']}/cancel", json={"reason": "other"})
    assert again_cancel.status_code == 202
    assert again_cancel.json()["run"]["cancelReason"] == "changed my mind"


def test_defaults_are_merged_and_inputs_validated(api: httpx.Client, task_id: str) -> None:
    run = api.post(f"/tasks/{task_id}/runs", json={}).json()["run"]
    assert run["inputs"] == {"name": "world"}
    bad = api.post(f"/tasks/{task_id}/runs", json={"inputs": {"times": "three"}})
    assert bad.status_code == 400
    assert bad.json()["detail"] == "invalid_inputs"
    assert bad.json()["errors"][0]["path"] == "times"
    api.post(f"/task-runs/{run['id']}/cancel")


def test_concurrent_duplicates_create_one_run(api_base: str, org_key: str, task_id: str) -> None:
    request_id = f"dup-{uuid.uuid4()}"

    def post(_: int) -> httpx.Response:
        with httpx.Client(
            base_url=api_base, headers={"Authorization": f"Bearer {org_key}"}, timeout=60
        ) as c:
            return c.post(f"/tasks/{task_id}/runs", json={"clientRequestId": request_id})

    with ThreadPoolExecutor(max_workers=50) as pool:
        responses = list(pool.map(post, range(50)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(202) == 1, statuses
    assert statuses.count(200) == 49, statuses
    ids = {r.json()["run"]["id"] for r in responses}
    assert len(ids) == 1
    with httpx.Client(base_url=api_base, headers={"Authorization": f"Bearer {org_key}"}) as c:
        runs = c.get(f"/tasks/{task_id}/runs").json()["runs"]
        assert [r["id"] for r in runs if r.get("clientRequestId") == request_id] == list(ids)
        c.post(f"/task-runs/{ids.pop()}/cancel")


def test_pagination_and_filters(api: httpx.Client, task_id: str) -> None:
    made = [api.post(f"/tasks/{task_id}/runs", json={}).json()["run"]["id"] for _ in range(7)]
    api.post(f"/task-runs/{made[0]}/cancel", json={"reason": "filter me"})
    seen: list[str] = []
    token = None
    for _ in range(10):
        params: dict[str, Any] = {"pageSize": 3, "taskId": task_id}
        if token:
            params["pageToken"] = token
        page = api.get("/task-runs", params=params)
        assert page.status_code == 200, page.text
        seen += [r["id"] for r in page.json()["runs"]]
        token = page.json()["nextPageToken"]
        if not token:
            break
    assert seen == list(reversed(made))  # newest first, each once
    cancelled = api.get("/task-runs", params={"taskId": task_id, "status": "CANCELLED"}).json()[
        "runs"
    ]
    assert [r["id"] for r in cancelled] == [made[0]]
    everything = api.get("/task-runs", params={"pageSize": 100}).json()["runs"]
    assert set(made) <= {r["id"] for r in everything}
    created_at = api.get(f"/task-runs/{made[3]}").json()["run"]["timestamps"]["createdAt"]
    newer = api.get("/task-runs", params={"taskId": task_id, "createdAfter": created_at}).json()[
        "runs"
    ]
    assert {r["id"] for r in newer} <= set(made[3:]) and made[6] in {r["id"] for r in newer}
    for run_id in made:
        api.post(f"/task-runs/{run_id}/cancel")


def test_tasks_are_versioned_and_runs_keep_theirs(api: httpx.Client, task_id: str) -> None:
    first = api.post(f"/tasks/{task_id}/runs", json={}).json()["run"]
    assert first["taskVersion"] == 1
    changed = {**api.get(f"/tasks/{task_id}").json()["task"], "name": "Greeter v2"}
    for field in ("id", "version", "createdAt", "updatedAt"):
        changed.pop(field)
    changed = {k: v for k, v in changed.items() if v is not None}
    updated = api.put(f"/tasks/{task_id}", json=changed)
    assert updated.status_code == 200, updated.text
    assert updated.json()["task"]["version"] == 2
    second = api.post(f"/tasks/{task_id}/runs", json={}).json()["run"]
    assert second["taskVersion"] == 2
    assert api.get(f"/task-runs/{first['id']}").json()["run"]["taskVersion"] == 1
    for run_id in (first["id"], second["id"]):
        api.post(f"/task-runs/{run_id}/cancel")
    assert api.delete(f"/tasks/{task_id}").status_code == 204
    assert api.get(f"/tasks/{task_id}").status_code == 404
    assert api.get(f"/task-runs/{first['id']}").status_code == 200  # runs stay readable
    assert api.post(f"/tasks/{task_id}/runs", json={}).json()["detail"] == "task_not_found"


def test_logs_tailing(api: httpx.Client, local_cloud: Any, container: Any) -> None:
    from runhook import clock
    from runhook.models import LogEntry

    task = api.post(
        "/tasks", json={"name": "t", "steps": [{"id": "w", "type": "wait", "seconds": 60}]}
    )
    run = api.post(f"/tasks/{task.json()['task']['id']}/runs", json={}).json()["run"]
    entries = [
        LogEntry(
            id=clock.sortable_id(),
            timestamp=clock.now_iso(),
            level="info",
            message=f"line {i}",
            nodeId="w",
        )
        for i in range(5)
    ]
    stored = container.runs.get(run["id"])
    assert stored is not None
    container.runs.append_logs(stored, entries, ttl_days=1)
    page = api.get(f"/task-runs/{run['id']}/logs", params={"limit": 2}).json()
    mine = [e for e in page["logEntries"] if e["message"].startswith("line ")]
    assert page["nextCursor"]
    rest = api.get(f"/task-runs/{run['id']}/logs", params={"after": page["nextCursor"]}).json()
    messages = [
        e["message"]
        for e in page["logEntries"] + rest["logEntries"]
        if e["message"].startswith("line ")
    ]
    assert messages == [f"line {i}" for i in range(5)]
    assert len(mine) <= 2
    assert (
        api.get(f"/task-runs/{run['id']}/logs", params={"after": "nope"}).json()["detail"]
        == "invalid_cursor"
    )
    api.post(f"/task-runs/{run['id']}/cancel")


def test_log_items_out_of_shape_are_read_not_a_500(
    api: httpx.Client, local_cloud: Any, container: Any
) -> None:
    """Stored values written by hand or by another tool: unknown levels, a number for a
    message, an entry without an id, an entries list of the wrong type."""
    from runhook import clock, keys

    task = api.post(
        "/tasks", json={"name": "t", "steps": [{"id": "w", "type": "wait", "seconds": 60}]}
    )
    run = api.post(f"/tasks/{task.json()['task']['id']}/runs", json={}).json()["run"]
    pk = keys.run_pk(run["id"])
    first, second, third = (clock.sortable_id() for _ in range(3))
    odd_entries = [
        {"id": first, "level": "DEBUG", "message": 42, "nodeId": 7},
        {"level": "info", "message": "no id: skipped"},
        {"id": second, "level": "warn", "message": "kept", "timestamp": 12},
    ]
    table = container.runs.table
    table.put({"pk": pk, "sk": keys.log_sk(second), "type": "logs", "entries": odd_entries})
    table.put({"pk": pk, "sk": keys.log_sk(third), "type": "log", "id": third, "level": None})
    table.put({"pk": pk, "sk": keys.log_sk(third + "z"), "type": "logs", "entries": "nope"})

    resp = api.get(f"/task-runs/{run['id']}/logs")
    assert resp.status_code == 200, resp.text
    mine = {e["id"]: e for e in resp.json()["logEntries"] if e["id"] in (first, second, third)}
    assert mine[first] == {
        "id": first,
        "timestamp": None,
        "level": "info",
        "message": "42",
        "nodeId": None,
    }
    assert (mine[second]["level"], mine[second]["message"]) == ("warning", "kept")
    assert (mine[third]["level"], mine[third]["message"]) == ("info", "")
    assert "no id: skipped" not in {e["message"] for e in resp.json()["logEntries"]}
    api.post(f"/task-runs/{run['id']}/cancel")


def test_start_failure_is_503_and_a_retry_starts_the_same_run(
    api: httpx.Client, task_id: str, monkeypatch: pytest.MonkeyPatch, aws: Any, local_cloud: Any
) -> None:
    from runhook.adapters.stepfunctions import StepFunctions
    from runhook.engine.routing import EngineName

    real_start = StepFunctions.start_run

    def start_on_a_missing_machine(
        self: StepFunctions, run_id: str, engine: EngineName = "standard"
    ) -> None:
        """The real StartExecution call, on a state machine that does not exist."""
        missing = StepFunctions(self.state_machine_arn + "-missing", boto3_client=self.client)
        real_start(missing, run_id, engine)

    with monkeypatch.context() as patch:
        patch.setattr(StepFunctions, "start_run", start_on_a_missing_machine)
        failed = api.post(f"/tasks/{task_id}/runs", json={"clientRequestId": "retry-me"})
    assert failed.status_code == 503
    assert failed.json()["detail"] == "service_unavailable"
    assert int(failed.headers["Retry-After"]) >= 1
    runs = api.get(f"/tasks/{task_id}/runs").json()["runs"]
    assert [r["status"] for r in runs if r.get("clientRequestId") == "retry-me"] == ["PENDING"]
    retried = api.post(f"/tasks/{task_id}/runs", json={"clientRequestId": "retry-me"})
    assert retried.status_code == 200
    run_id = retried.json()["run"]["id"]
    assert run_id == runs[0]["id"]
    from runhook.adapters.stepfunctions import execution_arn

    arn = execution_arn(local_cloud.state_machine_arn, run_id)
    execution = aws.client("stepfunctions").describe_execution(executionArn=arn)
    assert execution["name"] == run_id  # the retry started the very same run
    api.post(f"/task-runs/{run_id}/cancel")
