"""A first attempt is carried by its queue message alone (issue 16): what covers each
failure the sweeper's due entry covered when every new delivery entered the due index.

On the local cloud (DynamoDB Local, moto's SQS with its visibility timeout, redrive and
DLQ, the real send and dispatch functions), each failure staged as it happens:

- the dispatcher cannot send its messages: its deliveries are put in the due index and
  the invocation fails; the retry of the same event (Lambda's async retry) enqueues them;
- the dispatcher is killed between its writes and its send: the retry enqueues them;
- a send function killed after its claim: SQS hands the message back, the lease makes it
  wait, the next attempt is made;
- the message reached the DLQ: `recover` sends the delivery;
- an attempt failed: the retry's time is in the due index (the sweeper's, for a message
  lost in the hours before it);
- the local cloud restarted (its queue was in memory): the sweep after the restart finds
  pending deliveries outside the due index; a scheduled sweep leaves them to SQS.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Any

import pytest

from tests.e2e.webhooks.test_webhooks_write_units import _delivery, _raw, _send
from tests.e2e.webhooks.webhook_helpers import Org, Receiver, event
from tests.support.polling import eventually

DISPATCH = "runhook-local-webhook-dispatch"


def _head(container: Any, delivery_id: str) -> dict[str, Any]:
    return next(i for i in _raw(container, delivery_id) if i["sk"] == "DELIVERY")


def _bus_event(org: Org, detail_type: str = "task-run.started") -> dict[str, Any]:
    kind, detail = event(org.id, detail_type)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": kind,
        "source": "runhook",
        "account": "123456789012",
        "time": "2025-10-14T18:22:03Z",
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    }


class _BrokenQueue:
    """SQS refusing every SendMessageBatch (an outage, a throttled queue)."""

    def send(self, messages: Sequence[Any], *, dead_letter: bool = False) -> None:
        from runhook.errors import ServiceUnavailable

        raise ServiceUnavailable(message="sqs: SendMessageBatch kept failing")


def _delivered(org: Org, delivery_id: str) -> dict[str, Any]:
    shown: dict[str, Any] = eventually(
        lambda: org.delivery(delivery_id),
        lambda d: d["status"] == "succeeded",
        timeout=30,
        message=lambda d: f"delivery {delivery_id}: {d}",
    )
    return shown


def test_a_new_delivery_enters_the_due_index_only_when_a_retry_is_scheduled(
    org: Org, receivers: Any, container: Any
) -> None:
    from runhook import clock
    from tests.support.loopback import Answer

    answers = iter([Answer(status=500, body=b"down"), Answer()])
    receiver: Receiver = receivers(lambda _r, _q: next(answers))
    endpoint_id, _ = org.endpoint(receiver.url)
    store = container.webhooks.deliveries
    delivery = _delivery(org, endpoint_id)
    assert store.create(delivery)
    assert "gsi3pk" not in _head(container, delivery.id)  # its queue message carries it

    assert _send(container, delivery).outcomes == ["retry"]
    head = _head(container, delivery.id)
    assert head["status"] == "pending" and head["nextAttemptAt"]
    # Due at the retry's time: a message lost before then is the sweeper's.
    assert str(head["gsi3sk"]).startswith(head["nextAttemptAt"] + "#")
    later = clock.iso(clock.now() + timedelta(hours=1))
    assert delivery.id in {d.id for d in store.due(due_before=later)}

    assert _send(container, delivery, receive_count=2).outcomes == ["succeeded"]
    assert "gsi3pk" not in _head(container, delivery.id)
    assert delivery.id not in {d.id for d in store.due(due_before=later)}


def test_a_dispatch_that_cannot_enqueue_marks_its_deliveries_due_and_its_retry_sends(
    org: Org, receivers: Any, container: Any, local_cloud: Any
) -> None:
    from runhook.errors import ServiceUnavailable
    from runhook.webhooks.dispatch import Dispatcher

    receiver: Receiver = receivers()
    endpoint_id, _ = org.endpoint(receiver.url)
    bus_event = _bus_event(org)
    broken = Dispatcher(
        container.webhooks.endpoints,
        container.webhooks.deliveries,
        _BrokenQueue(),  # type: ignore[arg-type]
    )
    with pytest.raises(ServiceUnavailable):
        broken.dispatch(bus_event)  # the invocation fails: Lambda retries it
    (entry,) = org.deliveries(endpoint_id)
    assert entry["status"] == "pending"
    head = _head(container, entry["id"])
    assert head["gsi3pk"].startswith("DELIVERIES#DUE#")  # the sweeper's, if no retry works
    assert not receiver.received()

    retried = local_cloud.invoke(DISPATCH, bus_event)  # Lambda's async retry
    assert retried["deliveriesCreated"] == 0 and retried["deliveriesRequeued"] == 1
    (got,) = receiver.wait_for(1)
    assert got.webhook_id == entry["webhookId"]
    done = _delivered(org, entry["id"])
    assert done["attemptCount"] == 1
    assert "gsi3pk" not in _head(container, entry["id"])
    time.sleep(1)
    assert len(receiver.received()) == 1


def test_a_dispatch_killed_before_its_send_is_enqueued_by_its_retry(
    org: Org, receivers: Any, container: Any, local_cloud: Any
) -> None:
    """Killed between the writes and SendMessage: no due entry, no message; the failed
    invocation is retried (Lambda's async retries, then AsyncFailuresQueue)."""
    from runhook.webhooks.dispatch import Dispatcher, parse_event

    receiver: Receiver = receivers()
    endpoint_id, _ = org.endpoint(receiver.url)
    bus_event = _bus_event(org, "task-run.failed")

    class _Killed(Exception):
        pass

    class _KilledQueue:
        def send(self, messages: Sequence[Any], *, dead_letter: bool = False) -> None:
            raise _Killed  # stands for SIGKILL: no handler of runhook runs after it

    class _NoMarks:
        """The repository with `mark_due` gone with the process."""

        def __init__(self, store: Any) -> None:
            self._store = store

        def __getattr__(self, name: str) -> Any:
            if name == "mark_due":
                raise _Killed
            return getattr(self._store, name)

    killed = Dispatcher(
        container.webhooks.endpoints,
        _NoMarks(container.webhooks.deliveries),  # type: ignore[arg-type]
        _KilledQueue(),  # type: ignore[arg-type]
    )
    run_event = parse_event(bus_event)
    assert run_event is not None
    with pytest.raises(_Killed):
        killed.dispatch_run_event(run_event)
    (entry,) = org.deliveries(endpoint_id)
    assert entry["status"] == "pending" and "gsi3pk" not in _head(container, entry["id"])

    retried = local_cloud.invoke(DISPATCH, bus_event)
    assert retried["deliveriesRequeued"] == 1
    (got,) = receiver.wait_for(1)
    assert got.webhook_id == entry["webhookId"]
    assert _delivered(org, entry["id"])["attemptCount"] == 1


def test_a_send_killed_after_its_claim_is_attempted_again_when_the_lease_ends(
    org: Org, receivers: Any, container: Any
) -> None:
    from runhook.adapters.deliveries import QueueMessage

    receiver: Receiver = receivers()
    endpoint_id, _ = org.endpoint(receiver.url)
    store = container.webhooks.deliveries
    delivery = _delivery(org, endpoint_id)
    assert store.create(delivery)
    # The killed send function's claim: attempt 1, leased for 3 s, never finished.
    assert store.claim(delivery.id, 0, now=time.time(), lease_seconds=3) is not None
    container.delivery_queue.send([QueueMessage.of(delivery)])  # its message, handed back

    (got,) = receiver.wait_for(1, timeout=30)
    assert got.headers["x-komos-attempt"] == "2"
    done = _delivered(org, delivery.id)
    assert done["attemptCount"] == 2 and done["status"] == "succeeded"
    assert "gsi3pk" not in _head(container, delivery.id)


def test_a_first_attempt_in_the_dead_letter_queue_is_recovered(
    org: Org, receivers: Any, container: Any
) -> None:
    from runhook import clock
    from runhook.adapters.deliveries import QueueMessage

    receiver: Receiver = receivers()
    endpoint_id, _ = org.endpoint(receiver.url)
    delivery = _delivery(org, endpoint_id)
    assert container.webhooks.deliveries.create(delivery)
    # Redriven by SQS after maxReceiveCount receives that all died: pending, no due entry.
    container.delivery_queue.send([QueueMessage.of(delivery)], dead_letter=True)
    assert org.delivery(delivery.id)["status"] == "pending"

    since = clock.iso(clock.now() - timedelta(minutes=5))
    resp = org.api.post(f"/webhook-endpoints/{endpoint_id}/recover", json={"since": since})
    assert resp.status_code == 202, resp.text
    assert resp.json()["recovered"] == 1
    (got,) = receiver.wait_for(1)
    assert got.webhook_id == delivery.webhook_id
    done = _delivered(org, delivery.id)
    assert done["replays"] == 1 and done["attemptCount"] == 1


class _Only:
    """The real due index and Scan, narrowed to this test's deliveries (the session's
    local cloud holds other tests' pending deliveries)."""

    def __init__(self, store: Any, ids: set[str]) -> None:
        self._store, self._ids = store, ids

    def due(self, *, due_before: str) -> Iterator[Any]:
        return (d for d in self._store.due(due_before=due_before) if d.id in self._ids)

    def unqueued(self) -> Iterator[Any]:
        return (d for d in self._store.unqueued() if d.id in self._ids)

    def requeue(self, delivery_id: str, **conditions: Any) -> Any:
        return self._store.requeue(delivery_id, **conditions)


class _NoRuns:
    def active_runs(self, *, created_before: str | None = None) -> Iterator[Any]:
        return iter(())

    def get(self, run_id: str) -> None:
        return None


class _NoExecutions:
    def running_runs(self) -> set[str]:
        return set()


def test_after_a_restart_the_sweep_enqueues_first_attempts_the_queue_lost(
    org: Org, receivers: Any, container: Any
) -> None:
    from runhook import clock
    from runhook.services.sweeper import Sweeper, SweepPolicy

    receiver: Receiver = receivers()
    endpoint_id, _ = org.endpoint(receiver.url)
    store = container.webhooks.deliveries
    old = clock.iso(clock.now() - timedelta(minutes=30))
    waiting = _delivery(org, endpoint_id).model_copy(update={"created_at": old})
    in_flight = _delivery(org, endpoint_id)
    for delivery in (waiting, in_flight):
        assert store.create(delivery)  # their messages were in the queue's memory
    # An attempt in flight when the process died: leased, never finished.
    assert store.claim(in_flight.id, 0, now=time.time(), lease_seconds=600) is not None
    sweeper = Sweeper(
        runs=_NoRuns(),  # type: ignore[arg-type]
        executions=_NoExecutions(),  # type: ignore[arg-type]
        reconciler=None,  # type: ignore[arg-type]
        deliveries=_Only(store, {waiting.id, in_flight.id}),
        queue=container.delivery_queue,
    )

    scheduled = sweeper.sweep(SweepPolicy()).as_dict()  # SQS carries first attempts
    assert scheduled.get("deliveries_requeued", 0) == 0
    assert store.get(waiting.id).gen == 0

    after = sweeper.sweep(SweepPolicy.after_restart()).as_dict()
    assert after["deliveries_requeued"] == 2 and after["errors"] == 0
    got = receiver.wait_for(2)
    assert sorted(r.webhook_id for r in got) == sorted([waiting.webhook_id, in_flight.webhook_id])
    assert _delivered(org, waiting.id)["attemptCount"] == 1
    assert _delivered(org, in_flight.id)["attemptCount"] == 2  # the lost one, then this
