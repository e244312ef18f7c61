"""The web console in a real browser (Debian's Chromium through Playwright) against the
local cloud: every action goes through the console's pages to the public API, and the
test checks the outcome through the API as well as on the page."""

from __future__ import annotations

import re
import struct
import uuid
import zlib
from typing import Any

import httpx
import pytest

from tests.e2e.console.helpers import shoot, sign_in
from tests.e2e.webhooks.webhook_helpers import Receiver
from tests.support.loopback import Answer
from tests.support.orgs import Organization
from tests.support.polling import eventually

# One Chromium at a time, on the worker that runs the other browser tests (`--dist loadgroup`).
pytestmark = [pytest.mark.localcloud, pytest.mark.slow, pytest.mark.xdist_group("browser")]

TIMEOUT = 60_000  # ms: a loaded machine runs the local cloud's steps slowly


def _task(api: httpx.Client, definition: dict[str, Any]) -> str:
    definition = {**definition, "name": f"{definition['name']} {uuid.uuid4().hex[:4]}"}
    resp = api.post("/tasks", json=definition)
    assert resp.status_code == 201, resp.text
    return str(resp.json()["task"]["id"])


def _start(api: httpx.Client, task_id: str, inputs: dict[str, Any] | None = None) -> str:
    resp = api.post(f"/tasks/{task_id}/runs", json={"inputs": inputs or {}})
    assert resp.status_code == 202, resp.text
    return str(resp.json()["run"]["id"])


def _run(api: httpx.Client, run_id: str) -> dict[str, Any]:
    resp = api.get(f"/task-runs/{run_id}")
    assert resp.status_code == 200, resp.text
    return dict(resp.json()["run"])


ORDER_TASK = {
    "name": "Check order",
    "description": "Looks an order up and logs it",
    "inputs": {
        "type": "object",
        "properties": {
            "orderId": {"type": "string", "pattern": "^A-[0-9]+$", "description": "A-<digits>"},
            "currency": {"type": "string", "default": "EUR"},
            "priority": {"type": "integer", "default": 3, "minimum": 1},
        },
        "required": ["orderId"],
    },
    "steps": [
        {"id": "announce", "type": "log", "message": "checking order {{ inputs.orderId }}"},
        {"id": "total", "type": "transform", "values": {"currency": "inputs.currency"}},
        {"id": "report", "type": "log", "message": "order in {{ steps.total.currency }}"},
    ],
    "outputs": {"currency": "steps.total.currency"},
}


def test_the_console_is_served_with_strict_security_headers(console_url: str) -> None:
    with httpx.Client(timeout=30) as client:
        bare = client.get(console_url.rstrip("/"))
        assert bare.status_code == 308 and bare.headers["location"] == "/console/"
        for path in ("", "js/main.js", "console.css", "no-such-file.js"):
            resp = client.get(console_url + path)
            assert resp.status_code == (404 if path.startswith("no-such") else 200), path
            csp = resp.headers["content-security-policy"]
            directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
            assert directives["script-src"] == "'self'", csp
            assert directives["frame-ancestors"] == "'none'", csp
            assert directives["connect-src"] == "'self'", csp
            assert directives["default-src"] == "'none'", csp
            assert "unsafe" not in csp, csp
            assert resp.headers["x-frame-options"] == "DENY"
            assert resp.headers["referrer-policy"] == "no-referrer"
            assert resp.headers["x-content-type-options"] == "nosniff"
        page = client.get(console_url)
        assert page.headers["content-type"].startswith("text/html")
        assert (
            client.get(console_url + "js/main.js")
            .headers["content-type"]
            .startswith("text/javascript")
        )
        spec = client.get(console_url.replace("/console/", "/public/v1/openapi.json")).json()
        assert not [p for p in spec["paths"] if "console" in p], "the console is not API"


