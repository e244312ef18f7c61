"""Organization secrets, saved sessions and failure evidence, end to end: the local cloud
(DynamoDB Local, moto's KMS, S3 and Step Functions), the local sign-in pages of
tests/browser_site, a real webhook receiver and Debian's Chromium."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.engine.engine_e2e import Api
from tests.e2e.webhooks.webhook_helpers import Receiver
from tests.support.polling import eventually

pytestmark = [pytest.mark.localcloud, pytest.mark.slow, pytest.mark.xdist_group("browser")]

RUN_TIMEOUT = 180.0


@pytest.fixture()
def password(browser_api: Api, site: Any) -> Iterator[str]:
    """A fresh password: the site's, and the organization's secret SHOP_PASSWORD."""
    value = f"pw-{uuid.uuid4().hex}"
    site.accounts.password = value
    resp = browser_api.client.put(
        "/secrets/SHOP_PASSWORD", json={"value": value, "description": "the shop's password"}
    )
    assert resp.status_code == 200, resp.text
    assert value not in resp.text
    yield value


def _artifact(api: Api, run_id: str, name: str) -> tuple[dict[str, Any], bytes]:
    one = api.client.get(f"/task-runs/{run_id}/artifacts/{name}")
    assert one.status_code == 200, one.text
    artifact = one.json()["artifact"]
    body = httpx.get(artifact["url"], timeout=30)
    assert body.status_code == 200, body.text
    return artifact, body.content


def _sign_in_task(site: Any, *, session: str | None = None) -> dict[str, Any]:
    """Sign in with the secret and read the balance behind the login; with a `session`,
    the login actions run only while the form is shown (`ifVisible`)."""
    login = {"ifVisible": "#login"} if session else {}
    step: dict[str, Any] = {
        "id": "shop",
        "type": "browser",
        "timeoutSeconds": 90,
        "actions": [
            {"action": "goto", "url": f"{site.url}/login"},
            {"action": "fill", "selector": "#user", "value": "ada", **login},
            {
                "action": "fill",
                "selector": "#password",
                "value": "{{ secrets.SHOP_PASSWORD }}",
                **login,
            },
            {"action": "click", "selector": "#sign-in", **login},
            {"action": "wait_for", "selector": "#balance"},
            {"action": "extract", "name": "balance", "selector": "#balance"},
        ],
    }
    if session:
        step["session"] = session
    return {
        "name": f"shop {uuid.uuid4().hex[:6]}",
        "steps": [step],
        "outputs": {"balance": "steps.shop.extracted.balance"},
    }


def _everywhere_task(site: Any) -> dict[str, Any]:
    """The secret in every place a template may put it: an http url (query), headers and
    a JSON body, a raw body, a browser goto url and a fill value; the echo server and
    the page send it back (a result, an extracted value, a page's HTML)."""
    secret = "{{ secrets.SHOP_PASSWORD }}"
    return {
        "name": f"everywhere {uuid.uuid4().hex[:6]}",
        "steps": [
            {
                "id": "call",
                "type": "http",
                "method": "POST",
                "url": f"{site.url}/echo?token={secret}",
                "headers": {"X-Shop-Token": secret, "X-Note": f"password is {secret}!"},
                "query": {"again": secret},
                "json": {"password": secret, "nested": [f"pw: {secret}"]},
            },
            {
                "id": "raw",
                "type": "http",
                "method": "POST",
                "url": f"{site.url}/echo",
                "headers": {"Content-Type": "application/x-www-form-urlencoded"},
                "body": f"user=ada&password={secret}",
            },
            {
                "id": "shop",
                "type": "browser",
                "timeoutSeconds": 90,
                "record": ["har", "trace"],
                "actions": [
                    {"action": "goto", "url": f"{site.url}/login?hint={secret}"},
                    {"action": "extract", "name": "hint", "selector": "#hint"},
                    {"action": "fill", "selector": "#user", "value": "ada"},
                    {"action": "fill", "selector": "#password", "value": secret},
                    {"action": "click", "selector": "#sign-in"},
                    {"action": "wait_for", "selector": "#balance"},
                    {"action": "extract", "name": "balance", "selector": "#balance"},
                    {"action": "screenshot", "name": "account"},
                ],
            },
        ],
        "outputs": {
            "balance": "steps.shop.extracted.balance",
            "hint": "steps.shop.extracted.hint",
            "echoed": "steps.call.json",
            "raw": "steps.raw.json.body",
            "url": "steps.shop.url",
        },
    }


def _table_hits(cloud_container: Any, value: str) -> list[str]:
    """Every item of the table whose JSON holds `value` (a full scan)."""
    table = cloud_container.table
    hits: list[str] = []
    paginator = table.client.get_paginator("scan")
    for page in paginator.paginate(TableName=table.name):
        for item in page.get("Items", []):
            text = json.dumps(item, default=str)
            if value in text:
                hits.append(f"{item['pk']['S']} {item['sk']['S']}")
    return hits


def _bucket_hits(cloud_container: Any, value: str) -> tuple[list[str], int]:
    """Every object of the artifacts bucket holding `value`, and how many were searched."""
    s3 = cloud_container.artifacts.s3
    bucket = cloud_container.artifacts.bucket
    hits, count = [], 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents") or []:
            count += 1
            body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            if value.encode() in body:
                hits.append(item["Key"])
    return hits, count


def test_a_secret_signs_in_and_its_value_appears_nowhere(
    browser_api: Api, site: Any, password: str, organizations: Any
) -> None:
    api = browser_api
    receiver = Receiver()
    try:
        resp = api.client.post("/webhook-endpoints", json={"url": receiver.url})
        assert resp.status_code == 201, resp.text
        endpoint_id = resp.json()["endpoint"]["id"]
        logins = site.accounts.logins
        run = api.start(api.task(_everywhere_task(site)))
        done = api.wait(run["id"], timeout=RUN_TIMEOUT)
        assert done["status"] == "COMPLETED", done
        assert site.accounts.logins == logins + 1  # the real password reached the site
        outputs = done["outputs"]
        assert outputs["balance"] == "42.00 EUR"
        assert outputs["hint"] == "***"
        assert outputs["echoed"]["headers"]["x-shop-token"] == "***"
        assert outputs["echoed"]["headers"]["x-note"] == "password is ***!"
        assert json.loads(outputs["echoed"]["body"]) == {"password": "***", "nested": ["pw: ***"]}
        assert outputs["raw"] == "user=ada&password=***"
        assert outputs["url"].endswith("/account")

        logs = api.logs(run["id"])
        text = " | ".join(e["message"] for e in logs)
        assert "***" in text, text
        assert any("trace.zip not saved: the step used secrets" in m for m in text.split(" | "))
        listed = api.client.get(f"/task-runs/{run['id']}/artifacts").json()["artifacts"]
        names = sorted(a["name"] for a in listed)
        assert names == ["account.png", "shop-network.har"], names
        _, har = _artifact(api, run["id"], "shop-network.har")
        assert json.loads(har)["log"]["entries"], "the HAR records the requests"

        # Every webhook the run's events caused has arrived (completed is the last).
        eventually(
            lambda: receiver.received("task-run.completed"),
            timeout=60,
            message="task-run.completed was not delivered",
        )
        bodies = [r.body for r in receiver.received()]
        assert len(bodies) >= 3
        assert all(password.encode() not in body for body in bodies)
        assert any(b"***" in body for body in bodies)  # the log events carry the masked lines

        container = organizations.container
        assert _table_hits(container, password) == []
        hits, searched = _bucket_hits(container, password)
        assert hits == [] and searched >= 2
        for item in api.client.get(f"/webhook-endpoints/{endpoint_id}/deliveries").json()[
            "deliveries"
        ]:
            assert password not in json.dumps(item)
    finally:
        receiver.stop()


def test_a_named_session_skips_the_login_the_second_time(
    browser_api: Api, site: Any, password: str
) -> None:
    api = browser_api
    session = f"shop-{uuid.uuid4().hex[:8]}"
    task_id = api.task(_sign_in_task(site, session=session))
    before = site.accounts.logins

    first = api.wait(api.start(task_id)["id"], timeout=RUN_TIMEOUT)
    assert first["status"] == "COMPLETED", first
    assert first["outputs"] == {"balance": "42.00 EUR"}
    assert site.accounts.logins == before + 1
    first_logs = [e["message"] for e in api.logs(first["id"])]
    assert f"Session {session}: no saved state, starting afresh" in first_logs
    assert any(m.startswith(f"Saved session {session} (until ") for m in first_logs)

    second = api.wait(api.start(task_id)["id"], timeout=RUN_TIMEOUT)
    assert second["status"] == "COMPLETED", second
    assert second["outputs"] == {"balance": "42.00 EUR"}
    assert site.accounts.logins == before + 1, "the second run posted the login form"
    second_logs = [e["message"] for e in api.logs(second["id"])]
    assert f"Session {session}: loaded its saved state" in second_logs
    assert "Skipped action 4 (click #sign-in): #login is not visible" in second_logs

    forgot = api.client.delete(f"/browser-sessions/{session}")
    assert forgot.status_code == 204, forgot.text
    again = api.client.delete(f"/browser-sessions/{session}")
    assert again.status_code == 404 and again.json()["detail"] == "browser_session_not_found"
    third = api.wait(api.start(task_id)["id"], timeout=RUN_TIMEOUT)
    assert third["status"] == "COMPLETED", third
    assert site.accounts.logins == before + 2, "a forgotten session signs in again"


def test_a_failed_step_leaves_its_screenshot_html_and_console_log(
    browser_api: Api, site: Any, password: str
) -> None:
    api = browser_api
    task = {
        "name": f"fails {uuid.uuid4().hex[:6]}",
        "steps": [
            {
                "id": "browse",
                "type": "browser",
                "timeoutSeconds": 60,
                "actions": [
                    {
                        "action": "goto",
                        "url": f"{site.url}/login?hint={{{{ secrets.SHOP_PASSWORD }}}}",
                    },
                    {
                        "action": "fill",
                        "selector": "#password",
                        "value": "{{ secrets.SHOP_PASSWORD }}",
                    },
                    {"action": "wait_for", "selector": "#never", "timeoutSeconds": 3},
                ],
            }
        ],
    }
    run = api.start(api.task(task))
    done = api.wait(run["id"], timeout=RUN_TIMEOUT)
    assert done["status"] == "FAILED", done
    error = done["error"]
    assert error["code"] == "browser_timeout" and error["nodeId"] == "browse"
    assert error["artifacts"] == ["browse-failure.png", "browse-failure.html", "browse-console.txt"]

    listed = api.client.get(f"/task-runs/{run['id']}/artifacts").json()["artifacts"]
    assert sorted(a["name"] for a in listed) == sorted(error["artifacts"])
    shot, png = _artifact(api, run["id"], "browse-failure.png")
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and shot["contentType"] == "image/png"
    page, html = _artifact(api, run["id"], "browse-failure.html")
    assert page["contentType"].startswith("text/html")
    assert b'<p id="hint">***</p>' in html and b'id="login"' in html
    assert password.encode() not in html
    console, log = _artifact(api, run["id"], "browse-console.txt")
    assert console["contentType"].startswith("text/plain")
    assert b"[log] login page ready" in log and b"[error] a console error for the log" in log


def test_a_step_without_secrets_keeps_its_trace(browser_api: Api, site: Any) -> None:
    api = browser_api
    task = {
        "name": f"traced {uuid.uuid4().hex[:6]}",
        "steps": [
            {
                "id": "browse",
                "type": "browser",
                "record": ["trace"],
                "actions": [
                    {"action": "goto", "url": f"{site.url}/order-lookup.html"},
                    {"action": "fill", "selector": "#order", "value": "48219"},
                ],
            }
        ],
    }
    done = api.wait(api.start(api.task(task))["id"], timeout=RUN_TIMEOUT)
    assert done["status"] == "COMPLETED", done
    trace, body = _artifact(api, done["id"], "browse-trace.zip")
    assert trace["contentType"] == "application/zip" and body.startswith(b"PK")
    assert any(m["message"].startswith("Saved browse-trace.zip (") for m in api.logs(done["id"]))
