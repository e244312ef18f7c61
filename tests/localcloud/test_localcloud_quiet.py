"""An idle local cloud does no work, and the first event after a quiet spell is not late.

The pollers wait for the dispatcher's wake-ups (activity.py) instead of asking moto and
DynamoDB Local every second. First the hub's rules without a cloud, then, on the session's
cloud, a poller that has backed off for a while: it asks (almost) nothing while idle, and
a message sent then is handled at once, not after the back-off.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from runhook_dev.devcloud.activity import DYNAMODB, SCHEDULER, STATES, ActivityHub, Channel
from runhook_dev.devcloud.pollers import SqsEventSource
from runhook_dev.devcloud.testing import wait_until

QUEUE_URL = "http://127.0.0.1:4566/123456789012/jobs"


def _sqs(action: str, **body: Any) -> tuple[str, str, bytes]:
    return f"AmazonSQS.{action}", "application/x-amz-json-1.0", json.dumps(body).encode()


def _woken(channel: Channel, generation: int) -> bool:
    return channel.wait(generation, 0)


# -- the hub: which request wakes which channel -------------------------------------------


def test_a_send_wakes_its_queue_only() -> None:
    hub = ActivityHub()
    jobs, other = hub.queue(QUEUE_URL), hub.queue("http://localhost/123456789012/other")
    before = (jobs.generation(), other.generation())
    hub.observe(*_sqs("SendMessage", QueueUrl=QUEUE_URL, MessageBody="x"))
    assert _woken(jobs, before[0])
    assert not _woken(other, before[1])


def test_reads_and_deletes_wake_nobody() -> None:
    hub = ActivityHub()
    channels = [hub.queue(QUEUE_URL), hub.channel(DYNAMODB), hub.channel(STATES)]
    generations = [c.generation() for c in channels]
    hub.observe(*_sqs("ReceiveMessage", QueueUrl=QUEUE_URL))
    hub.observe(*_sqs("DeleteMessage", QueueUrl=QUEUE_URL, ReceiptHandle="r"))
    hub.observe("DynamoDB_20120810.GetItem", "", b"")
    hub.observe("DynamoDB_20120810.Query", "", b"")
    hub.observe("AWSStepFunctions.ListExecutions", "", b"")
    hub.observe("AWSStepFunctions.DescribeExecution", "", b"")
    assert [_woken(c, g) for c, g in zip(channels, generations, strict=True)] == [False] * 3


def test_table_writes_executions_and_schedules_wake_their_readers() -> None:
    hub = ActivityHub()
    table, states, schedules = hub.channel(DYNAMODB), hub.channel(STATES), hub.channel(SCHEDULER)
    for write in ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"):
        generation = table.generation()
        hub.observe(f"DynamoDB_20120810.{write}", "", b"")
        assert _woken(table, generation), write
    for call in ("StartExecution", "StopExecution", "SendTaskSuccess", "SendTaskFailure"):
        generation = states.generation()
        hub.observe(f"AWSStepFunctions.{call}", "", b"{}")
        assert _woken(states, generation), call
    generation = states.generation()
    hub.invoked()  # a Task state's Lambda answered: the execution may end now
    assert _woken(states, generation)
    generation = schedules.generation()
    hub.schedules_changed()
    assert _woken(schedules, generation)


def test_put_events_wakes_every_queue_once_and_the_query_protocol_is_understood() -> None:
    hub = ActivityHub()
    shim = hub.queue("http://localhost/123456789012/runhook-local-shim-X")
    generation = shim.generation()
    hub.observe("AWSEvents.PutEvents", "application/x-amz-json-1.1", b'{"Entries": []}')
    assert _woken(shim, generation)
    generation = shim.generation()
    form = "Action=SendMessage&QueueUrl=http://h/1/runhook-local-shim-X&MessageBody=b"
    hub.observe("", "application/x-www-form-urlencoded", form.encode())
    assert _woken(shim, generation)


def test_a_delayed_message_or_a_visibility_timeout_wakes_a_waiter_when_due() -> None:
    hub = ActivityHub()
    jobs = hub.queue(QUEUE_URL)
    generation = jobs.generation()
    hub.observe(*_sqs("SendMessage", QueueUrl=QUEUE_URL, MessageBody="x", DelaySeconds=0.3))
    assert not _woken(jobs, generation)  # not readable yet: nobody woken now
    began = time.monotonic()
    assert jobs.wait(generation, 5.0)
    assert 0.2 <= time.monotonic() - began < 2.0
    hub.observe(
        *_sqs(
            "ChangeMessageVisibility", QueueUrl=QUEUE_URL, ReceiptHandle="r", VisibilityTimeout=0.2
        )
    )
    began = time.monotonic()
    assert jobs.wait(jobs.generation(), 5.0)
    assert time.monotonic() - began < 2.0


def test_activity_between_looking_and_waiting_is_not_lost() -> None:
    channel = Channel()
    generation = channel.generation()  # a poller looked: nothing there
    channel.notify(1)  # ... a message came before it started waiting
    began = time.monotonic()
    assert channel.wait(generation, 10.0)
    assert time.monotonic() - began < 0.5


def test_one_send_wakes_one_of_many_waiting_workers() -> None:
    channel = Channel()
    generation = channel.generation()
    woken: list[tuple[bool, float]] = []
    lock = threading.Lock()
    began = time.monotonic()

    def worker() -> None:
        result = channel.wait(generation, 1.5)
        with lock:
            woken.append((result, time.monotonic() - began))

    threads = [threading.Thread(target=worker) for _ in range(5)]
    for thread in threads:
        thread.start()
    time.sleep(0.3)  # all of them waiting
    channel.notify(1)
    for thread in threads:
        thread.join()
    # Only one worker was woken by the send; the others saw it when their wait ran out.
    assert [result for result, _ in woken] == [True] * 5
    assert sum(1 for _, after in woken if after < 1.0) == 1


# -- on the session's cloud ---------------------------------------------------------------


def test_an_idle_poller_asks_almost_nothing_and_wakes_at_once(
    local_cloud: Any, unique: str
) -> None:
    sqs = local_cloud.client("sqs")
    handled: list[float] = []
    by_thread: dict[str, int] = {}
    poller = three_worker_poller(local_cloud, f"quiet-{unique}", handled, by_thread)
    queue = poller.queue_url
    poller.start()
    try:
        time.sleep(7.5)  # the lead ramps (0, 1, 3, 7 s); the others look once, then wait
        idle = sum(by_thread.values())
        # Three workers polling every second (moto's 1 s long poll) would be ~22 receives;
        # every worker on the back-off ramp made it 12.
        assert idle <= 4 + 2, f"{idle} receives in 7.5 s of idle"
        sent = time.monotonic()
        sqs.send_message(QueueUrl=queue, MessageBody="wake up")
        wait_until(lambda: handled, timeout=10)
        assert time.monotonic() - sent < 2.0, "the first message after idle waited for back-off"
    finally:
        poller.stop()
        poller.join()


def test_the_lead_worker_finds_a_message_that_came_back_without_a_wake_up(
    local_cloud: Any, unique: str
) -> None:
    """A message a tool received comes back after its visibility timeout, and nothing
    tells the pollers: the lead worker's short safety net finds it, while the other
    workers keep waiting for wake-ups."""
    sqs = local_cloud.client("sqs")
    handled: list[float] = []
    receives: dict[str, int] = {}
    poller = three_worker_poller(local_cloud, f"net-{unique}", handled, receives, lead_idle_cap=2.0)
    queue = poller.queue_url
    # Sent before the poller starts, then taken by "a tool" for 2 s: when it comes back,
    # no request through the dispatcher says so.
    sqs.send_message(QueueUrl=queue, MessageBody="came back")
    taken = sqs.receive_message(QueueUrl=queue, VisibilityTimeout=2, WaitTimeSeconds=1)
    assert taken.get("Messages"), "the tool did not get the message"
    poller.start()
    try:
        wait_until(lambda: handled, timeout=15)
        time.sleep(3.0)
    finally:
        poller.stop()
        poller.join()
    lead = f"poller-net-{unique}-0"
    others = {name: count for name, count in receives.items() if name != lead}
    assert receives.get(lead, 0) >= 3, receives  # it looked again and again (cap 2 s)
    # The other workers looked once each at start, and again only if woken (the stop).
    assert all(count <= 2 for count in others.values()), receives


def three_worker_poller(
    local_cloud: Any,
    name: str,
    handled: list[float],
    receives: dict[str, int],
    **options: Any,
) -> SqsEventSource:
    """A 3-worker poller (not started) of a new queue `name`, whose function appends the
    time of each invocation to `handled`; its ReceiveMessage calls counted per thread."""
    queue = local_cloud.client("sqs").create_queue(QueueName=name)["QueueUrl"]
    local_cloud.register_function(name, lambda event, _ctx: handled.append(time.monotonic()))
    return SqsEventSource(
        client=receive_counting_client(local_cloud, receives),
        queue_url=queue,
        name=name,
        workers=3,
        wake=local_cloud.activity.queue(queue),
        registry=local_cloud.registry,
        function=local_cloud.registry.get(name),
        queue_arn=f"arn:aws:sqs:us-east-1:123456789012:{name}",
        **options,
    )


def receive_counting_client(local_cloud: Any, receives: dict[str, int]) -> Any:
    """A poller's client factory whose ReceiveMessage calls are counted per thread."""

    def client_for(service: str) -> Any:
        client = local_cloud.new_client(service)
        receive = client.receive_message

        def counted(**kwargs: Any) -> Any:
            name = threading.current_thread().name
            receives[name] = receives.get(name, 0) + 1
            return receive(**kwargs)

        client.receive_message = counted
        return client

    return client_for
