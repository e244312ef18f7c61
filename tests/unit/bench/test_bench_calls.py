"""Counting AWS calls: origins, capacity, billing chunks, and usage per run."""

from __future__ import annotations

import math

import pytest

from benchmarks import calls
from benchmarks.calls import (
    ApiRequest,
    Call,
    Invocation,
    Recording,
    by_operation,
    classify,
    state_transitions,
    usage,
)


def test_classify_origins() -> None:
    def origin(**kw: object) -> str:
        base: dict[str, object] = {
            "ignored": False,
            "client_origin": None,
            "thread_name": "Thread-1",
            "current": None,
        }
        base.update(kw)
        return classify(**base)  # type: ignore[arg-type]

    assert origin(ignored=True, current="api:/x") == calls.DRIVER
    assert origin(client_origin=calls.STEPFUNCTIONS) == calls.STEPFUNCTIONS
    assert origin(thread_name="sfn-status-events") == calls.LOCAL
    assert origin(thread_name="poller-rule:bus-rule->fn-0") == calls.LOCAL
    assert origin(queue_url="http://x/123/runhook-local-shim-rule") == calls.LOCAL
    assert origin(detail="aws.states") == calls.LOCAL
    assert origin(current="api:/public/v1/tasks") == calls.API
    assert origin(current="function:runhook-local-step") == calls.FUNCTION
    assert origin(thread_name="poller-fn.Deliveries-0") == calls.ESM
    assert origin(thread_name="webhook-send_3") == calls.FUNCTION
    assert origin() == calls.OTHER


def test_capacity_and_chunks() -> None:
    assert calls.capacity({"CapacityUnits": 2.5}) == 2.5
    assert calls.capacity([{"CapacityUnits": 1.0}, {"CapacityUnits": 3.0}]) == 4.0
    assert calls.capacity(None) == 0.0
    assert calls.chunks(0) == 1
    assert calls.chunks(64 * 1024) == 1
    assert calls.chunks(64 * 1024 + 1) == 2
    transact = {"TransactItems": [{"Put": {}}, {"Put": {}}, {"Update": {}}]}
    assert calls.write_items("TransactWriteItems", transact) == 3
    assert calls.write_items("BatchWriteItem", {"RequestItems": {"t": [1, 2], "u": [3]}}) == 3
    assert calls.write_items("PutItem", {}) == 1
    assert calls.refused_write_units("TransactWriteItems", 3) == 6.0
    assert calls.refused_write_units("UpdateItem", 1) == 1.0


def test_payload_size_counts_entries_and_chunks() -> None:
    big = "x" * (70 * 1024)
    assert calls.payload_size("sqs", "SendMessage", {"MessageBody": big}) == (1, 2)
    batch = {"Entries": [{"MessageBody": "a"}, {"MessageBody": "b"}]}
    assert calls.payload_size("sqs", "SendMessageBatch", batch) == (2, 1)
    events = {"Entries": [{"Detail": "{}", "DetailType": "t"}, {"Detail": big, "DetailType": "t"}]}
    assert calls.payload_size("events", "PutEvents", events) == (2, 3)
    assert calls.payload_size("dynamodb", "GetItem", {}) == (0, 1)


def test_priced_call_reads_units_items_and_chunks_from_the_response() -> None:
    transact: dict[str, object] = {"TransactItems": [{"Put": {}}, {"Update": {}}]}
    reported = calls.priced_call(
        "dynamodb",
        "TransactWriteItems",
        transact,
        {"ConsumedCapacity": [{"CapacityUnits": 4.0}, {"CapacityUnits": 2.0}]},
        status=200,
        origin=calls.FUNCTION,
    )
    assert (reported.write_units, reported.read_units, reported.items) == (6.0, 0.0, 2)
    assert reported.capacity_reported and reported.ok and reported.origin == calls.FUNCTION
    refused = calls.priced_call(
        "dynamodb",
        "TransactWriteItems",
        transact,
        {"Error": {"Code": "TransactionCanceledException"}},
        status=400,
        origin=calls.API,
    )
    assert (refused.write_units, refused.items, refused.capacity_reported) == (4.0, 2, False)
    assert not refused.ok and refused.error_code == "TransactionCanceledException"
    read = calls.priced_call("dynamodb", "Query", {}, {}, status=200, origin=calls.API)
    assert (read.read_units, read.write_units, read.items) == (0.5, 0.0, 0)
    other = calls.priced_call("dynamodb", "DescribeTable", {}, {}, status=200, origin=calls.API)
    assert (other.read_units, other.write_units, other.items) == (0.0, 0.0, 0)
    body = "x" * (70 * 1024)
    received = calls.priced_call(
        "sqs",
        "ReceiveMessage",
        {"QueueUrl": "q"},
        {"Messages": [{"Body": body}, {"Body": "y"}]},
        status=200,
        origin=calls.ESM,
    )
    assert (received.returned, received.chunks) == (2, 2)
    failed = calls.priced_call("sqs", "ReceiveMessage", {}, {}, status=500, origin=calls.ESM)
    assert failed.returned is None and failed.error_code == "500"
    entries = {"Entries": [{"Source": "runhook", "Detail": "{}"}, {"Source": "aws.states"}]}
    assert calls.put_events_sources("events", "PutEvents", entries) == "aws.states,runhook"
    assert calls.put_events_sources("sqs", "SendMessage", entries) == ""


