"""Event source mappings, locally: threads that poll SQS and invoke functions.

- `SqsEventSource`: an SQS-triggered function (SAM ``Events`` of Type SQS). Batches
  of up to BatchSize messages in Lambda's SQS event shape; a successful batch is
  deleted; with ``ReportBatchItemFailures`` only the reported items stay; a failed
  invocation leaves the whole batch. Messages left in the queue come back after
  their visibility timeout (or what the handler set with ChangeMessageVisibility),
  and moto moves them to the DLQ once they were received ``maxReceiveCount`` times.
- `RuleShim`: an EventBridge rule with a Lambda target is delivered through an SQS
  queue (moto's PutEvents fails on Lambda targets); each event is handed to the
  `AsyncInvoker` (retries, then the on-failure destination).

Idle, a poller costs nothing: with a `Channel` (activity.py) it receives without a long
poll and then waits for the dispatcher to say the queue got a message (or that one becomes
visible: a delay, a visibility timeout), backing off from `wait_seconds` to `IDLE_CAP`
seconds as a safety net. A batch that failed wakes the poller again when its messages
come back (the queue's visibility timeout). Without a channel it long-polls moto.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from runhook_dev.devcloud.activity import Channel
from runhook_dev.devcloud.async_invoke import AsyncInvoker
from runhook_dev.devcloud.cfn import ACCOUNT_ID, REGION
from runhook_dev.devcloud.registry import FunctionRegistry, LocalFunction

log = logging.getLogger("devcloud.pollers")

ClientFactory = Callable[[str], Any]

# How long a worker waits without a wake-up before it looks anyway: a safety net for
# messages that become readable without a request through the dispatcher (a message that a
# tool received comes back after its visibility timeout, a handler outlived its receipt).
# One worker of each poller, the lead, keeps the short net (it ramps 1, 2, 4 ... s after
# activity, up to LEAD_IDLE_CAP), so a missed wake-up is found as soon as it always was;
# the others wait for wake-ups, looking only every IDLE_CAP. At 20 s for every worker the
# 22 idle pollers' workers made ~1 request a second, a third of the idle local cloud's CPU.
LEAD_IDLE_CAP = 20.0
IDLE_CAP = 60.0


def _message_attributes(raw: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in (raw or {}).items():
        item: dict[str, Any] = {
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": value.get("DataType", "String"),
        }
        if "StringValue" in value:
            item["stringValue"] = value["StringValue"]
        if "BinaryValue" in value:
            item["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode()
        out[name] = item
    return out


def sqs_record(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    """One record of Lambda's SQS event, from a ReceiveMessage message."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": dict(message.get("Attributes") or {}),
        "messageAttributes": _message_attributes(message.get("MessageAttributes") or {}),
        "md5OfBody": message.get("MD5OfBody", ""),
        **(
            {"md5OfMessageAttributes": message["MD5OfMessageAttributes"]}
            if "MD5OfMessageAttributes" in message
            else {}
        ),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": REGION,
    }


@dataclass
class Poller:
    """Worker threads that long-poll one queue and `handle` what they receive."""

    client: ClientFactory
    queue_url: str
    name: str
    workers: int = 1
    wait_seconds: int = 1
    wake: Channel | None = None  # None: long-poll moto instead of waiting for a wake-up
    lead_idle_cap: float = LEAD_IDLE_CAP  # the safety nets (see LEAD_IDLE_CAP)
    idle_cap: float = IDLE_CAP

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._visibility_timeout: float | None = None

    def start(self) -> None:
        for index in range(self.workers):
            thread = threading.Thread(
                target=self._loop,
                args=(index == 0,),
                name=f"poller-{self.name}-{index}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        if self.wake is not None:
            self.wake.notify()

    def join(self, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _loop(self, lead: bool = True) -> None:
        sqs = self.client("sqs")
        backoff = 0.5
        first_wait = float(max(1, self.wait_seconds))
        cap = self.lead_idle_cap if lead else self.idle_cap
        # Before any activity only the lead ramps; the others wait for a wake-up.
        idle = first_wait if lead else cap
        while not self._stop.is_set():
            generation = self.wake.generation() if self.wake is not None else 0
            try:
                messages = self._receive(sqs)
            except Exception as exc:
                if self._stop.is_set():
                    return
                log.warning("%s: receive failed: %s", self.name, exc)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            backoff = 0.5
            if self._stop.is_set():
                return
            if not messages:
                if self.wake is not None:  # wait for a wake-up, backing off to the cap
                    woken = self.wake.wait(generation, idle)
                    idle = first_wait if woken else min(idle * 2, cap)
                continue
            idle = first_wait
            if self.wake is not None and len(messages) >= self._batch_limit():
                # A full batch that may have come without a wake-up (the safety net found
                # it): there may be more, so another worker looks too.
                self.wake.notify(1)
            try:
                self.handle(sqs, messages)
            except Exception as exc:
                log.exception("%s: poller failed on a batch: %s", self.name, exc)
                self.redelivery_due(sqs)

    def _batch_limit(self) -> int:
        """The most messages one receive returns (ReceiveMessage allows at most 10)."""
        return 10

    def _wait_time(self) -> int:
        """ReceiveMessage's WaitTimeSeconds: 0 when a wake-up tells of new messages."""
        return 0 if self.wake is not None else self.wait_seconds

    def redelivery_due(self, sqs: Any) -> None:
        """Messages of a failed batch come back after the visibility timeout: be awake."""
        if self.wake is None:
            return
        if self._visibility_timeout is None:
            try:
                attributes = sqs.get_queue_attributes(
                    QueueUrl=self.queue_url, AttributeNames=["VisibilityTimeout"]
                )["Attributes"]
                self._visibility_timeout = float(attributes.get("VisibilityTimeout", 30))
            except Exception as exc:
                log.debug("%s: no visibility timeout: %s", self.name, exc)
                return
        self.wake.notify_at(time.monotonic() + self._visibility_timeout)

    def _receive(self, sqs: Any) -> list[dict[str, Any]]:
        raise NotImplementedError

    def _delete(self, sqs: Any, messages: list[dict[str, Any]]) -> None:
        """Delete handled messages, ten per DeleteMessageBatch (SQS's limit per request)."""
        for start in range(0, len(messages), 10):
            chunk = messages[start : start + 10]
            answer = sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)
                ],
            )
            for failure in answer.get("Failed") or []:
                log.warning("%s: delete failed: %s", self.name, failure)

    def handle(self, sqs: Any, messages: list[dict[str, Any]]) -> None:
        raise NotImplementedError


