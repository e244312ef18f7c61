"""SQS's SendMessage without counting the queue's messages (`_motofast.cheap_send_attributes`):
the same answers, and a send into a deep queue costs what a send into an empty one does.
moto's parts are used directly (a backend of its own: no `mock_aws`, see test_motofast.py)."""

from __future__ import annotations

from typing import Any

import pytest
from moto.sqs.exceptions import InvalidParameterValue, MissingParameter

from runhook_dev.devcloud import _motofast


@pytest.fixture()
def backend() -> Any:
    from moto.sqs.models import SQSBackend

    _motofast.cheap_send_attributes()
    return SQSBackend("us-east-1", "123456789012")


def test_a_send_counts_no_messages_and_get_queue_attributes_still_does(
    backend: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.sqs.models import Queue

    backend.create_queue("deep")
    for n in range(50):
        backend.send_message("deep", f"message {n}")
    counted: list[int] = []
    real = Queue.approximate_number_of_messages.fget
    assert real is not None
    monkeypatch.setattr(
        Queue,
        "approximate_number_of_messages",
        property(lambda queue: counted.append(1) or real(queue)),
    )

    backend.send_message("deep", "one more")
    entry = {"MessageAttributes": {}, "DelaySeconds": None}  # what moto's parser fills in
    backend.send_message_batch(
        "deep", {str(i): {"Id": str(i), "MessageBody": f"batch {i}", **entry} for i in range(10)}
    )

    assert counted == []  # the sends looked at no message
    attributes = backend.get_queue_attributes("deep", ["All"])
    assert attributes["ApproximateNumberOfMessages"] == 61 and counted


def test_fifo_queues_keep_their_deduplication_rules(backend: Any) -> None:
    backend.create_queue("content.fifo", FifoQueue="true", ContentBasedDeduplication="true")
    backend.create_queue("explicit.fifo", FifoQueue="true")

    backend.send_message("content.fifo", "same body", group_id="g")
    backend.send_message("content.fifo", "same body", group_id="g")  # a duplicate: dropped
    with pytest.raises(InvalidParameterValue, match="ContentBasedDeduplication"):
        backend.send_message("explicit.fifo", "body", group_id="g")
    with pytest.raises(MissingParameter):
        backend.send_message("explicit.fifo", "body", deduplication_id="d")
    backend.send_message("explicit.fifo", "body", group_id="g", deduplication_id="d")

    assert len(backend.get_queue("content.fifo").messages) == 1
    assert len(backend.get_queue("explicit.fifo").messages) == 1


def test_outside_a_send_the_attributes_are_moto_s_own_dict(backend: Any) -> None:
    queue = backend.create_queue("plain", VisibilityTimeout="45")
    backend.send_message("plain", "body")

    attributes = queue.attributes

    assert type(attributes) is dict
    assert attributes["VisibilityTimeout"] == 45 and attributes["ApproximateNumberOfMessages"] == 1
    assert "ContentBasedDeduplication" not in attributes