def test_by_operation_leaves_out_local_and_driver_calls() -> None:
    recorded = [
        Call("dynamodb", "GetItem", calls.FUNCTION, read_units=0.5, capacity_reported=True),
        Call("dynamodb", "GetItem", calls.API, read_units=1.0, capacity_reported=True),
        Call("dynamodb", "GetItem", calls.DRIVER, read_units=9.0),
        Call("sqs", "ReceiveMessage", calls.LOCAL, returned=1),
        Call("sqs", "ReceiveMessage", calls.ESM, returned=0),
        Call("dynamodb", "UpdateItem", calls.FUNCTION, ok=False, write_units=1.0, items=1),
    ]
    totals = by_operation(recorded)
    assert totals[("dynamodb", "GetItem")].calls == 2
    assert totals[("dynamodb", "GetItem")].read_units == 1.5
    assert totals[("sqs", "ReceiveMessage")].calls == 1
    assert totals[("sqs", "ReceiveMessage")].empty == 1
    update = totals[("dynamodb", "UpdateItem")]
    assert update.errors == 1 and update.estimated_units == 1.0


def test_usage_turns_a_recording_into_billed_units() -> None:
    recording = Recording(
        calls=[
            Call(
                "dynamodb", "TransactWriteItems", calls.API, write_units=6.0, capacity_reported=True
            ),
            Call("dynamodb", "GetItem", calls.FUNCTION, read_units=0.5, capacity_reported=True),
            Call("dynamodb", "UpdateItem", calls.FUNCTION, ok=False, write_units=1.0),
            Call("dynamodb", "Query", calls.DRIVER, read_units=50.0, capacity_reported=True),
            Call("events", "PutEvents", calls.FUNCTION, items=2, chunks=2),
            Call("events", "PutEvents", calls.LOCAL, items=1, chunks=1),
            Call("sqs", "SendMessageBatch", calls.FUNCTION, items=3, chunks=1),
            Call("sqs", "ReceiveMessage", calls.ESM, returned=3, chunks=1),
            Call("sqs", "ReceiveMessage", calls.ESM, returned=0),
            Call("sqs", "DeleteMessageBatch", calls.ESM, items=3),
            Call("sqs", "ReceiveMessage", calls.LOCAL, returned=1),
            Call("stepfunctions", "StartExecution", calls.API),
            Call("lambda", "Invoke", calls.STEPFUNCTIONS),
        ],
        invocations=[
            Invocation("step", 512, 99.2),  # billed 100 ms
            Invocation("send", 512, 0.4),  # billed 1 ms
        ],
        api_requests=[ApiRequest("POST", "/public/v1/tasks/t/runs", 202, 19.5)],  # 20 ms
        log_bytes=1000,
    )
    result = usage(
        recording, transitions=3, api_memory_mb=1024, platform_log_bytes_per_invocation=100
    )
    assert result.dynamodb_wru == 7.0
    assert result.dynamodb_rru == 0.5
    assert result.dynamodb_estimated == 1.0
    assert result.eventbridge_events == 2
    assert result.sqs_requests == 3  # send batch, receive with messages, delete batch
    assert result.sqs_idle_receives == 1
    assert result.sfn_transitions == 3
    assert result.lambda_requests == 3  # two workers + one API request
    assert result.api_requests == 1
    expected = 0.100 * 0.5 + 0.001 * 0.5 + 0.020 * 1.0
    assert result.lambda_gb_seconds == pytest.approx(expected)
    assert result.log_bytes == 1000 + 3 * 100


def test_lambda_duration_rounds_up_to_the_millisecond() -> None:
    assert calls.billed_ms(0.01) == 1
    assert calls.billed_ms(10.0) == 10
    assert calls.billed_ms(10.2) == 11
    assert calls.gb_seconds(1000, 1024) == 1.0
    assert calls.gb_seconds(500, 512) == 0.25


def test_state_transitions_count_entered_states() -> None:
    history = [
        {"type": "ExecutionStarted"},
        {"type": "TaskStateEntered"},
        {"type": "TaskStateExited"},
        {"type": "ChoiceStateEntered"},
        {"type": "ChoiceStateExited"},
        {"type": "SucceedStateEntered"},
        {"type": "ExecutionSucceeded"},
    ]
    assert state_transitions(history) == 3
    assert state_transitions([]) == 0


def test_usage_scales() -> None:
    one = calls.Usage(sfn_transitions=3, dynamodb_wru=2.5, api_requests=1)
    assert one.scaled(2).sfn_transitions == 6
    assert one.scaled(2).dynamodb_wru == 5.0


def test_cpu_estimate_stretches_cpu_time_to_lambdas_share() -> None:
    assert calls.cpu_on_lambda_ms(10.0, 1769) == 10.0
    assert calls.cpu_on_lambda_ms(10.0, 3538) == 10.0  # never faster than one core
    assert calls.cpu_on_lambda_ms(10.0, 512) == pytest.approx(10.0 * 1769 / 512)
    recording = Recording(
        invocations=[Invocation("step", 512, duration_ms=900.0, cpu_ms=50.0)],
        api_requests=[ApiRequest("POST", "/x", 202, 20.0)],
    )
    result = usage(recording, transitions=0, api_memory_mb=1024)
    stretched = math.ceil(50.0 * 1769 / 512) / 1000 * 0.5
    assert result.lambda_gb_seconds_cpu == pytest.approx(stretched + 0.020)
    assert result.lambda_gb_seconds == pytest.approx(0.9 * 0.5 + 0.020)
