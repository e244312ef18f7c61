"""The dispatcher's Lambda and Step Functions' interpreter calling Python handlers."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest

from runhook_dev.devcloud.testing import create_machine, run_execution, wait_until

pytestmark = pytest.mark.localcloud


class FlakyError(Exception):
    pass


def test_invoke_wire_contract(local_cloud: Any, aws: Any, unique: str) -> None:
    def handler(event: Any, context: Any) -> Any:
        if event.get("fail"):
            raise FlakyError("asked to fail")
        return {"echo": event, "function": context.function_name}

    local_cloud.register_function(f"echo-{unique}", handler)
    ok = aws.lambda_.invoke(FunctionName=f"echo-{unique}", Payload=json.dumps({"a": 1}))
    assert ok["StatusCode"] == 200
    assert "FunctionError" not in ok
    assert json.loads(ok["Payload"].read()) == {"echo": {"a": 1}, "function": f"echo-{unique}"}

    # By ARN too, and an exception is Lambda's Unhandled error with its payload shape.
    failed = aws.lambda_.invoke(
        FunctionName=local_cloud.function_arn(f"echo-{unique}"), Payload=json.dumps({"fail": 1})
    )
    assert failed["StatusCode"] == 200
    assert failed["FunctionError"] == "Unhandled"
    error = json.loads(failed["Payload"].read())
    assert error["errorType"] == "FlakyError"
    assert error["errorMessage"] == "asked to fail"
    assert any("asked to fail" in line or "raise" in line for line in error["stackTrace"])


def test_unknown_function_is_not_found(aws: Any) -> None:
    with pytest.raises(aws.lambda_.exceptions.ResourceNotFoundException):
        aws.lambda_.invoke(FunctionName="no-such-function", Payload=b"{}")


def test_event_invocation_runs_in_background(local_cloud: Any, aws: Any, unique: str) -> None:
    release = threading.Event()
    seen: list[Any] = []

    def slow(event: Any, context: Any) -> None:
        release.wait(5)
        seen.append(event)

    local_cloud.register_function(f"slow-{unique}", slow)
    started = time.monotonic()
    answer = aws.lambda_.invoke(
        FunctionName=f"slow-{unique}", InvocationType="Event", Payload=json.dumps({"n": 1})
    )
    assert answer["StatusCode"] == 202
    assert time.monotonic() - started < 2  # did not wait for the handler
    release.set()
    wait_until(lambda: seen == [{"n": 1}], timeout=5)


def test_state_machine_invokes_python_handler(local_cloud: Any, aws: Any, unique: str) -> None:
    def add(event: Any, context: Any) -> Any:
        return {"sum": event["a"] + event["b"], "remaining": context.get_remaining_time_in_millis()}

    local_cloud.register_function(f"add-{unique}", add)
    machine = create_machine(
        aws.sfn,
        f"add-{unique}",
        {
            "StartAt": "Add",
            "States": {
                "Add": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke",
                    "Parameters": {
                        "FunctionName": local_cloud.function_arn(f"add-{unique}"),
                        "Payload.$": "$",
                    },
                    "ResultSelector": {"sum.$": "$.Payload.sum", "ms.$": "$.Payload.remaining"},
                    "End": True,
                }
            },
        },
    )
    done = run_execution(aws.sfn, machine, {"a": 2, "b": 40})
    assert done["status"] == "SUCCEEDED", done
    output = json.loads(done["output"])
    assert output["sum"] == 42
    assert output["ms"] > 0


def test_retry_then_catch(local_cloud: Any, aws: Any, unique: str) -> None:
    calls: list[float] = []

    def always_fails(event: Any, context: Any) -> Any:
        calls.append(time.monotonic())
        raise FlakyError(f"attempt {len(calls)}")

    local_cloud.register_function(f"fails-{unique}", always_fails)
    machine = create_machine(
        aws.sfn,
        f"retry-{unique}",
        {
            "StartAt": "Work",
            "States": {
                "Work": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke",
                    "Parameters": {
                        "FunctionName": local_cloud.function_arn(f"fails-{unique}"),
                        "Payload.$": "$",
                    },
                    "Retry": [
                        {
                            "ErrorEquals": ["FlakyError"],
                            "IntervalSeconds": 1,
                            "MaxAttempts": 2,
                            "BackoffRate": 1.0,
                        }
                    ],
                    "Catch": [
                        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Caught"}
                    ],
                    "End": True,
                },
                "Caught": {"Type": "Pass", "End": True},
            },
        },
    )
    done = run_execution(aws.sfn, machine, {"order": 7})
    assert done["status"] == "SUCCEEDED", done
    assert len(calls) == 3  # the first attempt and two retries
    assert calls[1] - calls[0] >= 0.9  # IntervalSeconds is honoured
    output = json.loads(done["output"])
    assert output["order"] == 7
    assert output["error"]["Error"] == "FlakyError"
    assert json.loads(output["error"]["Cause"])["errorMessage"] == "attempt 3"


def test_uncaught_error_fails_the_execution(local_cloud: Any, aws: Any, unique: str) -> None:
    def fails(event: Any, context: Any) -> Any:
        raise ValueError("bad input")

    local_cloud.register_function(f"bad-{unique}", fails)
    machine = create_machine(
        aws.sfn,
        f"fail-{unique}",
        {
            "StartAt": "Work",
            "States": {
                "Work": {
                    "Type": "Task",
                    "Resource": local_cloud.function_arn(f"bad-{unique}"),
                    "End": True,
                }
            },
        },
    )
    done = run_execution(aws.sfn, machine, {})
    assert done["status"] == "FAILED"
    assert done["error"] == "ValueError"
