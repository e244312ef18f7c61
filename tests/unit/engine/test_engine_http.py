"""The http kind against a real HTTP server on loopback (the local cloud's setting)."""

from __future__ import annotations

import json
import time

import pytest

from runhook.engine.steps import StepFailure, get_kind
from runhook.engine.steps.http import MAX_BODY_BYTES
from runhook.settings import Settings
from tests.support.loopback import Hit, Target
from tests.unit.engine.engine_support import make_call, run_step

DATA = {
    "inputs": {"orderId": "48219", "token": "sk_live_4eC39HqLyjWDarjtT1zdp7dc"},
    "steps": {},
    "run": {"id": "r"},
}


def test_get_json_with_templated_url_query_and_headers(target: Target) -> None:
    target.json("/orders/48219", {"total": 12.5})
    call, logged = make_call(
        {
            "id": "fetch",
            "type": "http",
            "url": target.url + "/orders/{{ inputs.orderId }}",
            "query": {"expand": "items", "token": "{{ inputs.token }}"},
            "headers": {
                "Authorization": "Bearer {{ inputs.token }}",
                "X-Order": "{{ inputs.orderId }}",
            },
        },
        DATA,
    )
    result = get_kind("http").run(call)
    assert result["status"] == 200
    assert result["json"] == {"total": 12.5}
    assert result["headers"]["content-type"] == "application/json"
    hit = target.hits[0]
    assert hit.path == "/orders/48219?expand=items&token=sk_live_4eC39HqLyjWDarjtT1zdp7dc"
    assert hit.headers["Authorization"] == "Bearer sk_live_4eC39HqLyjWDarjtT1zdp7dc"
    assert hit.headers["X-Order"] == "48219"
    text = "\n".join(m for _, m in logged.lines)
    assert "sk_live" not in text  # neither the header nor the query parameter
    assert "X-Order: 48219" in text
    assert logged.lines[1][1].startswith("200 OK in ")


def test_post_json_body_is_rendered_recursively(target: Target) -> None:
    target.routes["/refunds"] = lambda hit: (201, {"Content-Type": "application/json"}, hit.body)
    result = run_step(
        {
            "id": "refund",
            "type": "http",
            "method": "POST",
            "url": target.url + "/refunds",
            "json": {"order": "{{ inputs.orderId }}", "lines": [{"n": 1, "why": "{{ run.id }}"}]},
        },
        DATA,
    )
    assert result["status"] == 201
    assert result["json"] == {"order": "48219", "lines": [{"n": 1, "why": "r"}]}
    assert target.hits[0].headers["Content-Type"] == "application/json"


def test_raw_body_and_text_result(target: Target) -> None:
    target.routes["/echo"] = lambda hit: (
        200,
        {"Content-Type": "text/plain; charset=utf-8"},
        hit.body.upper(),
    )
    result = run_step(
        {
            "id": "e",
            "type": "http",
            "method": "PUT",
            "url": target.url + "/echo",
            "body": "id={{ inputs.orderId }}",
        },
        DATA,
    )
    assert result == {"status": 200, "headers": result["headers"], "text": "ID=48219"}


def test_unexpected_status_fails_and_5xx_is_retryable(target: Target) -> None:
    target.routes["/gone"] = lambda hit: (404, {}, b"not here")
    target.routes["/busy"] = lambda hit: (503, {"Retry-After": "7"}, b"")
    with pytest.raises(StepFailure) as info:
        run_step({"id": "f", "type": "http", "url": target.url + "/gone"})
    assert (info.value.code, info.value.retryable) == ("http_error", False)
    assert "404" in info.value.message and "not here" in info.value.message
    with pytest.raises(StepFailure) as info:
        run_step({"id": "f", "type": "http", "url": target.url + "/busy"})
    assert (info.value.retryable, info.value.retry_after) == (True, 7.0)


def test_expected_status_list(target: Target) -> None:
    target.routes["/gone"] = lambda hit: (404, {}, b"")
    result = run_step(
        {"id": "f", "type": "http", "url": target.url + "/gone", "expectedStatus": [404]}
    )
    assert result["status"] == 404


def test_the_attempt_timeout_bounds_the_whole_exchange(target: Target) -> None:
    def slow(hit: Hit) -> tuple[int, dict[str, str], bytes]:
        time.sleep(2)
        return 200, {}, b"late"

    target.routes["/slow"] = slow
    started = time.monotonic()
    with pytest.raises(StepFailure) as info:
        run_step({"id": "s", "type": "http", "url": target.url + "/slow"}, timeout=0.5)
    assert time.monotonic() - started < 1.5
    assert (info.value.code, info.value.retryable) == ("step_timeout", True)


def test_connection_refused_is_retryable() -> None:
    with pytest.raises(StepFailure) as info:
        run_step({"id": "c", "type": "http", "url": "http://127.0.0.1:9/"})
    assert (info.value.code, info.value.retryable) == ("connection_error", True)


def test_large_bodies_are_capped_with_a_warning(target: Target) -> None:
    big = json.dumps({"blob": "x" * (MAX_BODY_BYTES + 10)}).encode()
    target.routes["/big"] = lambda hit: (200, {"Content-Type": "application/json"}, big)
    call, logged = make_call({"id": "b", "type": "http", "url": target.url + "/big"})
    result = get_kind("http").run(call)
    assert len(result["text"].encode()) == MAX_BODY_BYTES
    assert result["truncated"] is True and "json" not in result
    assert logged.levels("warning") == ["response body truncated to 1.0 MB"]


def test_redirects_are_followed_and_rechecked(target: Target) -> None:
    target.routes["/old"] = lambda hit: (302, {"Location": "/new"}, b"")
    target.json("/new", {"moved": True})
    call, logged = make_call(
        {
            "id": "r",
            "type": "http",
            "url": target.url + "/old",
            "headers": {"Authorization": "Bearer x"},
        }
    )
    assert get_kind("http").run(call)["json"] == {"moved": True}
    assert [h.path for h in target.hits] == ["/old", "/new"]
    assert any("302 redirect to" in m for _, m in logged.lines)


def test_deployed_stage_refuses_loopback_and_plain_http(target: Target) -> None:
    target.json("/x", {})
    deployed = Settings(allow_private_targets=False)
    with pytest.raises(StepFailure) as info:
        run_step({"id": "x", "type": "http", "url": target.url + "/x"}, settings=deployed)
    assert info.value.code == "scheme_not_allowed"
    with pytest.raises(StepFailure) as info:
        run_step({"id": "x", "type": "http", "url": "https://127.0.0.1:1/x"}, settings=deployed)
    assert info.value.code == "target_not_allowed"
    with pytest.raises(StepFailure) as info:
        run_step(
            {"id": "x", "type": "http", "url": "https://169.254.169.254/latest/meta-data/"},
            settings=deployed,
        )
    assert info.value.code == "target_not_allowed"
    assert target.hits == []


def test_template_errors_surface() -> None:
    from runhook.tasks.templating import TemplateError

    with pytest.raises(TemplateError):
        run_step(
            {"id": "x", "type": "http", "url": "http://127.0.0.1/{{ inputs.missing.deeper }}"}, DATA
        )
