"""Browser steps on the Express machine (issue 16).

Browser tasks are routed like any other: one whose timeout fits Express (<= 240 s) and that
has no approval runs on Express. That is deliberate: the browser function is invoked by
the same BrowserAdvance state in both machines, a browser step's own timeout is cut to the
run's deadline (inside Express's five minutes), and a cancel reaches Chromium through the
step's watchdog, which polls the run's status, not through StopExecution (which Express
lacks). These tests hold that true on the local cloud: the example task completes on
Express with the outputs it has on Standard, and a cancel ends a long browser step there.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from runhook.engine.steps.browser import procs
from tests.e2e.engine.engine_e2e import Api
from tests.support.browser import step_chromium_processes
from tests.support.examples import load_example
from tests.support.polling import eventually, poll

pytestmark = [pytest.mark.localcloud, pytest.mark.slow, pytest.mark.xdist_group("browser")]

RUN_TIMEOUT = 180.0  # a loaded machine starts Chromium slowly; the runs finish far sooner
SHORT = 120  # a task timeout that fits Express


def test_the_example_task_completes_on_express(browser_api: Api, site: Any) -> None:
    api = browser_api
    task = load_example("browser-order-lookup.json")
    task["timeoutSeconds"] = SHORT
    run = api.start(api.task(task), {"siteUrl": site.url, "orderId": "48219", "country": "nl"})
    assert run["engine"] == "express"
    done = api.wait(run["id"], timeout=RUN_TIMEOUT)
    assert (done["status"], done["engine"]) == ("COMPLETED", "express"), done
    assert done["outputs"] == {  # as on Standard (test_browser_runs.py)
        "total": "129.90 EUR",
        "status": "shipped",
        "screenshot": "order.png",
        "page": "Order lookup",
    }
    messages = [e["message"] for e in api.logs(run["id"]) if e["nodeId"] == "lookup"]
    assert messages[0] == "browser step started (8 actions)"
    assert messages[1].startswith("Chromium started in ")
    listed = api.client.get(f"/task-runs/{run['id']}/artifacts").json()["artifacts"]
    assert [a["name"] for a in listed] == ["order.png"]
    assert api.wait_execution(run["id"], timeout=30)["status"] == "SUCCEEDED"


def test_cancel_ends_a_browser_step_on_express(browser_api: Api, site: Any) -> None:
    api = browser_api
    slow = {"action": "goto", "url": f"{site.url}/slow?seconds=100", "timeoutSeconds": 100}
    step = {"id": "browse", "type": "browser", "timeoutSeconds": 110, "actions": [slow]}
    task_id = api.task({"name": "express browser", "timeoutSeconds": SHORT, "steps": [step]})
    before = len(site.requests)
    run = api.start(task_id)
    assert run["engine"] == "express"
    eventually(
        lambda: "/slow" in site.requests[before:],
        timeout=RUN_TIMEOUT,
        message="the page never asked for /slow",
    )
    sessions = step_chromium_processes()
    assert sessions, "no Chromium is running the step"

    cancelled_at = time.monotonic()
    resp = api.client.post(f"/task-runs/{run['id']}/cancel", json={"reason": "enough"})
    assert resp.status_code == 202, resp.text
    left = poll(
        lambda: {p for p in sessions if procs.alive(p)},
        lambda alive: not alive,
        timeout=20,
        interval=0.2,
    )
    assert not left, f"Chromium still running {time.monotonic() - cancelled_at:.1f} s after cancel"

    # Express executions cannot be stopped: this one ends by itself once the step returns.
    assert api.wait_execution(run["id"], timeout=60)["status"] == "SUCCEEDED"
    done = api.run(run["id"])
    assert (done["status"], done["cancelReason"], done["error"]) == ("CANCELLED", "enough", None)
