"""The tasks in examples/tasks/ (used by the README) are valid and run as documented,
with their base-URL inputs pointed at a local server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runhook.tasks.definition import validate_definition
from tests.e2e.engine.engine_e2e import Api, messages
from tests.support.examples import EXAMPLES, load_example
from tests.support.loopback import Hit, Target

load = load_example


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.json")), ids=lambda p: p.name)
def test_examples_are_valid_tasks(path: Path) -> None:
    definition, problems = validate_definition(json.loads(path.read_text()))
    assert definition is not None, problems


def test_at_least_three_examples_cover_http_wait_and_approval() -> None:
    kinds = {s["type"] for p in EXAMPLES.glob("*.json") for s in json.loads(p.read_text())["steps"]}
    assert len(list(EXAMPLES.glob("*.json"))) >= 3
    assert {"http", "transform", "wait", "approval", "log"} <= kinds


def test_github_repo_stats(api: Api, target: Target) -> None:
    repo = {
        "full_name": "acme/widgets",
        "stargazers_count": 1234,
        "forks_count": 56,
        "open_issues_count": 7,
        "license": {"spdx_id": "Apache-2.0"},
        "pushed_at": "2026-11-01T00:00:00Z",
    }
    target.routes["/repos/acme/widgets"] = lambda hit: (
        200,
        {"Content-Type": "application/json; charset=utf-8", "X-RateLimit-Remaining": "59"},
        json.dumps(repo).encode(),
    )
    task_id = api.task(load("github-repo-stats.json"))
    done = api.wait(api.start(task_id, {"repo": "acme/widgets", "apiBase": target.url})["id"])
    assert done["status"] == "COMPLETED", done
    assert done["outputs"] == {
        "repo": "acme/widgets",
        "stars": 1234,
        "forks": 56,
        "openIssues": 7,
        "license": "Apache-2.0",
    }
    assert target.hits[0].headers["Accept"] == "application/vnd.github+json"


def test_deploy_smoke_check(api: Api, target: Target) -> None:
    definition = load("deploy-smoke-check.json")
    for step in definition["steps"]:
        if step["type"] == "wait":
            step["seconds"] = 1  # the documented roll-out is 60 s
    health_calls: list[Hit] = []

    def health(hit: Hit) -> tuple[int, dict[str, str], bytes]:
        health_calls.append(hit)
        if len(health_calls) == 1:
            return 503, {}, b"warming up"
        return 200, {"Content-Type": "application/json"}, b'{"status": "ok", "version": "1.4.2"}'

    target.routes["/deploy"] = lambda hit: (
        202,
        {"Content-Type": "application/json"},
        b'{"id": "dep-77"}',
    )
    target.routes["/health"] = health
    task_id = api.task(definition)
    run = api.start(
        task_id,
        {
            "service": "billing",
            "version": "1.4.2",
            "hookUrl": target.url + "/deploy",
            "healthUrl": target.url + "/health",
            "deployToken": "tok_live_0123456789abcdefXYZ",
        },
    )
    done = api.wait(run["id"])
    assert done["status"] == "COMPLETED", done
    assert done["outputs"] == {"deploymentId": "dep-77", "health": "ok", "runningVersion": "1.4.2"}
    assert json.loads(target.hits[0].body)["requestedBy"] == f"runhook {run['id']}"
    assert health_calls[-1].path == "/health?service=billing"
    logs = api.logs(run["id"])
    assert len([e for e in logs if e["level"] == "warning" and e["nodeId"] == "health"]) == 1
    assert "tok_live" not in json.dumps(logs)


def test_refund_approval(api: Api, target: Target) -> None:
    order = {
        "id": "A-1",
        "total": 49.9,
        "currency": "EUR",
        "customer": {"email": "kim@example.com"},
    }
    target.routes["/orders/A-1"] = lambda hit: (
        200,
        {"Content-Type": "application/json"},
        json.dumps(order).encode(),
    )
    target.routes["/orders/A-1/refunds"] = lambda hit: (
        201,
        {"Content-Type": "application/json"},
        json.dumps({"id": "rf_1", **json.loads(hit.body)}).encode(),
    )
    task_id = api.task(load("refund-approval.json"))
    run = api.start(task_id, {"orderId": "A-1", "shopApi": target.url})
    waiting = api.waiting(run["id"])["waiting"]
    assert (
        waiting["prompt"] == "Refund 49.9 EUR to kim@example.com for order A-1 (customer request)?"
    )
    resp = api.client.post(
        f"/task-runs/{run['id']}/resume",
        json={"approved": True, "data": {"user": "ann"}, "comment": "ok"},
    )
    assert resp.status_code in (200, 202)
    done = api.wait(run["id"])
    assert done["status"] == "COMPLETED", done
    assert done["outputs"] == {"refundId": "rf_1", "amount": 49.9, "approvedBy": "ann"}
    assert json.loads(target.hits[-1].body) == {
        "amount": "49.9",
        "reason": "customer request",
        "approvedBy": "ann",
        "note": "ok",
    }
    assert messages(api.logs(run["id"]), "done") == ["refund rf_1 issued, approved by ann"]
