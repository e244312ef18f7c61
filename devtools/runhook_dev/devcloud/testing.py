"""Test helpers for code that runs against the local cloud (pytest fixtures use them).

`LocalAws` gives boto3 clients pointed at a `LocalCloud`; the functions wait for
executions, conditions and messages without sleeping longer than needed.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

ROLE = "arn:aws:iam::123456789012:role/runhook-local-tests"


@dataclass
class LocalAws:
    """boto3 pointed at a local cloud: `aws.client("sqs")`, `aws.sqs`, `aws.session`."""

    cloud: Any

    @property
    def endpoint_url(self) -> str:
        return str(self.cloud.aws_endpoint_url)

    @property
    def session(self) -> Any:
        return self.cloud.session()

    def client(self, service: str) -> Any:
        return self.cloud.client(service)

    @property
    def dynamodb(self) -> Any:
        return self.client("dynamodb")

    @property
    def sqs(self) -> Any:
        return self.client("sqs")

    @property
    def sfn(self) -> Any:
        return self.client("stepfunctions")

    @property
    def events(self) -> Any:
        return self.client("events")

    @property
    def lambda_(self) -> Any:
        return self.client("lambda")


@contextmanager
def swapped_handler(cloud: Any, name: str, handler: Callable[[Any, Any], Any]) -> Iterator[None]:
    """Run `handler` instead of a deployed function's own code, for the block."""
    function = cloud.registry.get(name)
    assert function is not None, f"{name} is not deployed"
    saved = function.func
    function.func = handler
    try:
        yield
    finally:
        function.func = saved


def run_execution(
    sfn: Any, machine_arn: str, payload: Any, timeout: float = 20.0
) -> dict[str, Any]:
    """Start an execution (always named: moto names unnamed ones `None`) and wait for its end."""
    name = uuid.uuid4().hex
    arn = sfn.start_execution(stateMachineArn=machine_arn, name=name, input=json.dumps(payload))[
        "executionArn"
    ]
    deadline = time.monotonic() + timeout
    while True:
        described: dict[str, Any] = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            return described
        assert time.monotonic() < deadline, f"execution {name} still RUNNING after {timeout} s"
        time.sleep(0.05)


def create_machine(sfn: Any, name: str, definition: dict[str, Any]) -> str:
    return str(
        sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=ROLE)[
            "stateMachineArn"
        ]
    )


def wait_until(predicate: Callable[[], Any], timeout: float = 15.0, interval: float = 0.05) -> Any:
    """Poll `predicate` until it returns something truthy, and return that."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(interval)


def drain(sqs: Any, queue_url: str, expected: int, timeout: float = 15.0) -> list[dict[str, Any]]:
    """Receive (and delete) until `expected` messages came, or fail."""
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(got) < expected:
        assert time.monotonic() < deadline, f"only {len(got)} of {expected} messages arrived"
        answer = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=1,
            AttributeNames=["All"],
        )
        for message in answer.get("Messages") or []:
            got.append(message)
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return got
