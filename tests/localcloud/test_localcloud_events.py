"""SQS event sources (partial batch failures, redrive) and EventBridge rules → Lambda."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest

from runhook_dev.devcloud.testing import (
    create_machine,
    drain,
    run_execution,
    swapped_handler,
    wait_until,
)

pytestmark = pytest.mark.localcloud


def _queue_pair(sqs: Any, name: str, *, visibility: int, max_receive: int) -> tuple[str, str]:
    dlq = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    queue = sqs.create_queue(
        QueueName=name,
        Attributes={
            "VisibilityTimeout": str(visibility),
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive}
            ),
        },
    )["QueueUrl"]
    return queue, dlq


def test_partial_batch_failure_reaches_the_dlq(local_cloud: Any, aws: Any, unique: str) -> None:
    """Good messages are deleted once; the failed one is retried, then dead-lettered.

    The queue's visibility timeout is 30 s: the failed message only comes back quickly
    because the handler shortens its visibility with ChangeMessageVisibility (what the
    webhook sender does for its backoff).
    """
    sqs = aws.sqs
    queue, dlq = _queue_pair(sqs, f"lc-batch-{unique}", visibility=30, max_receive=2)
    lock = threading.Lock()
    processed: list[str] = []
    bad_receives: list[str] = []
    records: list[dict[str, Any]] = []

    def handler(event: Any, context: Any) -> Any:
        failures = []
        for record in event["Records"]:
            with lock:
                records.append(record)
            if record["body"] == "bad":
                bad_receives.append(record["attributes"]["ApproximateReceiveCount"])
                sqs.change_message_visibility(
                    QueueUrl=queue, ReceiptHandle=record["receiptHandle"], VisibilityTimeout=1
                )
                failures.append({"itemIdentifier": record["messageId"]})
            else:
                with lock:
                    processed.append(record["body"])
        return {"batchItemFailures": failures}

    local_cloud.register_function(f"batch-{unique}", handler)
    source = local_cloud.add_sqs_event_source(
        f"batch-{unique}", queue, batch_size=10, report_batch_item_failures=True
    )
    try:
        sqs.send_message_batch(
            QueueUrl=queue,
            Entries=[
                {
                    "Id": "1",
                    "MessageBody": "good-1",
                    "MessageAttributes": {"kind": {"DataType": "String", "StringValue": "test"}},
                },
                {"Id": "2", "MessageBody": "bad"},
                {"Id": "3", "MessageBody": "good-2"},
            ],
        )
        dead = drain(sqs, dlq, expected=1, timeout=20)
    finally:
        local_cloud.remove_event_source(source)

    assert dead[0]["Body"] == "bad"
    assert sorted(processed) == ["good-1", "good-2"]  # each exactly once
    assert bad_receives == ["1", "2"]  # maxReceiveCount receives, then the DLQ
    attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "0"
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "0"

    # Lambda's SQS event shape.
    first = next(r for r in records if r["body"] == "good-1")
    assert first["eventSource"] == "aws:sqs"
    assert first["eventSourceARN"].endswith(f":lc-batch-{unique}")
    assert first["awsRegion"] == "us-east-1"
    assert first["messageId"] and first["receiptHandle"] and first["md5OfBody"]
    assert first["attributes"]["ApproximateReceiveCount"] == "1"
    assert "SentTimestamp" in first["attributes"]
    assert first["messageAttributes"]["kind"]["stringValue"] == "test"
    assert first["messageAttributes"]["kind"]["dataType"] == "String"


def test_failed_invocation_leaves_the_whole_batch(local_cloud: Any, aws: Any, unique: str) -> None:
    sqs = aws.sqs
    queue, dlq = _queue_pair(sqs, f"lc-crash-{unique}", visibility=1, max_receive=5)
    attempts: list[list[str]] = []

    def handler(event: Any, context: Any) -> Any:
        attempts.append(sorted(r["body"] for r in event["Records"]))
        if len(attempts) == 1:
            raise RuntimeError("crash on the first batch")
        return None

    local_cloud.register_function(f"crash-{unique}", handler)
    sqs.send_message_batch(
        QueueUrl=queue,
        Entries=[{"Id": "1", "MessageBody": "m1"}, {"Id": "2", "MessageBody": "m2"}],
    )
    source = local_cloud.add_sqs_event_source(f"crash-{unique}", queue, batch_size=10)
    try:
        wait_until(lambda: sum(len(a) for a in attempts) >= 4, timeout=15)
        wait_until(
            lambda: (
                sqs.get_queue_attributes(
                    QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
                )["Attributes"]["ApproximateNumberOfMessagesNotVisible"]
                == "0"
            ),
            timeout=5,
        )
    finally:
        local_cloud.remove_event_source(source)
    assert attempts[0] == ["m1", "m2"]
    assert sorted(b for batch in attempts[1:] for b in batch) == ["m1", "m2"]
    assert "Messages" not in sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=0)


def test_rule_delivers_to_a_lambda_through_the_shim(
    local_cloud: Any, aws: Any, unique: str
) -> None:
    events = aws.events
    received: list[dict[str, Any]] = []

    def handler(event: Any, context: Any) -> None:
        received.append(event)

    local_cloud.register_function(f"on-thing-{unique}", handler)
    rule = f"lc-rule-{unique}"
    events.put_rule(
        Name=rule,
        EventBusName=local_cloud.bus_name,
        EventPattern=json.dumps(
            {"source": [f"test.{unique}"], "detail-type": [{"prefix": "thing."}]}
        ),
    )
    source = local_cloud.add_rule_target(rule, f"on-thing-{unique}", bus_name=local_cloud.bus_name)
    try:
        answer = events.put_events(
            Entries=[
                {
                    "Source": f"test.{unique}",
                    "DetailType": "thing.happened",
                    "Detail": json.dumps({"n": 1}),
                    "EventBusName": local_cloud.bus_name,
                },
                {  # does not match the pattern
                    "Source": f"test.{unique}",
                    "DetailType": "other.happened",
                    "Detail": json.dumps({"n": 2}),
                    "EventBusName": local_cloud.bus_name,
                },
            ]
        )
        assert answer["FailedEntryCount"] == 0
        wait_until(lambda: received, timeout=10)
        time.sleep(0.5)
    finally:
        local_cloud.remove_event_source(source)
    assert len(received) == 1
    event = received[0]
    assert event["detail"] == {"n": 1}
    assert event["detail-type"] == "thing.happened"
    assert event["source"] == f"test.{unique}"
    assert event["account"] == "123456789012"
    assert event["region"] == "us-east-1"


def test_async_retries_then_on_failure_destination(local_cloud: Any, aws: Any, unique: str) -> None:
    sqs = aws.sqs
    destination = sqs.create_queue(QueueName=f"lc-onfailure-{unique}")["QueueUrl"]
    destination_arn = f"arn:aws:sqs:us-east-1:123456789012:lc-onfailure-{unique}"
    calls: list[Any] = []

    def handler(event: Any, context: Any) -> None:
        calls.append(event)
        raise RuntimeError("always")

    local_cloud.register_function(
        f"always-{unique}", handler, maximum_retry_attempts=1, on_failure_arn=destination_arn
    )
    rule = f"lc-fail-rule-{unique}"
    aws.events.put_rule(Name=rule, EventPattern=json.dumps({"source": [f"fail.{unique}"]}))
    source = local_cloud.add_rule_target(rule, f"always-{unique}")
    try:
        aws.events.put_events(
            Entries=[{"Source": f"fail.{unique}", "DetailType": "x", "Detail": "{}"}]
        )
        record = json.loads(drain(sqs, destination, expected=1, timeout=15)[0]["Body"])
    finally:
        local_cloud.remove_event_source(source)
    assert len(calls) == 2  # the attempt and one retry (MaximumRetryAttempts: 1)
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["requestContext"]["functionArn"].endswith(f":always-{unique}:$LATEST")
    assert record["requestPayload"]["source"] == f"fail.{unique}"
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["responsePayload"]["errorType"] == "RuntimeError"


def test_failed_execution_emits_status_change_event(
    local_cloud: Any, aws: Any, unique: str
) -> None:
    """moto emits no Step Functions status-change events; the local cloud does."""
    received: list[dict[str, Any]] = []
    local_cloud.register_function(f"status-{unique}", lambda event, context: received.append(event))
    machine = create_machine(
        aws.sfn,
        f"doomed-{unique}",
        {"StartAt": "Fail", "States": {"Fail": {"Type": "Fail", "Error": "Boom", "Cause": "x"}}},
    )
    rule = f"lc-status-{unique}"
    aws.events.put_rule(
        Name=rule,
        EventPattern=json.dumps(
            {
                "source": ["aws.states"],
                "detail-type": ["Step Functions Execution Status Change"],
                "detail": {"status": ["FAILED"], "stateMachineArn": [machine]},
            }
        ),
    )
    source = local_cloud.add_rule_target(rule, f"status-{unique}")
    local_cloud.watch_state_machine(machine)  # the template's machines are watched already
    try:
        done = run_execution(aws.sfn, machine, {"k": 1})
        assert done["status"] == "FAILED"
        wait_until(lambda: received, timeout=10)
    finally:
        local_cloud.remove_event_source(source)
    detail = received[0]["detail"]
    assert detail["status"] == "FAILED"
    assert detail["executionArn"] == done["executionArn"]
    assert detail["stateMachineArn"] == machine
    assert detail["error"] == "Boom"


def test_template_wiring_sqs_and_rules(local_cloud: Any, aws: Any) -> None:
    """The template's own event sources reach its functions (handlers swapped for probes)."""
    deployment = local_cloud.deployment
    send = next(s for s in deployment.sqs_sources if s.function.endswith("-webhook-send"))
    assert send.report_batch_item_failures
    dispatch_shim = next(
        s for s in deployment.rule_shims if s.function.endswith("-webhook-dispatch")
    )
    assert dispatch_shim.bus_name == local_cloud.bus_name

    batches: list[Any] = []
    dispatched: list[Any] = []

    def original(name: str) -> Any:
        try:
            return local_cloud.registry.get(name).load()
        except Exception:
            return None

    send_original = original(send.function)
    dispatch_original = original(dispatch_shim.function)

    # The cloud is shared with the other tests of this worker: the probe can share its SQS
    # batch with their leftover deliveries (a full run once gave it 3 stale ones, which the
    # real send function then reported with the probe as malformed). The probe's records are
    # recorded; everything else goes to the real code.
    def sqs_probe(event: Any, context: Any) -> Any:
        records = event.get("Records") or []
        probes = [r for r in records if r.get("body") == '{"probe": true}']
        others = [r for r in records if r.get("body") != '{"probe": true}']
        if probes:
            batches.append({**event, "Records": probes})
        if others and send_original:
            return send_original({**event, "Records": others}, context)
        return {}

    def bus_probe(event: Any, context: Any) -> Any:
        if event.get("detail-type") == "task-run.probe":
            dispatched.append(event)
            return {}
        return dispatch_original(event, context) if dispatch_original else {}

    with (
        swapped_handler(local_cloud, send.function, sqs_probe),
        swapped_handler(local_cloud, dispatch_shim.function, bus_probe),
    ):
        aws.sqs.send_message(QueueUrl=send.queue_url, MessageBody='{"probe": true}')
        aws.events.put_events(
            Entries=[
                {
                    "Source": "runhook",
                    "DetailType": "task-run.probe",
                    "Detail": json.dumps({"runId": "probe"}),
                    "EventBusName": local_cloud.bus_name,
                }
            ]
        )
        wait_until(lambda: batches and dispatched, timeout=10)
    assert batches[0]["Records"][0]["eventSourceARN"] == send.queue_arn
    assert dispatched[0]["detail"] == {"runId": "probe"}
