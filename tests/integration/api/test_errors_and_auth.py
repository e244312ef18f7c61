"""Errors are 4xx with a `detail` code, never 422 or 500; keys, scopes, isolation."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.localcloud


def test_error_codes(api: httpx.Client, task_id: str) -> None:
    cases: list[tuple[str, str, dict[str, Any], int, str]] = [
        ("GET", "/task-runs/not-a-uuid", {}, 400, "invalid_run_id"),
        ("GET", f"/task-runs/{uuid.uuid4()}", {}, 404, "run_not_found"),
        ("POST", "/tasks/123/runs", {"json": {}}, 400, "invalid_task_id"),
        ("POST", f"/tasks/{uuid.uuid4()}/runs", {"json": {}}, 404, "task_not_found"),
        (
            "POST",
            f"/tasks/{task_id}/runs",
            {"content": b"{not json", "headers": {"content-type": "application/json"}},
            400,
            "invalid_body",
        ),
        ("POST", f"/tasks/{task_id}/runs", {"json": {"inputs": "x"}}, 400, "invalid_body"),
        ("POST", f"/tasks/{task_id}/runs", {"json": [1, 2]}, 400, "invalid_body"),
        (
            "POST",
            f"/tasks/{task_id}/runs",
            {
                "content": b'{"inputs": {"name": Infinity}}',
                "headers": {"content-type": "application/json"},
            },
            400,
            "invalid_body",
        ),
        (
            "POST",
            f"/tasks/{task_id}/runs",
            {
                "content": b'{"inputs": {"name": 1e999}}',
                "headers": {"content-type": "application/json"},
            },
            400,
            "invalid_body",
        ),
        (
            "POST",
            "/tasks",
            {"content": b'{"name": NaN}', "headers": {"content-type": "application/json"}},
            400,
            "invalid_body",
        ),
        ("GET", "/task-runs", {"params": {"pageSize": 500}}, 400, "invalid_query"),
        ("GET", "/task-runs", {"params": {"status": "DONE"}}, 400, "invalid_query"),
        ("GET", "/task-runs", {"params": {"pageToken": "garbage"}}, 400, "invalid_page_token"),
        ("GET", "/task-runs", {"params": {"taskId": "x"}}, 400, "invalid_task_id"),
        (
            "POST",
            f"/task-runs/{uuid.uuid4()}/cancel",
            {"json": {"reason": "x" * 1025}},
            400,
            "invalid_body",
        ),
        (
            "POST",
            "/tasks",
            {"json": {"name": "x", "steps": [{"id": "a", "type": "nope"}]}},
            400,
            "invalid_task",
        ),
        ("GET", "/no-such-route", {}, 404, "not_found"),
        ("DELETE", "/task-runs", {}, 405, "method_not_allowed"),
        (
            "POST",
            "/tasks",
            {"content": b"\xff\xfe\xfa", "headers": {"content-type": "application/json"}},
            400,
            "invalid_body",
        ),
        (
            "POST",
            "/tasks",
            {"content": b"[" * 5000 + b"]" * 5000, "headers": {"content-type": "application/json"}},
            400,
            "invalid_body",
        ),
    ]
    for method, path, kwargs, status, detail in cases:
        resp = api.request(method, path, **kwargs)
        assert (resp.status_code, resp.json().get("detail")) == (status, detail), (
            method,
            path,
            resp.text[:300],
        )


def test_oversized_bodies_are_413_and_write_nothing(api: httpx.Client, task_id: str) -> None:
    before = len(api.get(f"/tasks/{task_id}/runs").json()["runs"])
    big = json.dumps({"inputs": {"name": "x" * (1024 * 1024)}})
    resp = api.post(
        f"/tasks/{task_id}/runs", content=big, headers={"content-type": "application/json"}
    )
    assert resp.status_code == 413 and resp.json()["detail"] == "payload_too_large"
    assert len(api.get(f"/tasks/{task_id}/runs").json()["runs"]) == before


def test_huge_query_strings_are_refused(api: httpx.Client) -> None:
    resp = api.get("/task-runs", params={"pageToken": "a" * 6000})
    assert resp.status_code == 400


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer sk_live_nope"},
        {"X-API-Key": "sk_test_" + "a" * 43},
        {"Authorization": "Bearer " + "sk_live_" + "x" * 5000},
    ],
)
def test_bad_keys_are_401(api_base: str, headers: dict[str, str]) -> None:
    resp = httpx.get(f"{api_base}/task-runs", headers=headers)
    assert resp.status_code == 401 and resp.json() == {"detail": "unauthorized"}


def test_x_api_key_header_works(api_base: str, org_key: str) -> None:
    assert httpx.get(f"{api_base}/task-runs", headers={"X-API-Key": org_key}).status_code == 200


def test_key_lifecycle_and_scopes(api: httpx.Client, api_base: str) -> None:
    made = api.post("/api-keys", json={"name": "ci", "scopes": ["runs"]})
    assert made.status_code == 201
    key = made.json()["apiKey"]
    assert key["secret"].startswith("sk_live_") and key["prefix"] == key["secret"][:12]
    listed = api.get("/api-keys").json()["apiKeys"]
    assert key["id"] in {k["id"] for k in listed}
    assert all("secret" not in k for k in listed)
    runs_only = {"Authorization": f"Bearer {key['secret']}"}
    assert httpx.get(f"{api_base}/task-runs", headers=runs_only).status_code == 200
    for method, path in (("GET", "/api-keys"), ("GET", "/organization"), ("POST", "/api-keys")):
        resp = httpx.request(method, f"{api_base}{path}", headers=runs_only, json={"name": "x"})
        assert (resp.status_code, resp.json()["detail"]) == (403, "forbidden")
    assert api.delete(f"/api-keys/{key['id']}").status_code == 204
    assert httpx.get(f"{api_base}/task-runs", headers=runs_only).status_code == 401
    assert api.delete(f"/api-keys/{key['id']}").status_code == 404
    used = [k for k in api.get("/api-keys").json()["apiKeys"] if k["lastUsedAt"]]
    assert used  # the admin key used by this test has lastUsedAt


def test_other_organizations_see_404(
    api: httpx.Client, api_base: str, new_org: Callable[..., str], task_id: str
) -> None:
    run_id = api.post(f"/tasks/{task_id}/runs", json={}).json()["run"]["id"]
    key_id = api.post("/api-keys", json={"name": "mine"}).json()["apiKey"]["id"]
    with httpx.Client(
        base_url=api_base, headers={"Authorization": f"Bearer {new_org('Intruder')}"}
    ) as other:
        probes = [
            ("GET", f"/tasks/{task_id}", "task_not_found"),
            ("PUT", f"/tasks/{task_id}", "task_not_found"),
            ("DELETE", f"/tasks/{task_id}", "task_not_found"),
            ("POST", f"/tasks/{task_id}/runs", "task_not_found"),
            ("GET", f"/tasks/{task_id}/runs", "task_not_found"),
            ("GET", f"/task-runs/{run_id}", "run_not_found"),
            ("GET", f"/task-runs/{run_id}/logs", "run_not_found"),
            ("POST", f"/task-runs/{run_id}/cancel", "run_not_found"),
            ("POST", f"/task-runs/{run_id}/resume", "run_not_found"),
            ("DELETE", f"/api-keys/{key_id}", "api_key_not_found"),
        ]
        body = {
            "name": "x",
            "steps": [{"id": "a", "type": "log", "message": "m"}],
            "approved": True,
        }
        for method, path, detail in probes:
            payload = {"approved": True} if path.endswith("/resume") else body
            resp = other.request(method, path, json=payload if method in {"POST", "PUT"} else None)
            assert (resp.status_code, resp.json()["detail"]) == (404, detail), (method, path)
        assert run_id not in {r["id"] for r in other.get("/task-runs").json()["runs"]}
        assert task_id not in {t["id"] for t in other.get("/tasks").json()["tasks"]}
        # A page token for our organization's index is refused, not followed.
        ours = api.get("/task-runs", params={"pageSize": 1}).json()["nextPageToken"]
        if ours:
            assert other.get("/task-runs", params={"pageToken": ours}).status_code == 400
    assert api.get(f"/task-runs/{run_id}").json()["run"]["status"] != "CANCELLED"
    api.post(f"/task-runs/{run_id}/cancel")


def test_openapi_and_docs(api_base: str) -> None:
    spec = httpx.get(f"{api_base}/openapi.json").json()
    paths = spec["paths"]
    for path in (
        "/public/v1/tasks/{taskId}/runs",
        "/public/v1/task-runs",
        "/public/v1/task-runs/{runId}",
        "/public/v1/task-runs/{runId}/logs",
        "/public/v1/task-runs/{runId}/cancel",
    ):
        assert path in paths
    create = paths["/public/v1/tasks/{taskId}/runs"]["post"]["responses"]
    assert {"200", "202", "400", "401", "402", "404", "503"} <= set(create)
    assert "422" not in json.dumps(spec["paths"])
    schemes = spec["components"]["securitySchemes"]
    assert {s["type"] for s in schemes.values()} == {"http", "apiKey"}
    assert httpx.get(f"{api_base}/docs").status_code == 200


def test_health_needs_no_key(api_base: str) -> None:
    resp = httpx.get(f"{api_base}/health")
    assert resp.status_code == 200 and resp.json()["status"] == "ok"
