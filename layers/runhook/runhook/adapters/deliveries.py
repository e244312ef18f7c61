"""The deliveries queue and its dead-letter queue (SQS).

A queue message names a delivery; the delivery item in DynamoDB holds the payload.
`gen` is the delivery's generation when the message was sent: re-enqueueing a
delivery (dispatch retry, replay, recover) bumps it, so an older message that
surfaces later is recognised and dropped.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Unpack

from botocore.exceptions import BotoCoreError, ClientError

from runhook.aws import ClientOptions, LazyClient, translate_errors
from runhook.errors import ServiceUnavailable
from runhook.webhook_models import Delivery

SQS_BATCH = 10


@dataclass(frozen=True)
class QueueMessage:
    delivery_id: str
    endpoint_id: str
    org_id: str
    created_at: str
    gen: int = 0

    @classmethod
    def of(cls, delivery: Delivery) -> QueueMessage:
        """The message that sends `delivery` at its current generation."""
        return cls(
            delivery.id, delivery.endpoint_id, delivery.org_id, delivery.created_at, delivery.gen
        )

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
    def parse(cls, body: str) -> QueueMessage | None:
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


class DeliveryQueue:
    """The deliveries queue (`queue_url`) and its dead-letter queue (`dlq_url`)."""

    def __init__(self, queue_url: str, dlq_url: str, **client: Unpack[ClientOptions]) -> None:
        self.queue_url = queue_url
        self.dlq_url = dlq_url
        self._client = LazyClient("sqs", **client)
        self._redrive_lock = threading.Lock()
        self._max_receive: int | None = None
        self._max_receive_known = False

    @property
    def client(self) -> Any:
        return self._client.get()

    def _queue(self) -> str:
        if not self.queue_url:
            raise ServiceUnavailable(message="DELIVERIES_QUEUE_URL is not set")
        return self.queue_url

    def _dlq(self) -> str:
        if not self.dlq_url:
            raise ServiceUnavailable(message="DELIVERIES_DLQ_URL is not set")
        return self.dlq_url

    def send(self, messages: Sequence[QueueMessage], *, dead_letter: bool = False) -> None:
        """SendMessageBatch (to the DLQ if `dead_letter`) in chunks of 10; failed entries
        are retried twice, then it raises."""
        target = self._dlq() if dead_letter else self._queue()
        entries = [{"Id": str(i), "MessageBody": m.body()} for i, m in enumerate(messages)]
        for start in range(0, len(entries), SQS_BATCH):
            batch = entries[start : start + SQS_BATCH]
            for _round in range(3):
                with translate_errors("sqs"):
                    resp = self.client.send_message_batch(QueueUrl=target, Entries=batch)
                failed = {f["Id"] for f in resp.get("Failed") or []}
                batch = [e for e in batch if e["Id"] in failed]
                if not batch:
                    break
            else:
                raise ServiceUnavailable(message="sqs: SendMessageBatch kept failing")

    def change_visibility(self, receipt_handle: str, seconds: int) -> None:
        with translate_errors("sqs"):
            self.client.change_message_visibility(
                QueueUrl=self._queue(),
                ReceiptHandle=receipt_handle,
                VisibilityTimeout=seconds,
            )

    def max_receive_count(self) -> int | None:
        """The queue's redrive `maxReceiveCount` (asked once per container); None if unknown."""
        with self._redrive_lock:
            if self._max_receive_known:
                return self._max_receive
        try:
            resp = self.client.get_queue_attributes(
                QueueUrl=self._queue(), AttributeNames=["RedrivePolicy"]
            )
            policy = json.loads(resp.get("Attributes", {}).get("RedrivePolicy") or "{}")
            value = int(policy["maxReceiveCount"]) if "maxReceiveCount" in policy else None
        except (ClientError, BotoCoreError, ValueError, TypeError):
            return None  # not remembered: ask again next time
        with self._redrive_lock:
            self._max_receive, self._max_receive_known = value, True
        return value

    # -- the dead-letter queue (recover) ---------------------------------------------------
    def receive_dead_letters(
        self, max_messages: int, visibility_seconds: int
    ) -> list[dict[str, Any]]:
        with translate_errors("sqs"):
            resp = self.client.receive_message(
                QueueUrl=self._dlq(),
                MaxNumberOfMessages=max(1, min(SQS_BATCH, max_messages)),
                VisibilityTimeout=visibility_seconds,
                WaitTimeSeconds=0,
            )
        return list(resp.get("Messages") or [])

    def delete_dead_letters(self, receipt_handles: Sequence[str]) -> None:
        for start in range(0, len(receipt_handles), SQS_BATCH):
            chunk = receipt_handles[start : start + SQS_BATCH]
            with translate_errors("sqs"):
                self.client.delete_message_batch(
                    QueueUrl=self._dlq(),
                    Entries=[{"Id": str(i), "ReceiptHandle": h} for i, h in enumerate(chunk)],
                )

    def release_dead_letters(self, receipt_handles: Sequence[str]) -> None:
        """Make messages we looked at but did not take visible again at once."""
        for start in range(0, len(receipt_handles), SQS_BATCH):
            chunk = receipt_handles[start : start + SQS_BATCH]
            with translate_errors("sqs"):
                self.client.change_message_visibility_batch(
                    QueueUrl=self._dlq(),
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": h, "VisibilityTimeout": 0}
                        for i, h in enumerate(chunk)
                    ],
                )
