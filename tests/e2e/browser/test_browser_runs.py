"""Browser steps end to end: the local cloud (DynamoDB Local, moto's Step Functions and S3,
the browser function run in-process), a real local web page and Debian's Chromium."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest

from runhook.clock import parse_iso
from runhook.engine.steps.browser import procs
from tests.e2e.engine.engine_e2e import Api
from tests.support.browser import step_chromium_processes
from tests.support.examples import load_example
from tests.support.polling import eventually, poll

pytestmark = [pytest.mark.localcloud, pytest.mark.slow, pytest.mark.xdist_group("browser")]

RUN_TIMEOUT = 180.0  # a loaded CI machine starts Chromium slowly; the runs finish far sooner


def _browser_task(actions: list[dict[str, Any]], timeout: int = 60) -> dict[str, Any]:
    return {
        "name": f"browser {uuid.uuid4().hex[:6]}",
        "steps": [
            {"id": "browse", "type": "browser", "timeoutSeconds": timeout, "actions": actions}
        ],
        "outputs": {"page": "steps.browse.title"},
    }


def test_the_example_task_runs_and_its_screenshot_is_served(browser_api: Api, site: Any) -> None:
    api = browser_api
    task_id = api.task(load_example("browser-order-lookup.json"))
    run = api.start(task_id, {"siteUrl": site.url, "orderId": "48219", "country": "nl"})
    done = api.wait(run["id"], timeout=RUN_TIMEOUT)
    assert done["status"] == "COMPLETED", done
    assert done["outputs"] == {
        "total": "129.90 EUR",
        "status": "shipped",
        "screenshot": "order.png",
        "page": "Order lookup",
    }

    lines = [(e["level"], e["message"], e["nodeId"]) for e in api.logs(run["id"])]
    browser = [(level, message) for level, message, node in lines if node == "lookup"]
    messages = [m for _, m in browser]
    assert messages[0] == "browser step started (8 actions)"
    assert messages[1].startswith("Chromium started in ")
    expected = [
        f"Navigated to {site.url}/order-lookup.html (200, ",
        "Filled #order (5 characters)",
        'Selected ["nl"] in #country',
        "Clicked #find",
        "#total is visible (after ",
        "Extracted total from #total: 129.90 EUR",
        "Extracted status from #status: shipped",
        "Saved screenshot order.png (",
    ]
    assert len(messages) >= 2 + len(expected), messages
    for got, prefix in zip(messages[2 : 2 + len(expected)], expected, strict=True):
        assert got.startswith(prefix), (got, prefix)
    assert all(level == "info" for level, _ in browser), browser

    listed = api.client.get(f"/task-runs/{run['id']}/artifacts")
    assert listed.status_code == 200, listed.text
    artifacts = listed.json()["artifacts"]
    assert [a["name"] for a in artifacts] == ["order.png"]
    assert artifacts[0]["contentType"] == "image/png" and artifacts[0]["size"] > 1000
    one = api.client.get(f"/task-runs/{run['id']}/artifacts/order.png")
    assert one.status_code == 200, one.text
    artifact = one.json()["artifact"]
    assert parse_iso(artifact["expiresAt"]) > parse_iso(done["timestamps"]["finishedAt"])
    image = httpx.get(artifact["url"], timeout=30)
    assert image.status_code == 200, image.text
    assert image.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert image.headers["content-type"] == "image/png"
    assert len(image.content) == artifact["size"]
    # The bucket itself is not readable without the signature.
    unsigned = httpx.get(artifact["url"].split("?", 1)[0], timeout=30)
    assert unsigned.status_code in (400, 403), unsigned.status_code

    missing = api.client.get(f"/task-runs/{run['id']}/artifacts/nope.png")
    assert missing.status_code == 404 and missing.json()["detail"] == "artifact_not_found"
    stranger = api.client.get(f"/task-runs/{uuid.uuid4()}/artifacts")
    assert stranger.status_code == 404 and stranger.json()["detail"] == "run_not_found"
    bad = api.client.get("/task-runs/not-a-uuid/artifacts/order.png")
    assert bad.status_code == 400 and bad.json()["detail"] == "invalid_run_id"


def test_a_selector_that_never_appears_fails_the_run_in_time(browser_api: Api, site: Any) -> None:
    api = browser_api
    task_id = api.task(
        _browser_task(
            [
                {"action": "goto", "url": f"{site.url}/flaky.html"},
                {"action": "wait_for", "selector": "#never", "timeoutSeconds": 3},
            ],
            timeout=45,
        )
    )
    run = api.start(task_id)
    done = api.wait(run["id"], timeout=RUN_TIMEOUT)
    assert done["status"] == "FAILED", done
    error = done["error"]
    assert error["nodeId"] == "browse"
    assert error["code"] == "browser_timeout"
    assert (
        "action 2 (wait_for #never): '#never' did not become visible within 3 s"
        in (error["message"])
    )
    started = parse_iso(done["timestamps"]["startedAt"])
    finished = parse_iso(done["timestamps"]["finishedAt"])
    assert (finished - started).total_seconds() < 45, done["timestamps"]
    errors = [e for e in api.logs(run["id"]) if e["level"] == "error"]
    assert errors and errors[0]["nodeId"] == "browse"


def test_a_late_element_and_a_retried_click_succeed(browser_api: Api, site: Any) -> None:
    """The button appears 6 s after the fill just before the click (not after load: a
    loaded machine's late `goto` let the first attempt find a button timed from load).
    The first 4 s attempt ends ~2 s before it appears, the retry (4 s more) finds it ~2 s
    before it ends: 2 s of slack either side for the moment between the fill and the
    click, and for the page's timer."""
    api = browser_api
    task_id = api.task(
        _browser_task(
            [
                {
                    "action": "goto",
                    "url": f"{site.url}/flaky.html?delay=500&button=6000&after=fill",
                },
                {"action": "extract", "name": "late", "selector": "#late", "timeoutSeconds": 10},
                {"action": "fill", "selector": "#trigger", "value": "go"},
                {"action": "click", "selector": "#late-button", "timeoutSeconds": 4},
                {"action": "wait_for", "selector": "#clicked", "timeoutSeconds": 5},
            ]
        )
    )
    run = api.start(task_id)
    done = api.wait(run["id"], timeout=RUN_TIMEOUT)
    assert done["status"] == "COMPLETED", done
    logs = api.logs(run["id"])
    warnings = [e for e in logs if e["level"] == "warning"]
    assert [w["message"] for w in warnings] == [
        "Retrying element click after timeout: #late-button (attempt 2/2)"
    ], logs
    assert warnings[0]["nodeId"] == "browse"
    assert any(e["message"] == "Extracted late from #late: here at last" for e in logs)
    assert any(e["message"] == "Clicked #late-button" for e in logs)


def test_cancel_stops_a_long_browser_step(browser_api: Api, site: Any) -> None:
    api = browser_api
    task_id = api.task(
        _browser_task(
            [{"action": "goto", "url": f"{site.url}/slow?seconds=150", "timeoutSeconds": 150}],
            timeout=170,
        )
    )
    before = len(site.requests)
    run = api.start(task_id)
    # Step logs are stored when the step ends: the page asking for /slow says it is running.
    eventually(
        lambda: "/slow" in site.requests[before:],
        timeout=RUN_TIMEOUT,
        message="the page never asked for /slow",
    )
    assert "/slow" in site.requests[before:], "the page never asked for /slow"
    sessions = step_chromium_processes()
    assert sessions, "no Chromium is running the step"

    cancelled_at = time.monotonic()
    resp = api.client.post(f"/task-runs/{run['id']}/cancel", json={"reason": "enough"})
    assert resp.status_code == 202, resp.text
    assert resp.json()["run"]["status"] == "CANCELLED"

    left = poll(
        lambda: {p for p in sessions if procs.alive(p)},
        lambda alive: not alive,
        timeout=20 - (time.monotonic() - cancelled_at),
        interval=0.2,
    )
    assert not left, f"Chromium still running {time.monotonic() - cancelled_at:.1f} s after cancel"
    stopped_in = time.monotonic() - cancelled_at
    assert stopped_in < 20, stopped_in

    final = api.wait_execution(run["id"], timeout=60)
    assert final["status"] in {"SUCCEEDED", "ABORTED"}, final
    done = api.run(run["id"])
    assert done["status"] == "CANCELLED" and done["cancelReason"] == "enough", done
    assert done["error"] is None