def test_sign_in_refuses_a_bad_key_and_sign_out_clears_the_key(
    page: Any, console_url: str, console_org: Organization
) -> None:
    page.goto(console_url)
    shoot(page, "sign-in")
    page.fill("#api-key", "sk_test_not_a_real_key")
    page.click("button[type=submit]")
    page.get_by_text("The API key is missing, unknown or revoked").wait_for()
    assert page.evaluate("sessionStorage.length") == 0

    sign_in(page, console_url, console_org.key)
    assert page.evaluate("sessionStorage.getItem('runhook.apiKey')") == console_org.key
    assert page.evaluate("document.cookie") == ""
    assert console_org.key not in page.url
    page.click("#sign-out")
    page.get_by_text("Signed out: the key was removed from this tab.").wait_for()
    assert page.evaluate("sessionStorage.length") == 0
    page.reload()
    page.wait_for_selector("#api-key")
    assert page.locator("nav.top").count() == 0


def test_start_a_run_from_the_form_and_watch_it_complete(signed_in: Any, api: httpx.Client) -> None:
    page = signed_in
    task_id = _task(api, ORDER_TASK)
    page.goto(page.url.split("#")[0] + "#/tasks")
    page.locator("[data-testid=tasks]").wait_for()
    shoot(page, "tasks")
    page.goto(page.url.split("#")[0] + f"#/tasks/{task_id}")
    page.wait_for_selector("#input-orderId")
    # The schema's defaults are filled in; the definition is shown.
    assert page.input_value("#input-currency") == "EUR"
    assert page.input_value("#input-priority") == "3"
    assert '"checking order {{ inputs.orderId }}"' in page.locator("pre.json").inner_text()

    page.click("#start-run button[type=submit]")
    error = page.locator("[data-testid=error-orderId]")
    error.get_by_text("'orderId' is a required property").wait_for()
    page.fill("#input-orderId", "48219")
    page.click("#start-run button[type=submit]")
    error.get_by_text("does not match").wait_for()
    assert "required" not in error.inner_text()
    assert "HTTP 400" in page.locator("#start-run [data-testid=answer]").inner_text()
    assert "inputs do not match" in page.locator("#start-run [data-testid=answer]").inner_text()
    shoot(page, "task-start-run")
    listed = api.get(f"/tasks/{task_id}/runs").json()["runs"]
    assert listed == [], "a refused run is not created"

    page.fill("#input-orderId", "A-48219")
    page.click("#start-run button[type=submit]")
    page.wait_for_url(re.compile(r"#/runs/[0-9a-f-]{36}$"))
    run_id = page.url.rsplit("/", 1)[1]
    page.locator(".summary [data-testid=status]").get_by_text("COMPLETED").wait_for(timeout=TIMEOUT)
    page.locator("ul.log").get_by_text("checking order A-48219").wait_for()
    page.locator("ul.log").get_by_text("order in EUR").wait_for()
    states = page.locator("li.step").evaluate_all("els => els.map(e => e.dataset.state)")
    assert states == ["succeeded", "succeeded", "succeeded"]
    assert '"currency": "EUR"' in page.locator("pre.json").first.inner_text()
    shoot(page, "run-detail")
    run = _run(api, run_id)
    assert run["status"] == "COMPLETED" and run["inputs"]["orderId"] == "A-48219"

    page.goto(page.url.split("#")[0] + "#/runs?status=COMPLETED")
    page.locator(f"tr[data-run-id='{run_id}']").wait_for()
    statuses = page.locator("table.list [data-testid=status]").all_inner_texts()
    assert statuses and set(statuses) == {"COMPLETED"}


