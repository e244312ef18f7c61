"""The recorder's hooks on real botocore clients (stubbed responses, no network)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from benchmarks import calls
from benchmarks.calls import CallRecorder


@pytest.fixture()
def recorder() -> Iterator[CallRecorder]:
    rec = CallRecorder()
    rec.install()
    try:
        yield rec
    finally:
        rec.uninstall()


def _client(service: str) -> Any:
    session = boto3.session.Session(
        aws_access_key_id="x", aws_secret_access_key="x", region_name="us-east-1"
    )
    return session.client(service)


def test_dynamodb_calls_ask_for_capacity_and_are_recorded(recorder: CallRecorder) -> None:
    ddb = _client("dynamodb")
    key = {"pk": {"S": "a"}, "sk": {"S": "b"}}
    with Stubber(ddb) as stub:
        stub.add_response(
            "get_item",
            {"Item": key, "ConsumedCapacity": {"TableName": "t", "CapacityUnits": 0.5}},
        )
        stub.add_client_error(
            "update_item",
            service_error_code="ConditionalCheckFailedException",
            http_status_code=400,
        )
        stub.add_response("get_item", {"Item": key})
        recorder.keep_params = {"GetItem"}
        with recorder.recording() as recording:
            ddb.get_item(TableName="t", Key=key)
            with pytest.raises(ddb.exceptions.ConditionalCheckFailedException):
                ddb.update_item(TableName="t", Key=key, UpdateExpression="SET a = :a")
        ddb.get_item(TableName="t", Key=key)  # not recording: untouched, not recorded
    # The request asked for capacity while recording, and only then.
    asked = [params.get("ReturnConsumedCapacity") for _, params in recorder.kept]
    assert asked == ["INDEXES", None]
    read, refused = recording.calls
    assert (read.service, read.operation, read.read_units) == ("dynamodb", "GetItem", 0.5)
    assert read.capacity_reported and read.ok and read.origin == calls.OTHER
    assert refused.operation == "UpdateItem" and not refused.ok
    assert refused.error_code == "ConditionalCheckFailedException"
    assert refused.write_units == 1.0 and not refused.capacity_reported


def test_ignored_calls_are_the_drivers(recorder: CallRecorder) -> None:
    sqs = _client("sqs")
    with Stubber(sqs) as stub:
        stub.add_response("receive_message", {"Messages": []})
        stub.add_response("receive_message", {"Messages": [{"Body": "x"}]})
        with recorder.recording() as recording:
            with CallRecorder.ignored():
                sqs.receive_message(QueueUrl="https://q/1/a")
            sqs.receive_message(QueueUrl="https://q/1/a")
    driver, counted = recording.calls
    assert driver.origin == calls.DRIVER and driver.returned == 0
    assert counted.origin == calls.OTHER and counted.returned == 1


def test_registry_invocations_are_timed_and_mark_their_calls(recorder: CallRecorder) -> None:
    events = _client("events")

    class Result:
        error = False

    class Registry:
        def invoke(self, function: Any, event: Any) -> Result:
            events.put_events(Entries=[{"Source": "runhook", "DetailType": "t", "Detail": "{}"}])
            return Result()

    class Function:
        name = "runhook-local-step"
        memory_mb = 512

    registry = Registry()
    recorder.wrap_registry(registry)
    with Stubber(events) as stub:
        stub.add_response("put_events", {"FailedEntryCount": 0, "Entries": [{"EventId": "1"}]})
        with recorder.recording() as recording:
            registry.invoke(Function(), {})
    (invocation,) = recording.invocations
    assert invocation.function == "runhook-local-step" and invocation.memory_mb == 512
    assert not invocation.error and invocation.duration_ms >= 0
    (put,) = recording.calls
    assert put.origin == calls.FUNCTION and put.chunks == 1 and put.detail == "runhook"


def test_asgi_wrapper_counts_requests_but_not_ignored_ones(recorder: CallRecorder) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 202, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    wrapped = recorder.asgi(app)

    async def call(headers: list[tuple[bytes, bytes]]) -> None:
        scope = {"type": "http", "method": "POST", "path": "/runs", "headers": headers}

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b""}

        async def send(message: Any) -> None:
            return None

        await wrapped(scope, receive, send)

    with recorder.recording() as recording:
        asyncio.run(call([]))
        asyncio.run(call([(calls.IGNORE_HEADER.encode(), b"1")]))
    (request,) = recording.api_requests
    assert (request.method, request.path, request.status) == ("POST", "/runs", 202)
