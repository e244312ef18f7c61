"""The secrets API on the local cloud (DynamoDB Local + moto's KMS): write-only values,
admin scope, organizations kept apart, bad names and sizes refused with nothing changed;
tasks that name secrets; a run whose secret was deleted since."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.support.orgs import api_client
from tests.support.polling import eventually

pytestmark = pytest.mark.localcloud


@pytest.fixture()
def admin(new_org: Callable[..., str], api_base: str) -> Iterator[httpx.Client]:
    with api_client(api_base, new_org("secrets")) as client:
        yield client


def _names(client: httpx.Client) -> list[str]:
    resp = client.get("/secrets")
    assert resp.status_code == 200, resp.text
    return [s["name"] for s in resp.json()["secrets"]]


def test_a_value_goes_in_and_never_comes_out(admin: httpx.Client, container: Any) -> None:
    value = f"value-{uuid.uuid4().hex}"
    made = admin.put("/secrets/SHOP_PASSWORD", json={"value": value, "description": "shop"})
    assert made.status_code == 200, made.text
    secret = made.json()["secret"]
    assert set(secret) == {"name", "description", "createdAt", "updatedAt", "lastUsedAt"}
    assert secret["name"] == "SHOP_PASSWORD" and secret["lastUsedAt"] is None
    listed = admin.get("/secrets")
    assert listed.status_code == 200
    assert listed.json()["secrets"] == [secret]
    assert value not in made.text + listed.text

    replaced = admin.put("/secrets/SHOP_PASSWORD", json={"value": value + "-2"})
    assert replaced.status_code == 200
    again = replaced.json()["secret"]
    assert again["createdAt"] == secret["createdAt"] and again["description"] == "shop"
    assert again["updatedAt"] >= secret["updatedAt"]

    # Stored encrypted: the table holds KMS ciphertext, not the value.
    table = container.table
    items = table.client.scan(TableName=table.name)["Items"]
    assert not [i for i in items if value in str(i)]

    assert admin.delete("/secrets/SHOP_PASSWORD").status_code == 204
    gone = admin.delete("/secrets/SHOP_PASSWORD")
    assert gone.status_code == 404 and gone.json()["detail"] == "secret_not_found"
    assert _names(admin) == []


def test_only_admin_keys_manage_secrets(admin: httpx.Client, api_base: str) -> None:
    made = admin.post("/api-keys", json={"name": "ci", "scopes": ["runs"]})
    assert made.status_code == 201, made.text
    with api_client(api_base, made.json()["apiKey"]["secret"]) as runs_only:
        for method, path in (
            ("PUT", "/secrets/TOKEN"),
            ("GET", "/secrets"),
            ("DELETE", "/secrets/TOKEN"),
            ("DELETE", "/browser-sessions/shop"),
        ):
            resp = runs_only.request(method, path, json={"value": "abcdef"})
            assert (resp.status_code, resp.json()["detail"]) == (403, "forbidden"), path
    assert _names(admin) == []


def test_another_organizations_secret_is_not_found(
    admin: httpx.Client, new_org: Callable[..., str], api_base: str
) -> None:
    assert admin.put("/secrets/TOKEN", json={"value": "ours-123"}).status_code == 200
    with api_client(api_base, new_org("other")) as other:
        assert _names(other) == []
        resp = other.delete("/secrets/TOKEN")
        assert resp.status_code == 404 and resp.json()["detail"] == "secret_not_found"
        assert other.put("/secrets/TOKEN", json={"value": "theirs-456"}).status_code == 200
        session = other.delete("/browser-sessions/shop")
        assert session.status_code == 404
        assert session.json()["detail"] == "browser_session_not_found"
    assert _names(admin) == ["TOKEN"]


@pytest.mark.parametrize(
    ("name", "body", "detail"),
    [
        ("lower_case", {"value": "abcdef"}, "invalid_secret_name"),
        ("1ABC", {"value": "abcdef"}, "invalid_secret_name"),
        ("A" * 65, {"value": "abcdef"}, "invalid_secret_name"),
        ("WITH-DASH", {"value": "abcdef"}, "invalid_secret_name"),
        ("BIG", {"value": "x" * 8193}, "secret_too_large"),
        ("BIG_UTF8", {"value": "é" * 4097}, "secret_too_large"),
        ("SHORT", {"value": "abc"}, "secret_too_short"),
        ("NO_VALUE", {}, "invalid_body"),
        ("EXTRA", {"value": "abcdef", "other": 1}, "invalid_body"),
        ("LONG_DESCRIPTION", {"value": "abcdef", "description": "d" * 501}, "invalid_body"),
    ],
)
def test_bad_names_and_sizes_are_400_and_change_nothing(
    admin: httpx.Client, name: str, body: dict[str, Any], detail: str
) -> None:
    resp = admin.put(f"/secrets/{name}", json=body)
    assert resp.status_code == 400, resp.text
    assert resp.json()["detail"] == detail
    assert "x" * 100 not in resp.text  # a refused value is not echoed either
    assert _names(admin) == []


def test_the_edges_of_names_and_values(admin: httpx.Client) -> None:
    surrogate = admin.put(
        "/secrets/ODD",
        content=b'{"value": "ab\\ud800cd"}',
        headers={"Content-Type": "application/json"},
    )
    assert surrogate.status_code == 400 and surrogate.json()["detail"] == "invalid_body"
    assert admin.put("/secrets/BIG", json={"value": "x" * 8192}).status_code == 200
    bad = admin.delete("/secrets/bad-name")
    assert bad.status_code == 400 and bad.json()["detail"] == "invalid_secret_name"
    bad = admin.delete("/browser-sessions/Bad Name")
    assert bad.status_code == 400 and bad.json()["detail"] == "invalid_session_name"


def _http_task(url: str, secret_ref: str = "{{ secrets.API_TOKEN }}") -> dict[str, Any]:
    return {
        "name": "uses a secret",
        "steps": [
            {"id": "call", "type": "http", "url": url, "headers": {"X-Token": secret_ref}},
        ],
    }


def test_tasks_name_existing_secrets_only_where_they_are_masked(admin: httpx.Client) -> None:
    missing = admin.post("/tasks", json=_http_task("https://example.com/"))
    assert missing.status_code == 400, missing.text
    assert missing.json() == {"detail": "secret_not_found", "missing": ["API_TOKEN"]}

    assert admin.put("/secrets/API_TOKEN", json={"value": "token-123456"}).status_code == 200
    assert admin.post("/tasks", json=_http_task("https://example.com/")).status_code == 201

    in_a_log = {
        "name": "leaks",
        "steps": [{"id": "say", "type": "log", "message": "{{ secrets.API_TOKEN }}"}],
    }
    resp = admin.post("/tasks", json=in_a_log)
    assert resp.status_code == 400
    assert resp.json()["detail"] == "secret_not_allowed"
    assert resp.json()["errors"] == [
        {"path": "steps[0].message", "message": "secrets may not be used here"}
    ]
    computed = admin.post(
        "/tasks", json=_http_task("https://example.com/", "{{ secrets[inputs.name] }}")
    )
    assert computed.status_code == 400
    assert computed.json()["detail"] == "secret_not_allowed"


def test_a_secret_deleted_since_fails_the_run(admin: httpx.Client) -> None:
    assert admin.put("/secrets/API_TOKEN", json={"value": "token-123456"}).status_code == 200
    made = admin.post("/tasks", json=_http_task("http://127.0.0.1:9/"))
    assert made.status_code == 201, made.text
    assert admin.delete("/secrets/API_TOKEN").status_code == 204
    run = admin.post(f"/tasks/{made.json()['task']['id']}/runs", json={})
    assert run.status_code == 202, run.text
    run_id = run.json()["run"]["id"]
    done = eventually(
        lambda: admin.get(f"/task-runs/{run_id}").json()["run"],
        lambda r: r["status"] in {"COMPLETED", "FAILED"},
        timeout=60,
    )
    assert done["status"] == "FAILED"
    assert done["error"]["code"] == "secret_not_found"
    assert "API_TOKEN" in done["error"]["message"]


def test_an_8_kb_value_reaches_the_target_whole(admin: httpx.Client, target: Any) -> None:
    """8,192 bytes are two KMS ciphertexts: decrypted and joined in order."""
    value = "".join(f"{i:04d}" for i in range(2048))  # every 4-byte slice is different
    assert admin.put("/secrets/BIG", json={"value": value}).status_code == 200
    target.routes["/in"] = lambda hit: (200, {"Content-Type": "text/plain"}, b"ok")
    made = admin.post(
        "/tasks",
        json={
            "name": "big",
            "steps": [
                {
                    "id": "send",
                    "type": "http",
                    "method": "POST",
                    "url": target.url + "/in",
                    "body": "{{ secrets.BIG }}",
                }
            ],
        },
    )
    assert made.status_code == 201, made.text
    run = admin.post(f"/tasks/{made.json()['task']['id']}/runs", json={})
    run_id = run.json()["run"]["id"]
    done = eventually(
        lambda: admin.get(f"/task-runs/{run_id}").json()["run"],
        lambda r: r["status"] in {"COMPLETED", "FAILED"},
        timeout=60,
    )
    assert done["status"] == "COMPLETED", done
    assert target.hits[0].body == value.encode()
    used = [s for s in admin.get("/secrets").json()["secrets"] if s["name"] == "BIG"]
    assert used[0]["lastUsedAt"] is not None
