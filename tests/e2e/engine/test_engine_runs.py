"""Runs of inline steps end to end: API → Step Functions (moto) → step function → DynamoDB
Local, with http steps calling a real HTTP server on loopback."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from runhook.engine.plan import expected_transitions
from tests.e2e.engine.engine_e2e import Api, messages
from tests.support.examples import load_example
from tests.support.loopback import Hit, Target

pytestmark = pytest.mark.localcloud


def order_task(target: Target) -> dict[str, Any]:
    return {
        "name": "Order total",
        "inputs": load_example()["inputs"],  # the contract example's: orderId, currency=EUR
        "steps": [
            {
                "id": "fetch",
                "type": "http",
                "url": target.url + "/orders/{{ inputs.orderId }}",
                "headers": {"Authorization": "Bearer sk_test_abcdefghijklmnop1234"},
                "timeoutSeconds": 5,
            },
            {
                "id": "total",
                "type": "transform",
                "values": {
                    "amount": "steps.fetch.json.total",
                    "count": "length(steps.fetch.json.items)",
                },
            },
            {
                "id": "note",
                "type": "log",
                "message": "order {{ inputs.orderId }}: {{ steps.total.amount }} {{ inputs.currency }}",
            },
            {
                "id": "notify",
                "type": "http",
                "method": "POST",
                "url": target.url + "/notify",
                "json": {"order": "{{ inputs.orderId }}", "amount": "{{ steps.total.amount }}"},
            },
        ],
        "outputs": {
            "amount": "steps.total.amount",
            "items": "steps.total.count",
            "notified": "steps.notify.status",
        },
        "timeoutSeconds": 60,
    }


def serve_orders(target: Target) -> None:
    def order(hit: Hit) -> tuple[int, dict[str, str], bytes]:
        order_id = hit.path.split("/")[-1]
        body = {
            "id": order_id,
            "total": int(order_id) * 2,
            "items": [{"sku": "a"}] * (int(order_id) % 5 + 1),
        }
        return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()

    target.routes.update({f"/orders/{n}": order for n in range(1000)})
    target.routes["/notify"] = lambda hit: (201, {"Content-Type": "application/json"}, hit.body)


def test_four_steps_complete_with_outputs_progress_and_ordered_logs(
    api: Api, target: Target
) -> None:
    serve_orders(target)
    task_id = api.task(order_task(target))
    run = api.start(task_id, {"orderId": "21"})
    done = api.wait(run["id"])

    assert done["status"] == "COMPLETED", done
    assert done["outputs"] == {"amount": 42, "items": 2, "notified": 201}
    assert done["progress"] == {"currentStep": 4, "stepsTotal": 4}
    assert done["error"] is None and done["waiting"] is None
    assert done["timestamps"]["startedAt"] <= done["timestamps"]["finishedAt"]
    assert json.loads(target.hits[-1].body) == {"order": "21", "amount": "42"}

    logs = api.logs(run["id"])
    nodes = [e["nodeId"] for e in logs]
    assert nodes == ["fetch", "fetch", "total", "total", "note", "notify", "notify", None]
    assert [e["timestamp"] for e in logs] == sorted(e["timestamp"] for e in logs)
    assert [e["id"] for e in logs] == sorted(e["id"] for e in logs)
    assert messages(logs, "note") == ["order 21: 42 EUR"]
    assert messages(logs, "fetch")[1].startswith("200 OK")
    assert "sk_test" not in json.dumps(logs)  # the Authorization header was redacted
    assert {e["level"] for e in logs} == {"info"}
    # One Lambda invocation ran all four steps: Advance → Route → Done.
    assert api.transitions(run["id"]) == ["Advance", "Route", "Done"]


def test_five_inline_steps_cost_three_transitions(api: Api) -> None:
    task_id = api.task(
        {
            "name": "Five logs",
            "steps": [{"id": f"s{i}", "type": "log", "message": f"step {i}"} for i in range(5)],
        }
    )
    run = api.start(task_id)
    assert api.wait(run["id"])["status"] == "COMPLETED"
    states = api.transitions(run["id"])
    assert len(states) == 3 == expected_transitions(["log"] * 5)


def test_flaky_endpoint_succeeds_after_retries_with_warnings(api: Api, target: Target) -> None:
    calls: list[float] = []

    def flaky(hit: Hit) -> tuple[int, dict[str, str], bytes]:
        calls.append(time.monotonic())
        if len(calls) <= 2:
            return 503, {}, b"try later"
        return 200, {"Content-Type": "application/json"}, b'{"ok": true}'

    target.routes["/flaky"] = flaky
    task_id = api.task(
        {
            "name": "Flaky",
            "steps": [
                {
                    "id": "call",
                    "type": "http",
                    "url": target.url + "/flaky",
                    "retry": {"maxAttempts": 3, "backoffSeconds": 0.2, "backoffRate": 2},
                },
            ],
            "outputs": {"ok": "steps.call.json.ok"},
        }
    )
    run = api.start(task_id)
    done = api.wait(run["id"])
    assert done["status"] == "COMPLETED", done
    assert done["outputs"] == {"ok": True}
    assert len(calls) == 3
    assert calls[1] - calls[0] >= 0.2 and calls[2] - calls[1] >= 0.4  # backoff × rate
    logs = api.logs(run["id"])
    warnings = [e for e in logs if e["level"] == "warning"]
    assert len(warnings) == 2
    assert all(e["nodeId"] == "call" for e in warnings)
    assert "attempt 1/3 failed: expected status 2xx, got 503" in warnings[0]["message"]
    assert "retrying in 0.4 s" in warnings[1]["message"]


def test_a_failing_step_fails_the_run_at_its_node_and_later_steps_do_not_run(
    api: Api, target: Target
) -> None:
    target.routes["/missing"] = lambda hit: (404, {}, b"no such order")
    target.routes["/after"] = lambda hit: (200, {}, b"")
    task_id = api.task(
        {
            "name": "Fails",
            "steps": [
                {"id": "first", "type": "log", "message": "starting"},
                {
                    "id": "fetch",
                    "type": "http",
                    "url": target.url + "/missing",
                    "retry": {"maxAttempts": 3, "backoffSeconds": 0.1},
                },
                {"id": "after", "type": "http", "url": target.url + "/after"},
            ],
        }
    )
    run = api.start(task_id)
    done = api.wait(run["id"])
    assert done["status"] == "FAILED"
    assert done["error"]["nodeId"] == "fetch"
    assert done["error"]["code"] == "http_error"
    assert "404" in done["error"]["message"]
    assert done["progress"] == {"currentStep": 1, "stepsTotal": 3}
    assert [h.path for h in target.hits] == ["/missing"]  # a 404 is not retried; `after` never ran
    logs = api.logs(run["id"])
    assert [e["nodeId"] for e in logs if e["level"] == "error"] == ["fetch"]
    assert "after" not in {e["nodeId"] for e in logs}


def test_fail_step_sets_its_code_and_message(api: Api) -> None:
    task_id = api.task(
        {
            "name": "Guard",
            "inputs": {"type": "object", "properties": {"amount": {"type": "number"}}},
            "steps": [
                {
                    "id": "check",
                    "type": "fail",
                    "code": "amount_too_high",
                    "message": "refusing {{ inputs.amount }}",
                },
                {"id": "never", "type": "log", "message": "unreachable"},
            ],
        }
    )
    done = api.wait(api.start(task_id, {"amount": 5000})["id"])
    assert done["status"] == "FAILED"
    assert done["error"] == {
        "code": "amount_too_high",
        "message": "refusing 5000",
        "nodeId": "check",
    }


def test_a_template_error_fails_the_step(api: Api) -> None:
    task_id = api.task(
        {
            "name": "Bad template",
            "steps": [{"id": "say", "type": "log", "message": "{{ inputs.nope.deeper }}"}],
        }
    )
    done = api.wait(api.start(task_id)["id"])
    assert done["status"] == "FAILED"
    assert (done["error"]["code"], done["error"]["nodeId"]) == ("template_error", "say")


def test_twenty_runs_at_once_all_complete_with_their_own_outputs(api: Api, target: Target) -> None:
    serve_orders(target)
    task_id = api.task(order_task(target))
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=20) as pool:
        runs = list(pool.map(lambda n: api.start(task_id, {"orderId": str(n)}), range(100, 120)))
        done = list(pool.map(lambda r: api.wait(r["id"], timeout=90), runs))
    elapsed = time.monotonic() - started
    assert [d["status"] for d in done] == ["COMPLETED"] * 20, [d["error"] for d in done]
    for n, run in zip(range(100, 120), done, strict=True):
        assert run["inputs"]["orderId"] == str(n)
        assert run["outputs"]["amount"] == n * 2
        assert run["outputs"]["items"] == n % 5 + 1
    assert len({d["id"] for d in done}) == 20
    print(f"20 concurrent runs completed in {elapsed:.1f} s")


def test_the_run_timeout_fails_a_run_that_waits_too_long(api: Api) -> None:
    task_id = api.task(
        {
            "name": "Too slow",
            "steps": [
                {"id": "nap", "type": "wait", "seconds": 60},
                {"id": "after", "type": "log", "message": "unreachable"},
            ],
            "timeoutSeconds": 2,
        }
    )
    started = time.monotonic()
    done = api.wait(api.start(task_id)["id"], timeout=20)
    assert done["status"] == "FAILED"
    assert (done["error"]["code"], done["error"]["nodeId"]) == ("timeout", "nap")
    assert time.monotonic() - started < 15  # the wait was capped at the deadline
