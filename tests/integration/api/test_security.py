"""Nobody gets in where they don't belong; nothing a caller sends produces a 5xx."""

from __future__ import annotations

import re
import string
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.localcloud


def operations(api_base: str) -> list[tuple[str, str, dict[str, Any]]]:
    spec = httpx.get(f"{api_base}/openapi.json").json()
    out = []
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            out.append((method.upper(), path, op))
    return out


def fill(path: str, value: str) -> str:
    return re.sub(r"\{[^}]+\}", value, path)


@pytest.mark.slow
def test_every_secured_path_refuses_missing_malformed_and_revoked_keys(
    api_base: str, api: httpx.Client
) -> None:
    revoked = api.post("/api-keys", json={"name": "to revoke", "scopes": ["admin"]}).json()[
        "apiKey"
    ]
    assert api.delete(f"/api-keys/{revoked['id']}").status_code == 204
    root = api_base.removesuffix("/public/v1")
    checked = 0
    for method, path, op in operations(api_base):
        if path.endswith("/health"):
            continue
        assert op.get("security"), f"{method} {path} declares no security scheme"
        url = root + fill(path, str(uuid.uuid4()))
        for headers in (
            {},
            {"Authorization": "Bearer not-a-key"},
            {"Authorization": f"Bearer {revoked['secret']}"},
            {"X-API-Key": revoked["secret"]},
        ):
            resp = httpx.request(method, url, headers=headers, json={})
            assert (resp.status_code, resp.json()) == (401, {"detail": "unauthorized"}), (
                method,
                path,
                headers,
            )
        checked += 1
    assert checked >= 15


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
PATH_VALUES = st.one_of(
    st.uuids().map(str),
    st.text(alphabet=string.ascii_letters + string.digits + "-_.~%", min_size=1, max_size=40),
    st.sampled_from(["..", "%00", "a" * 300, "00000000-0000-0000-0000-000000000000"]),
)
QUERY = st.dictionaries(
    st.sampled_from(
        [
            "pageSize",
            "pageToken",
            "status",
            "taskId",
            "triggerType",
            "createdAfter",
            "createdBefore",
            "after",
            "limit",
        ]
    ),
    st.one_of(
        st.text(max_size=30),
        st.integers(-5, 500).map(str),
        st.sampled_from(["RUNNING", "api", "2025-01-01"]),
    ),
    max_size=4,
)


@pytest.mark.slow
def test_fuzz_every_operation_finds_no_5xx(api_base: str, org_key: str, task_id: str) -> None:
    ops = [(m, p) for m, p, _ in operations(api_base)]
    root = api_base.removesuffix("/public/v1")
    client = httpx.Client(headers={"Authorization": f"Bearer {org_key}"}, timeout=30)
    real_ids = [task_id]

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        op=st.sampled_from(ops),
        path_value=st.one_of(PATH_VALUES, st.sampled_from(real_ids)),
        query=QUERY,
        body=st.one_of(JSON, st.binary(max_size=64)),
    )
    def probe(op: tuple[str, str], path_value: str, query: dict[str, str], body: Any) -> None:
        method, path = op
        if method == "DELETE" and path_value == task_id:
            return  # keep the real task for the rest of the run
        url = root + fill(path, path_value)
        kwargs: dict[str, Any] = {"params": query}
        if method in {"POST", "PUT", "PATCH"}:
            if isinstance(body, bytes):
                kwargs["content"] = body
                kwargs["headers"] = {"content-type": "application/json"}
            else:
                kwargs["json"] = body
        resp = client.request(method, url, **kwargs)
        assert resp.status_code < 500, (method, url, query, body, resp.text[:300])
        assert resp.status_code != 422
        if resp.status_code >= 400:
            assert isinstance(resp.json().get("detail"), str)

    try:
        probe()
    finally:
        client.close()


def test_ip_allowlist(api_base: str, new_org: Callable[..., str]) -> None:
    key = new_org("Allowlist")
    with httpx.Client(base_url=api_base, headers={"Authorization": f"Bearer {key}"}) as c:
        refused = c.patch("/organization", json={"ipAllowlist": ["10.0.0.0/8"]})
        assert (refused.status_code, refused.json()["detail"]) == (400, "allowlist_excludes_caller")
        assert (
            c.patch("/organization", json={"ipAllowlist": ["nonsense"]}).json()["detail"]
            == "invalid_ip_allowlist"
        )
        ok = c.patch("/organization", json={"ipAllowlist": ["127.0.0.0/8", "::1/128"]})
        assert ok.status_code == 200 and ok.json()["organization"]["ipAllowlist"] == [
            "127.0.0.0/8",
            "::1/128",
        ]
        assert c.get("/task-runs").status_code == 200
        forced = c.patch("/organization", json={"ipAllowlist": ["2001:db8::/32"], "force": True})
        assert forced.status_code == 200
        blocked = c.get("/task-runs")
        assert (blocked.status_code, blocked.json()["detail"]) == (403, "ip_not_allowed")


def test_monthly_quota_is_402_and_replays_do_not_count(
    api_base: str, new_org: Callable[..., str]
) -> None:
    key = new_org("Quota")
    with httpx.Client(base_url=api_base, headers={"Authorization": f"Bearer {key}"}) as c:
        task = c.post(
            "/tasks", json={"name": "q", "steps": [{"id": "w", "type": "wait", "seconds": 60}]}
        )
        task_id = task.json()["task"]["id"]
        assert c.patch("/organization", json={"monthlyRunQuota": 2}).status_code == 200
        first = c.post(f"/tasks/{task_id}/runs", json={"clientRequestId": "a"})
        assert first.status_code == 202
        assert c.post(f"/tasks/{task_id}/runs", json={"clientRequestId": "a"}).status_code == 200
        assert c.post(f"/tasks/{task_id}/runs", json={}).status_code == 202
        over = c.post(f"/tasks/{task_id}/runs", json={})
        assert over.status_code == 402
        body = over.json()
        assert body["detail"] == "usage_limit_exceeded"
        assert body["usage"]["used"] == 2 and body["usage"]["limit"] == 2
        assert re.match(r"^\d{4}-\d\d$", body["usage"]["period"])
        assert c.get("/organization").json()["organization"]["usage"]["used"] == 2
        assert len(c.get(f"/tasks/{task_id}/runs").json()["runs"]) == 2
        for run in c.get(f"/tasks/{task_id}/runs").json()["runs"]:
            c.post(f"/task-runs/{run['id']}/cancel")


def test_rate_limit_is_429_with_retry_after(api_base: str, new_org: Callable[..., str]) -> None:
    key = new_org("Rate")
    with httpx.Client(base_url=api_base, headers={"Authorization": f"Bearer {key}"}) as c:
        assert (
            c.patch(
                "/organization", json={"rateLimitPerSecond": 1, "rateLimitBurst": 5}
            ).status_code
            == 200
        )
        statuses = [c.get("/task-runs") for _ in range(12)]
        limited = [r for r in statuses if r.status_code == 429]
        assert limited, [r.status_code for r in statuses]
        assert limited[0].json()["detail"] == "rate_limited"
        assert 1 <= int(limited[0].headers["Retry-After"]) <= 5
        assert sum(r.status_code == 200 for r in statuses) <= 10
