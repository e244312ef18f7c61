"""`RemoteInvoker` (the `--lambda-endpoint` side of the invoke seam) on the shared local cloud:
a function error answered by a Lambda Invoke endpoint behaves like an in-process one.

The endpoint is a real HTTP server (`LoopbackServer`) speaking the Invoke wire contract;
only this test's functions are routed to it (the rest of the shared cloud keeps its
invoker). Checked: the request (path by logical id, RequestResponse, the event as body);
Step Functions' Retry and Catch see the remote `errorType`; an SQS source leaves a failed
batch for redrive (the DLQ gets it); an async invoke is retried; a success answers the
payload; an unreachable endpoint is a `Lambda.ServiceException`; a function registered
with a Python callable (no logical id) still runs in-process.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from runhook_dev.devcloud.invoker import SERVICE_ERROR, FunctionInvoker, RemoteInvoker
from runhook_dev.devcloud.registry import InvokeResult, LocalFunction
from runhook_dev.devcloud.testing import create_machine, drain, run_execution
from tests.support.loopback import Answer, LoopbackServer, Request
from tests.support.polling import eventually

pytestmark = pytest.mark.localcloud

BOOM = {"errorMessage": "boom", "errorType": "RemoteBoom", "stackTrace": []}


class Routed:
    """The test's functions (by logical id) to the endpoint, every other one as before."""

    def __init__(self, remote: FunctionInvoker, previous: FunctionInvoker, ids: set[str]) -> None:
        self.remote, self.previous, self.ids = remote, previous, ids

    def invoke(self, function: LocalFunction, event: Any) -> InvokeResult:
        chosen = self.remote if function.logical_id in self.ids else self.previous
        return chosen.invoke(function, event)

    def describe(self) -> str:
        return "routed"


class LambdaEndpoint(LoopbackServer):
    """Answers every invoke with `answer` (a function error unless told otherwise)."""

    def __init__(self) -> None:
        self.answer: Any = BOOM
        self.error = True
        super().__init__(self._respond)

    def _respond(self, _request: Request) -> Answer:
        headers = {"Content-Type": "application/json"}
        if self.error:
            headers["X-Amz-Function-Error"] = "Unhandled"
        return Answer(200, headers, json.dumps(self.answer).encode())

    def invocations(self) -> list[Request]:
        return [r for r in self.recorded() if r.route.endswith("/invocations")]


@pytest.fixture
def endpoint() -> Iterator[LambdaEndpoint]:
    server = LambdaEndpoint()
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def remote_function(cloud: Any, url: str, *, retries: int = 2) -> Iterator[LocalFunction]:
    """A function known by a logical id (like a template's), invoked at `url`."""
    logical_id = f"Remote{uuid.uuid4().hex[:8]}"
    function = cloud.registry.add(
        LocalFunction(
            name=f"remote-{logical_id.lower()}", handler="app.handler", logical_id=logical_id
        )
    )
    function.async_config.maximum_retry_attempts = retries
    registry = cloud.registry
    previous = registry.invoker
    registry.invoker = Routed(RemoteInvoker(url, registry), previous, {logical_id})
    try:
        yield function
    finally:
        registry.invoker = previous


