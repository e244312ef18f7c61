"""moto's SQS `Queue.delete_message` rebuilds the queue's message list and assigns it back
without the lock `add_message` appends under: a message sent by another thread in between
is lost (the suite's 1,000-event load test once left 6 deliveries pending with no message
anywhere). `_motofast.lock_message_deletes` makes a delete hold that lock."""

from __future__ import annotations

import threading

from moto.sqs.models import Message, Queue

from runhook_dev.devcloud import _motofast


def test_a_delete_waits_for_the_lock_sends_append_under() -> None:
    _motofast.lock_message_deletes()
    queue = Queue("race", region="us-east-1", account_id="123456789012")  # type: ignore[abstract]
    message = Message("m1", "x")
    message.mark_received()
    queue.add_message(message)
    handle = message.receipt_handle
    assert handle is not None
    deleted = threading.Event()

    def delete() -> None:
        queue.delete_message(handle)
        deleted.set()

    with queue._messages_lock:  # a send in progress holds this lock
        worker = threading.Thread(target=delete)
        worker.start()
        # Unpatched, the delete rebuilds the list now, under the send's feet.
        assert not deleted.wait(0.5), "the delete ran while a send held the queue's lock"
        queue._messages.append(Message("m2", "y"))  # what the send appends meanwhile
    worker.join(5)
    assert deleted.is_set()
    assert [m.id for m in queue._messages] == ["m2"], "the message sent meanwhile was lost"
