"""Wake-ups for the local cloud's pollers, so an idle cloud does no work.

Every write to a queue, the table, the state machines or the schedules reaches moto or
DynamoDB Local through the one AWS endpoint (the dispatcher), including the calls moto's
ASL interpreter makes (``MOTO_PORT``) and EventBridge's deliveries to SQS targets (made
inside PutEvents). So the dispatcher knows when a poller has something to read, and
tells it here (`ActivityHub.observe`): a poller waits on its `Channel` instead of asking
moto or DynamoDB Local every second. A channel can also be told *when* something will
become readable (a message's delay or visibility timeout): its waiters wake then.

Waiting is still bounded (the pollers back off exponentially to a cap), as a safety net
for writes that bypass the dispatcher (a tool writing to DynamoDB Local's own port).
"""

from __future__ import annotations

import heapq
import json
import logging
import threading
import time
from collections.abc import Iterable, Mapping
from urllib.parse import parse_qs

SQS_PREFIX = "sqs:"
DYNAMODB = "dynamodb"  # any table write (the stream readers' channel)
STATES = "states"  # executions started, stopped, called back, or a Task's Lambda invoked
SCHEDULER = "scheduler"  # EventBridge Scheduler schedules created, changed or deleted

_DYNAMODB_WRITES = frozenset(
    ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems")
)
_STATES_WRITES = frozenset(
    (
        "StartExecution",
        "StartSyncExecution",
        "StopExecution",
        "SendTaskSuccess",
        "SendTaskFailure",
        "SendTaskHeartbeat",
        "RedriveExecution",
    )
)


class Channel:
    """One thing pollers wait on: a generation counter and an optional due time.

    A poller reads `generation()` *before* it looks for work and passes it to `wait`:
    activity between the look and the wait is never lost (the wait returns at once).
    """

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._generation = 0
        self._dues: list[float] = []  # heap: monotonic times something becomes readable

    def generation(self) -> int:
        with self._condition:
            return self._generation

    def notify(self, count: int | None = None) -> None:
        """Something is readable now: wake `count` waiters (None: all of them)."""
        with self._condition:
            self._generation += 1
            if count is None:
                self._condition.notify_all()
            else:
                self._condition.notify(count)

    def notify_at(self, moment: float) -> None:
        """Something becomes readable at `moment` (time.monotonic): wake a waiter then."""
        with self._condition:
            earliest = self._dues[0] if self._dues else None
            heapq.heappush(self._dues, moment)
            if earliest is None or moment < earliest:
                self._condition.notify_all()  # waiters recompute their timeout

    def wait(self, generation: int, timeout: float) -> bool:
        """Wait up to `timeout` seconds for activity after `generation`; True if any came
        (or a due time passed), False when the wait simply ran out."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while True:
                if self._generation != generation:
                    return True
                now = time.monotonic()
                if self._dues and self._dues[0] <= now:
                    while self._dues and self._dues[0] <= now:
                        heapq.heappop(self._dues)
                    return True
                if now >= deadline:
                    return False
                until = min(deadline, self._dues[0]) if self._dues else deadline
                self._condition.wait(until - now)


class ActivityHub:
    """The channels of one cloud, and the dispatcher's view of which request wakes which."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._channels: dict[str, Channel] = {}

    def channel(self, key: str) -> Channel:
        with self._lock:
            return self._channels.setdefault(key, Channel())

    def queue(self, queue_url: str) -> Channel:
        """The channel of an SQS queue (by name: URLs differ in host, never in name)."""
        return self.channel(SQS_PREFIX + queue_url.rstrip("/").rsplit("/", 1)[-1])

    def wake_all(self) -> None:
        """Wake every waiter (stopping: pollers then see their stop flag)."""
        with self._lock:
            channels = list(self._channels.values())
        for channel in channels:
            channel.notify()

    def observe(self, target: str, content_type: str, body: bytes) -> None:
        """Called by the dispatcher after a request was answered: wake whoever it concerns.

        `target` is the X-Amz-Target header (empty for the query protocol and REST APIs).
        """
        service, _, action = target.partition(".")
        if service.startswith("DynamoDB_") and action in _DYNAMODB_WRITES:
            self.channel(DYNAMODB).notify()
        elif service == "AWSStepFunctions" and action in _STATES_WRITES:
            self.channel(STATES).notify()
        elif service == "AWSEvents" and action == "PutEvents":
            self._every_queue_once()  # moto delivers to SQS targets (the rule shims)
            self._show_events(body)
        elif service == "AmazonSQS":
            self._sqs(action, _json_body(body))
        elif not target and "form-urlencoded" in content_type:
            form = {k: v[-1] for k, v in parse_qs(body.decode(errors="replace")).items()}
            self._sqs(form.get("Action", ""), form)

    def events_put(self, body: bytes, queues: Iterable[str]) -> None:
        """A PutEvents was answered: wake one poller of each queue EventBridge delivered
        to (moto makes those deliveries inside the call; `_motofast.event_deliveries`)."""
        for name in queues:
            self.channel(SQS_PREFIX + name).notify(1)
        self._show_events(body)

    def _show_events(self, body: bytes) -> None:
        """The terminal's run event lines (terminal.py), when that logger is on."""
        from runhook_dev.devcloud import terminal

        if terminal.RUNS.isEnabledFor(logging.INFO):
            entries = _json_body(body).get("Entries")
            if isinstance(entries, list):
                terminal.log_put_events([e for e in entries if isinstance(e, dict)])

    def invoked(self) -> None:
        """A function was invoked through the endpoint (a state machine's Task, mostly)."""
        self.channel(STATES).notify()

    def schedules_changed(self) -> None:
        self.channel(SCHEDULER).notify()

    def _every_queue_once(self) -> None:
        with self._lock:
            queues = [c for k, c in self._channels.items() if k.startswith(SQS_PREFIX)]
        for channel in queues:
            channel.notify(1)

    def _sqs(self, action: str, body: Mapping[str, object]) -> None:
        url = str(body.get("QueueUrl") or "")
        if not url:
            return
        channel = self.queue(url)
        now = time.monotonic()
        if action == "SendMessage":
            _wake_after(channel, now, _number(body.get("DelaySeconds")), 1)
        elif action == "SendMessageBatch":
            entries = body.get("Entries")
            if not isinstance(entries, list):  # the query protocol: entries unparsed
                channel.notify()
            for entry in entries if isinstance(entries, list) else []:
                delay = _number(entry.get("DelaySeconds")) if isinstance(entry, dict) else 0.0
                _wake_after(channel, now, delay, 1)
        elif action in ("ChangeMessageVisibility", "ChangeMessageVisibilityBatch"):
            entries = body.get("Entries")
            items = entries if isinstance(entries, list) else [body]
            for item in items:
                if isinstance(item, dict):
                    _wake_after(channel, now, _number(item.get("VisibilityTimeout")), 1)


def _wake_after(channel: Channel, now: float, delay: float, count: int) -> None:
    if delay > 0:
        channel.notify_at(now + delay)
    else:
        channel.notify(count)


def _number(value: object) -> float:
    try:
        return float(str(value)) if value is not None else 0.0
    except ValueError:
        return 0.0


def _json_body(body: bytes) -> dict[str, object]:
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
