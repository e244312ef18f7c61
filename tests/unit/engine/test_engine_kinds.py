"""The inline and pausing step kinds, on plain data (no AWS)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from runhook import clock
from runhook.engine.steps import DEFAULT_RUNNER, KINDS, Mode, StepFailure, get_kind
from runhook.tasks.definition import STEP_MODELS
from tests.unit.engine.engine_support import make_call, run_step

DATA = {
    "inputs": {"orderId": "48219", "currency": "EUR"},
    "steps": {
        "fetch": {"status": 200, "json": {"total": 12.5, "items": [{"sku": "a"}, {"sku": "b"}]}}
    },
    "run": {"id": "run-1", "taskId": "task-1"},
}


# The kinds that run inside the step function; the others are states of the machine
# (wait, approval) or run in a function of their own (browser).
COMPUTE_KINDS = frozenset({"http", "transform", "fail", "log"})


def test_every_defined_kind_has_one_module_and_the_right_mode() -> None:
    assert set(STEP_MODELS) <= set(KINDS)
    for name in STEP_MODELS:
        kind = get_kind(name)
        assert kind.config is STEP_MODELS[name]
        runs_in_step_function = kind.mode is Mode.INLINE and kind.runner == DEFAULT_RUNNER
        assert runs_in_step_function == (name in COMPUTE_KINDS), name


def test_transform_evaluates_jmespath_over_the_context() -> None:
    result = run_step(
        {
            "id": "t",
            "type": "transform",
            "values": {
                "amount": "steps.fetch.json.total",
                "skus": "steps.fetch.json.items[*].sku",
                "currency": "inputs.currency",
                "missing": "steps.nope.value",
            },
        },
        DATA,
    )
    assert result == {"amount": 12.5, "skus": ["a", "b"], "currency": "EUR", "missing": None}


def test_transform_logs_its_result() -> None:
    call, logged = make_call(
        {"id": "t", "type": "transform", "values": {"a": "inputs.orderId"}}, DATA
    )
    get_kind("transform").run(call)
    assert logged.levels("info") == ['result: {"a": "48219"}']


def test_transform_runtime_error_is_an_expression_error() -> None:
    with pytest.raises(StepFailure) as info:
        run_step(
            {"id": "t", "type": "transform", "values": {"n": "length(inputs.orderId.x.y)"}}, DATA
        )
    assert info.value.code == "expression_error"


def test_log_renders_and_writes_at_its_level() -> None:
    call, logged = make_call(
        {
            "id": "note",
            "type": "log",
            "message": "order {{ inputs.orderId }}: {{ steps.fetch.json.total }}",
            "level": "warning",
        },
        DATA,
    )
    result = get_kind("log").run(call)
    assert logged.lines == [("warning", "order 48219: 12.5")]
    assert result == {"message": "order 48219: 12.5", "level": "warning"}


def test_fail_raises_its_code_and_rendered_message() -> None:
    with pytest.raises(StepFailure) as info:
        run_step(
            {
                "id": "stop",
                "type": "fail",
                "message": "order {{ inputs.orderId }} is bad",
                "code": "bad_order",
            },
            DATA,
        )
    assert (info.value.code, info.value.message, info.value.retryable) == (
        "bad_order",
        "order 48219 is bad",
        False,
    )


def test_sandbox_refuses_code_in_templates() -> None:
    from runhook.tasks.templating import TemplateError

    with pytest.raises(TemplateError):
        run_step({"id": "x", "type": "log", "message": "{{ ''.__class__.__mro__ }}"}, DATA)


def test_wait_seconds_pause_and_resume() -> None:
    call, logged = make_call({"id": "nap", "type": "wait", "seconds": 5}, DATA)
    kind = get_kind("wait")
    pause = kind.pause(call, remaining=100)
    assert pause.seconds == 5
    assert pause.detail["seconds"] == 5
    assert "waiting 5 s" in logged.lines[0][1]
    assert kind.resume(call, pause.detail, None)["waitedSeconds"] == 5


def test_wait_is_capped_by_the_run_deadline_with_a_warning() -> None:
    call, logged = make_call({"id": "nap", "type": "wait", "seconds": 600}, DATA)
    pause = get_kind("wait").pause(call, remaining=42.2)
    assert pause.seconds == 43
    assert logged.lines[0][0] == "warning"


def test_wait_until_a_templated_time() -> None:
    until = clock.iso(clock.now() + timedelta(seconds=30))
    call, _ = make_call(
        {"id": "nap", "type": "wait", "until": "{{ inputs.at }}"}, {**DATA, "inputs": {"at": until}}
    )
    assert 29 <= get_kind("wait").pause(call, remaining=1000).seconds <= 31


def test_wait_until_the_past_is_zero_and_garbage_fails() -> None:
    call, _ = make_call({"id": "nap", "type": "wait", "until": "2001-01-01T00:00:00Z"}, DATA)
    assert get_kind("wait").pause(call, remaining=1000).seconds == 0
    call, _ = make_call({"id": "nap", "type": "wait", "until": "tomorrow-ish"}, DATA)
    with pytest.raises(StepFailure) as info:
        get_kind("wait").pause(call, remaining=1000)
    assert info.value.code == "invalid_wait"


def test_approval_timeout_is_its_own_capped_by_the_deadline() -> None:
    kind = get_kind("approval")
    call, _ = make_call(
        {
            "id": "ok",
            "type": "approval",
            "prompt": "Refund {{ steps.fetch.json.total }} {{ inputs.currency }}?",
            "timeoutSeconds": 300,
        },
        DATA,
    )
    pause = kind.pause(call, remaining=10_000)
    assert (pause.seconds, pause.prompt) == (300, "Refund 12.5 EUR?")
    assert kind.pause(call, remaining=99.5).seconds == 100
    call, _ = make_call({"id": "ok", "type": "approval", "prompt": "ok?"}, DATA)
    assert kind.pause(call, remaining=3600).seconds == 3600  # no own timeout: the run's


def test_approval_answer_becomes_the_result_and_rejection_fails() -> None:
    kind = get_kind("approval")
    call, logged = make_call({"id": "ok", "type": "approval", "prompt": "ok?"}, DATA)
    answer = {"approved": True, "data": {"user": "ann"}, "comment": "fine"}
    assert kind.resume(call, {}, answer) == answer
    assert logged.lines == [("info", "approved (comment: fine)")]
    with pytest.raises(StepFailure) as info:
        kind.resume(call, {}, {"approved": False, "data": None, "comment": "too much"})
    assert info.value.code == "rejected"
    assert "too much" in info.value.message
