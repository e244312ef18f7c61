"""Executions of one state machine share its built program (`_motofast.cache_asl_programs`)
and still keep their own state: concurrent executions retry on their own counters."""

from __future__ import annotations

import json
import threading
from collections import Counter
from typing import Any

import pytest

from runhook_dev.devcloud.testing import create_machine, run_execution

pytestmark = pytest.mark.localcloud

EXECUTIONS = 4


class FlakyError(Exception):
    pass


def test_concurrent_executions_of_one_machine_retry_on_their_own_counters(
    local_cloud: Any, aws: Any, unique: str
) -> None:
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    calls: Counter[int] = Counter()
    lock = threading.Lock()

    def fails_twice_per_order(event: Any, context: Any) -> Any:
        with lock:
            calls[event["order"]] += 1
            attempt = calls[event["order"]]
        if attempt <= 2:
            raise FlakyError(f"order {event['order']}, attempt {attempt}")
        return {"order": event["order"], "attempts": attempt}

    local_cloud.register_function(f"flaky-{unique}", fails_twice_per_order)
    definition = {
        "StartAt": "Work",
        "States": {
            "Work": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {
                    "FunctionName": local_cloud.function_arn(f"flaky-{unique}"),
                    "Payload.$": "$",
                },
                "ResultSelector": {"answer.$": "$.Payload"},
                # Exactly enough attempts for each execution: a counter shared between
                # executions would run out before all of them succeed.
                "Retry": [
                    {
                        "ErrorEquals": ["FlakyError"],
                        "IntervalSeconds": 1,
                        "MaxAttempts": 2,
                        "BackoffRate": 1.0,
                    }
                ],
                "End": True,
            }
        },
    }
    machine = create_machine(aws.sfn, f"shared-{unique}", definition)
    results: dict[int, dict[str, Any]] = {}

    def execute(order: int) -> None:
        results[order] = run_execution(aws.sfn, machine, {"order": order}, timeout=60)

    threads = [threading.Thread(target=execute, args=(n,)) for n in range(EXECUTIONS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)

    assert sorted(results) == list(range(EXECUTIONS))
    for order, done in results.items():
        assert done["status"] == "SUCCEEDED", done
        assert json.loads(done["output"])["answer"] == {"order": order, "attempts": 3}
    assert dict(calls) == {n: 3 for n in range(EXECUTIONS)}
    # ... and they ran one program, built once (what the dispatcher's moto was given).
    text = aws.sfn.describe_state_machine(stateMachineArn=machine)["definition"]
    assert AmazonStateLanguageParser.parse(text)[0] is AmazonStateLanguageParser.parse(text)[0]
