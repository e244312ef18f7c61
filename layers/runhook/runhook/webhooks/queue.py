"""The deliveries queue and its dead-letter queue (SQS adapter).

A queue message names a delivery; the delivery item in DynamoDB holds the payload.
`gen` is the delivery's generation when the message was sent: re-enqueueing a
delivery (dispatch retry, replay, recover) bumps it, so an older message that
surfaces later is recognised and dropped.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from runhook import aws
from runhook.errors import ServiceUnavailable
from runhook.settings import get_settings


@dataclass(frozen=True)
class Message:
    delivery_id: str
    endpoint_id: str
    org_id: str
    created_at: str
    gen: int = 0

    def body(self) -> str:
        return json.dumps(
            {
                "deliveryId": self.delivery_id,
                "endpointId": self.endpoint_id,
                "orgId": self.org_id,
                "createdAt": self.created_at,
                "gen": self.gen,
            },
            separators=(",", ":"),
        )

    @classmethod
    def parse(cls, body: str) -> Message | None:
        try:
            data = json.loads(body)
            return cls(
                delivery_id=str(data["deliveryId"]),
                endpoint_id=str(data["endpointId"]),
                org_id=str(data["orgId"]),
                created_at=str(data.get("createdAt", "")),
                gen=int(data.get("gen", 0)),
            )
        except (ValueError, KeyError, TypeError):
            return None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _sqs() -> Any:
    return aws.client("sqs")


@contextmanager
def _translate() -> Iterator[None]:
    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        raise ServiceUnavailable(message=f"sqs: {exc}") from exc


def queue_url() -> str:
    url = get_settings().deliveries_queue_url
    if not url:
        raise ServiceUnavailable(message="DELIVERIES_QUEUE_URL is not set")
    return url


def dlq_url() -> str:
    url = get_settings().deliveries_dlq_url
    if not url:
        raise ServiceUnavailable(message="DELIVERIES_DLQ_URL is not set")
    return url


def send(messages: Sequence[Message], url: str | None = None) -> None:
    """SendMessageBatch in chunks of 10; failed entries are retried once, then it raises."""
    target = url or queue_url()
    entries = [{"Id": str(i), "MessageBody": m.body()} for i, m in enumerate(messages)]
    for start in range(0, len(entries), 10):
        batch = entries[start : start + 10]
        for _round in range(3):
            with _translate():
                resp = _sqs().send_message_batch(QueueUrl=target, Entries=batch)
            failed = {f["Id"] for f in resp.get("Failed") or []}
            batch = [e for e in batch if e["Id"] in failed]
            if not batch:
                break
        else:
            raise ServiceUnavailable(message="sqs: SendMessageBatch kept failing")


def change_visibility(receipt_handle: str, seconds: int, url: str | None = None) -> None:
    with _translate():
        _sqs().change_message_visibility(
            QueueUrl=url or queue_url(), ReceiptHandle=receipt_handle, VisibilityTimeout=seconds
        )


_redrive_lock = threading.Lock()
_redrive_cache: dict[str, int | None] = {}


def max_receive_count(url: str | None = None) -> int | None:
    """The queue's redrive `maxReceiveCount` (cached per container); None if unknown."""
    target = url or queue_url()
    with _redrive_lock:
        if target in _redrive_cache:
            return _redrive_cache[target]
    value: int | None = None
    try:
        resp = _sqs().get_queue_attributes(QueueUrl=target, AttributeNames=["RedrivePolicy"])
        policy = json.loads(resp.get("Attributes", {}).get("RedrivePolicy") or "{}")
        value = int(policy["maxReceiveCount"]) if "maxReceiveCount" in policy else None
    except (ClientError, BotoCoreError, ValueError, TypeError):
        return None  # not cached: ask again next time
    with _redrive_lock:
        _redrive_cache[target] = value
    return value


def reset_cache() -> None:
    with _redrive_lock:
        _redrive_cache.clear()


def receive_dead_letters(max_messages: int, visibility_seconds: int) -> list[dict[str, Any]]:
    with _translate():
        resp = _sqs().receive_message(
            QueueUrl=dlq_url(),
            MaxNumberOfMessages=max(1, min(10, max_messages)),
            VisibilityTimeout=visibility_seconds,
            WaitTimeSeconds=0,
        )
    return list(resp.get("Messages") or [])


def delete_dead_letters(receipt_handles: Sequence[str]) -> None:
    for start in range(0, len(receipt_handles), 10):
        chunk = receipt_handles[start : start + 10]
        with _translate():
            _sqs().delete_message_batch(
                QueueUrl=dlq_url(),
                Entries=[{"Id": str(i), "ReceiptHandle": h} for i, h in enumerate(chunk)],
            )


def release_dead_letters(receipt_handles: Sequence[str]) -> None:
    """Make messages we looked at but did not take visible again at once."""
    for start in range(0, len(receipt_handles), 10):
        chunk = receipt_handles[start : start + 10]
        with _translate():
            _sqs().change_message_visibility_batch(
                QueueUrl=dlq_url(),
                Entries=[
                    {"Id": str(i), "ReceiptHandle": h, "VisibilityTimeout": 0}
                    for i, h in enumerate(chunk)
                ],
            )