@dataclass
class SqsEventSource(Poller):
    """Feeds an SQS queue to a function in batches (Lambda's SQS event source mapping)."""

    registry: FunctionRegistry | None = None
    function: LocalFunction | None = None
    queue_arn: str = ""
    batch_size: int = 10
    report_batch_item_failures: bool = False

    def _batch_limit(self) -> int:
        return max(1, min(self.batch_size, 10))

    def _receive(self, sqs: Any) -> list[dict[str, Any]]:
        answer = sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self._batch_limit(),
            WaitTimeSeconds=self._wait_time(),
            AttributeNames=["All"],
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return list(answer.get("Messages") or [])

    def handle(self, sqs: Any, messages: list[dict[str, Any]]) -> None:
        assert self.registry is not None and self.function is not None
        event = {"Records": [sqs_record(message, self.queue_arn) for message in messages]}
        result = self.registry.invoke(self.function, event)
        if result.error:
            log.info(
                "%s: batch of %d failed (%s); messages stay for redrive",
                self.name,
                len(messages),
                result.error_type,
            )
            self.redelivery_due(sqs)
            return
        keep = self._failed_ids(result.payload, messages)
        if keep is None:  # the whole batch counts as failed
            self.redelivery_due(sqs)
            return
        if keep:
            self.redelivery_due(sqs)
        done = [m for m in messages if m["MessageId"] not in keep]
        if keep:
            log.info("%s: %d of %d messages reported failed", self.name, len(keep), len(messages))
        self._delete(sqs, done)

    def _failed_ids(self, payload: Any, messages: list[dict[str, Any]]) -> set[str] | None:
        """Ids to keep; None when the response makes the whole batch a failure."""
        if not self.report_batch_item_failures or not isinstance(payload, dict):
            return set()
        failures = payload.get("batchItemFailures")
        if not failures:
            return set()
        ids = {m["MessageId"] for m in messages}
        keep: set[str] = set()
        for failure in failures:
            item = failure.get("itemIdentifier") if isinstance(failure, dict) else None
            if not item or item not in ids:
                log.warning(
                    "%s: invalid batchItemFailures entry %r: batch failed", self.name, failure
                )
                return None
            keep.add(str(item))
        return keep


@dataclass
class RuleShim(Poller):
    """Delivers the events of an EventBridge rule's shim queue as async invocations."""

    invoker: AsyncInvoker | None = None
    registry: FunctionRegistry | None = None
    function: LocalFunction | None = None

    def _receive(self, sqs: Any) -> list[dict[str, Any]]:
        answer = sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=self._wait_time()
        )
        return list(answer.get("Messages") or [])

    def handle(self, sqs: Any, messages: list[dict[str, Any]]) -> None:
        assert self.invoker is not None and self.function is not None
        events: list[Any] = []
        for message in messages:
            try:
                event = json.loads(message.get("Body") or "null")
            except ValueError:
                event = message.get("Body")
            if isinstance(event, dict) and "detail-type" in event:
                event.setdefault("account", ACCOUNT_ID)  # moto leaves it out
            events.append(event)
        # Lambda's async queue owns the events from here (retries, destination): the batch
        # leaves the shim queue in one request instead of one per message.
        self._delete(sqs, messages)
        for event in events:
            self.invoker.submit(self.function, event)