def _png(width: int = 4, height: int = 3) -> bytes:
    """A small valid PNG (grey pixels): what a browser step's screenshot is to the console."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunks = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + chunks


def test_runs_are_paged_with_the_api_tokens(signed_in: Any, api: httpx.Client) -> None:
    page = signed_in
    task_id = _task(
        api, {"name": "Quick", "steps": [{"id": "say", "type": "log", "message": "hi"}]}
    )
    run_ids = [_start(api, task_id) for _ in range(3)]
    for run_id in run_ids:
        eventually(lambda r=run_id: _run(api, r)["status"], lambda s: s == "COMPLETED", timeout=60)
    page.goto(page.url.split("#")[0] + f"#/runs?taskId={task_id}&pageSize=2")
    rows = page.locator("table.list tbody tr")
    page.locator(f"tr[data-run-id='{run_ids[2]}']").wait_for()
    assert rows.evaluate_all("rs => rs.map(r => r.dataset.runId)") == run_ids[:0:-1]
    assert page.get_by_role("button", name="← Newer").is_disabled()
    page.get_by_role("button", name="Older →").click()
    page.locator(f"tr[data-run-id='{run_ids[0]}']").wait_for()
    assert rows.evaluate_all("rs => rs.map(r => r.dataset.runId)") == run_ids[:1]
    page.get_by_role("button", name="← Newer").click()
    page.locator(f"tr[data-run-id='{run_ids[2]}']").wait_for()
    assert rows.count() == 2


def test_approve_a_waiting_run(signed_in: Any, api: httpx.Client, container: Any) -> None:
    page = signed_in
    task_id = _task(
        api,
        {
            "name": "Refund",
            "steps": [
                {"id": "approve", "type": "approval", "prompt": "Refund 12.50 EUR?"},
                {"id": "after", "type": "log", "message": "approved: {{ steps.approve.comment }}"},
            ],
            "outputs": {"note": "steps.approve.data.note"},
        },
    )
    run_id = _start(api, task_id)
    # A screenshot, stored where a browser step stores it: shown inline from its presigned
    # URL (the CSP's img-src allows the artifact store; a violation fails the test).
    container.artifacts.put(run_id, "page.png", _png(), "image/png")
    page.goto(page.url.split("#")[0] + f"#/runs/{run_id}")
    page.locator("[data-testid=prompt]").get_by_text("Refund 12.50 EUR?").wait_for(timeout=TIMEOUT)
    assert page.locator("li.step[data-step=approve]").get_attribute("data-state") == "waiting"
    page.fill("#approval-data", '{"note": "customer called"}')
    page.fill("#approval-comment", "ok by support")
    shoot(page, "run-approval")
    page.get_by_role("button", name="Approve").click()
    page.locator("[data-testid=answer]").get_by_text("HTTP 202").wait_for()
    page.locator(".summary [data-testid=status]").get_by_text("COMPLETED").wait_for(timeout=TIMEOUT)
    page.locator("ul.log").get_by_text("approved: ok by support").wait_for()
    assert _run(api, run_id)["outputs"] == {"note": "customer called"}
    image = page.locator(".artifacts img[alt='page.png']")
    image.wait_for()
    image.scroll_into_view_if_needed()
    eventually(
        lambda: image.evaluate("img => img.complete && img.naturalWidth"),
        lambda width: width == 4,
        timeout=20,
        message=lambda width: f"the screenshot did not load (naturalWidth {width})",
    )


def test_cancel_a_run(signed_in: Any, api: httpx.Client) -> None:
    page = signed_in
    task_id = _task(api, {"name": "Slow", "steps": [{"id": "nap", "type": "wait", "seconds": 600}]})
    run_id = _start(api, task_id)
    # The list shows the active run with its progress bar (and every run of the tests).
    page.goto(page.url.split("#")[0] + "#/runs")
    page.locator(f"tr[data-run-id='{run_id}'] progress").wait_for(timeout=TIMEOUT)
    shoot(page, "runs")
    page.goto(page.url.split("#")[0] + f"#/runs/{run_id}")
    page.locator("li.step[data-step=nap][data-state=running]").wait_for(timeout=TIMEOUT)
    page.fill("#cancel-reason", "not needed")
    page.get_by_role("button", name="Cancel run").click()
    page.locator("[data-testid=answer]").get_by_text("HTTP 202").wait_for()
    page.locator(".summary [data-testid=status]").get_by_text("CANCELLED").wait_for()
    page.get_by_text("not needed").first.wait_for()
    # A cancelled run offers a retry.
    page.get_by_role("button", name="Retry").wait_for()
    run = _run(api, run_id)
    assert run["status"] == "CANCELLED" and run["cancelReason"] == "not needed"


def test_retry_a_cancelled_run_and_filter_runs_by_tag(signed_in: Any, api: httpx.Client) -> None:
    """The Retry button starts the retry (its page links back, the finished first step is
    reused), and the Tag filter lists only the runs carrying that tag."""
    page = signed_in
    tag = f"batch-{uuid.uuid4().hex[:6]}"
    task_id = _task(
        api,
        {
            "name": "Greet then nap",
            "steps": [
                {"id": "greet", "type": "log", "message": "hello from the first step"},
                {"id": "nap", "type": "wait", "seconds": 600},
            ],
        },
    )
    created = api.post(f"/tasks/{task_id}/runs", json={"inputs": {}, "tags": [tag]})
    assert created.status_code == 202, created.text
    run_id = created.json()["run"]["id"]
    untagged = _start(api, task_id)
    for active in (run_id, untagged):
        eventually(
            lambda r=active: (_run(api, r)["progress"] or {}).get("currentStep", 0),
            lambda steps: steps >= 1,
            timeout=60,
        )
        assert api.post(f"/task-runs/{active}/cancel", json={}).status_code == 202

    page.goto(page.url.split("#")[0] + f"#/runs/{run_id}")
    page.locator(".summary [data-testid=status]").get_by_text("CANCELLED").wait_for(timeout=TIMEOUT)
    page.get_by_role("button", name="Retry").click()
    page.wait_for_url(lambda url: re.search(r"#/runs/[0-9a-f-]{36}$", url) and run_id not in url)
    retry_id = page.url.rsplit("/", 1)[1]
    page.locator(".summary").get_by_text("retry of").wait_for()
    page.locator("ul.log").get_by_text(f"reused from run {run_id}").wait_for(timeout=TIMEOUT)
    retry = _run(api, retry_id)
    assert retry["retryOf"] == run_id and tag in retry["tags"]
    assert _run(api, run_id)["retriedBy"] == retry_id
    assert api.post(f"/task-runs/{retry_id}/cancel", json={}).status_code == 202

    page.goto(page.url.split("#")[0] + f"#/runs?tag={tag}")
    page.locator(f"tr[data-run-id='{retry_id}']").wait_for(timeout=TIMEOUT)
    listed = page.locator("table.list tbody tr").evaluate_all("rs => rs.map(r => r.dataset.runId)")
    assert sorted(listed) == sorted([run_id, retry_id]) and untagged not in listed


def test_replay_a_failed_delivery_once_the_receiver_is_back(
    signed_in: Any, api: httpx.Client
) -> None:
    page = signed_in
    receiver = Receiver(lambda _r, _q: Answer(status=503, body=b"down for maintenance"))
    try:
        made = api.post("/webhook-endpoints", json={"url": receiver.url, "description": "shop"})
        assert made.status_code == 201, made.text
        endpoint_id = made.json()["endpoint"]["id"]
        page.goto(page.url.split("#")[0] + "#/webhooks")
        page.locator("[data-testid=endpoints]").get_by_text(receiver.url).wait_for()
        shoot(page, "webhooks")
        page.goto(page.url.split("#")[0] + f"#/webhooks/{endpoint_id}")
        page.click("#send-test")
        page.locator("[data-testid=answer]").get_by_text("test event queued").wait_for()
        delivery = page.locator(".delivery").first
        delivery.locator("tr.failed td").get_by_text("503").first.wait_for(timeout=TIMEOUT)
        # Every scheduled attempt fails (the test cloud retries every second), then the
        # delivery is failed for good: only a replay sends it again.
        page.locator(".delivery[data-status=failed]").wait_for(timeout=TIMEOUT)
        failed_attempts = delivery.locator("tr.failed").count()
        assert failed_attempts >= 2
        assert delivery.locator("tr.ok").count() == 0
        delivery.scroll_into_view_if_needed()
        shoot(page, "webhook-deliveries")

        receiver.behave = lambda _r, _q: Answer(status=200, body=b"thanks")
        delivery.get_by_role("button", name="Replay").click()
        page.locator("[data-testid=answer]").get_by_text("replay queued").wait_for()
        page.locator(".delivery[data-status=succeeded]").wait_for(timeout=TIMEOUT)
        ok = page.locator(".delivery").first.locator("tr.ok")
        assert ok.count() == 1 and "200" in ok.inner_text()
        deliveries = api.get(f"/webhook-endpoints/{endpoint_id}/deliveries").json()["deliveries"]
        assert deliveries[0]["status"] == "succeeded" and deliveries[0]["replays"] == 1
        assert deliveries[0]["attempts"][-1]["statusCode"] == 200
    finally:
        receiver.stop()


def test_rotate_disable_enable_and_recover_an_endpoint(signed_in: Any, api: httpx.Client) -> None:
    page = signed_in
    receiver = Receiver()
    try:
        made = api.post("/webhook-endpoints", json={"url": receiver.url})
        assert made.status_code == 201, made.text
        endpoint = made.json()["endpoint"]
        page.goto(page.url.split("#")[0] + f"#/webhooks/{endpoint['id']}")
        page.click("#rotate-secret")
        page.locator("[data-testid=answer]").get_by_text("secret rotated").wait_for()
        secret = page.locator("[data-testid=secret] code").inner_text()
        assert secret.startswith("whsec_") and secret != endpoint["secret"]
        rotated = api.get(f"/webhook-endpoints/{endpoint['id']}").json()["endpoint"]
        assert rotated["secretRotatedAt"] and "secret" not in rotated

        page.click("#toggle-enabled")  # Disable
        page.locator("[data-testid=endpoint-state]").get_by_text("disabled").wait_for()
        assert (
            api.get(f"/webhook-endpoints/{endpoint['id']}").json()["endpoint"]["enabled"] is False
        )
        page.fill("#recover-since", "2026-01-01T00:00")
        page.click("#recover")
        page.locator("[data-testid=answer]").get_by_text("endpoint is disabled").wait_for()
        page.get_by_role("button", name="Enable").click()
        page.locator("[data-testid=endpoint-state]").get_by_text("enabled").wait_for()
        page.click("#recover")
        page.locator("[data-testid=answer]").get_by_text("0 recovered").wait_for()
        assert api.get(f"/webhook-endpoints/{endpoint['id']}").json()["endpoint"]["enabled"] is True
    finally:
        receiver.stop()


def test_create_and_revoke_a_key(
    signed_in: Any, api: httpx.Client, console_url: str, organizations: Any
) -> None:
    page = signed_in
    page.goto(page.url.split("#")[0] + "#/settings")
    page.locator("[data-testid=usage]").wait_for()
    name = f"ci {uuid.uuid4().hex[:6]}"
    page.fill("#key-name", name)
    page.click("#create-key button[type=submit]")
    secret = page.locator("[data-testid=secret] code").inner_text()
    assert secret.startswith(("sk_test_", "sk_live_"))
    shoot(page, "settings", mask=[page.locator("[data-testid=secret] code")])
    # The lock-out guard: an allowlist without the caller's address is refused, and said why.
    page.fill("#ip-allowlist", "203.0.113.0/24")
    page.click("#organization button[type=submit]")
    page.locator("[data-testid=lockout]").get_by_text("127.0.0.1").wait_for()
    assert "allowlist_excludes_caller" in page.locator("[data-testid=org-answer]").inner_text()
    assert api.get("/organization").json()["organization"]["ipAllowlist"] == []
    with organizations.client(secret) as client:
        assert client.get("/task-runs").status_code == 200
        assert client.get("/api-keys").json()["detail"] == "forbidden"  # runs scope only
    row = page.locator("[data-testid=keys] tr", has_text=name)
    row.get_by_role("button", name="Revoke").click()
    row.get_by_role("button", name="Confirm revoke").click()
    page.locator("[data-testid=keys-answer]").get_by_text("HTTP 204").wait_for()
    page.locator("[data-testid=keys] tr", has_text=name).wait_for(state="detached")
    with organizations.client(secret) as client:
        eventually(
            lambda: client.get("/task-runs").status_code,
            lambda status: status == 401,
            timeout=30,
            message=lambda status: f"the revoked key still answers {status}",
        )


def test_a_runs_key_sees_that_admin_pages_need_the_admin_scope(
    page: Any, api: httpx.Client, console_url: str
) -> None:
    made = api.post("/api-keys", json={"name": "runs only", "scopes": ["runs"]})
    assert made.status_code == 201, made.text
    sign_in(page, console_url, made.json()["apiKey"]["secret"])
    page.goto(console_url + "#/settings")
    page.locator("[data-testid=scope-needed]").first.wait_for()
    page.goto(console_url + "#/webhooks")
    page.locator("[data-testid=scope-needed]").wait_for()
    page.goto(console_url + "#/runs")
    page.locator("form.filters").wait_for()
    assert page.locator("[data-testid=scope-needed]").count() == 0