def test_step_functions_retry_and_catch_a_remote_function_error(
    local_cloud: Any, aws: Any, endpoint: LambdaEndpoint
) -> None:
    with remote_function(local_cloud, endpoint.base_url) as function:
        machine = create_machine(
            aws.sfn,
            f"remote-{uuid.uuid4().hex[:8]}",
            {
                "StartAt": "Call",
                "States": {
                    "Call": {
                        "Type": "Task",
                        "Resource": "arn:aws:states:::lambda:invoke",
                        "Parameters": {"FunctionName": function.arn, "Payload.$": "$"},
                        "Retry": [
                            {"ErrorEquals": ["RemoteBoom"], "IntervalSeconds": 1, "MaxAttempts": 1}
                        ],
                        "Catch": [
                            {
                                "ErrorEquals": ["States.ALL"],
                                "ResultPath": "$.error",
                                "Next": "Caught",
                            }
                        ],
                        "End": True,
                    },
                    "Caught": {"Type": "Pass", "End": True},
                },
            },
        )
        failed = run_execution(aws.sfn, machine, {"n": 1})
        assert failed["status"] == "SUCCEEDED", failed
        assert json.loads(failed["output"])["error"]["Error"] == "RemoteBoom"
        calls = endpoint.invocations()
        assert len(calls) == 2  # the call and its one retry
        for call in calls:
            assert call.route == f"/2015-03-31/functions/{function.logical_id}/invocations"
            assert call.headers["X-Amz-Invocation-Type"] == "RequestResponse"
            assert call.json == {"n": 1}

        endpoint.error, endpoint.answer = False, {"ok": True}
        done = run_execution(aws.sfn, machine, {"n": 2})
        assert done["status"] == "SUCCEEDED", done
        assert json.loads(done["output"])["Payload"] == {"ok": True}
        assert len(endpoint.invocations()) == 3


def test_a_remote_function_error_leaves_the_batch_for_redrive(
    local_cloud: Any, aws: Any, endpoint: LambdaEndpoint
) -> None:
    suffix = uuid.uuid4().hex[:8]
    dlq = aws.sqs.create_queue(QueueName=f"remote-dlq-{suffix}")["QueueUrl"]
    dlq_arn = aws.sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    queue = aws.sqs.create_queue(
        QueueName=f"remote-src-{suffix}",
        Attributes={
            "VisibilityTimeout": "1",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "1"}),
        },
    )["QueueUrl"]
    with remote_function(local_cloud, endpoint.base_url) as function:
        source = local_cloud.add_sqs_event_source(function.name, queue)
        try:
            aws.sqs.send_message(QueueUrl=queue, MessageBody="payload")
            moved = drain(aws.sqs, dlq, 1, timeout=20)
        finally:
            local_cloud.remove_event_source(source)
    assert moved[0]["Body"] == "payload"
    first = endpoint.invocations()[0].json["Records"][0]
    assert first["body"] == "payload"
    assert first["eventSource"] == "aws:sqs"


def test_an_async_invoke_of_a_remote_function_is_retried(
    local_cloud: Any, aws: Any, endpoint: LambdaEndpoint
) -> None:
    with remote_function(local_cloud, endpoint.base_url, retries=1) as function:
        answer = aws.lambda_.invoke(
            FunctionName=function.name, InvocationType="Event", Payload=b'{"a": 1}'
        )
        assert answer["StatusCode"] == 202
        calls = eventually(endpoint.invocations, lambda got: len(got) >= 2, timeout=15)
    assert [c.json for c in calls] == [{"a": 1}, {"a": 1}]


def test_an_unreachable_endpoint_is_a_service_error_and_callables_stay_local(
    local_cloud: Any,
) -> None:
    closed = LoopbackServer(lambda _request: Answer(200))
    url = closed.base_url
    closed.stop()
    invoker = RemoteInvoker(url, local_cloud.registry)
    function = LocalFunction(name="nowhere", handler="app.handler", logical_id="Nowhere")
    result = invoker.invoke(function, {})
    assert result.error
    assert result.error_type == SERVICE_ERROR
    plain = local_cloud.registry.register(
        f"plain-{uuid.uuid4().hex[:8]}", lambda event, _context: {"got": event}
    )
    assert invoker.invoke(plain, 7).payload == {"got": 7}  # no logical id: in-process
    with pytest.raises(ValueError, match="http://host:port"):
        RemoteInvoker("ftp://example", local_cloud.registry)
    with pytest.raises(ValueError, match="bad port"):
        RemoteInvoker("http://127.0.0.1:port", local_cloud.registry)
