"""Replaying deliveries: one delivery on demand, or an endpoint's dead letters.

moto has no StartMessageMoveTask, and a move task cannot filter anyway, so `recover`
moves messages itself: receive from the DLQ, keep the endpoint's messages within
the time window, send each back to the deliveries queue, delete it from the DLQ.
Messages of other endpoints are made visible again at the end of the scan.

A replayed delivery keeps its id and its `webhook-id` (receivers dedupe on it); it
gets a new generation, so an older queue or DLQ message of it is dropped as stale.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from runhook import clock
from runhook.dal import webhooks as store
from runhook.errors import Conflict, InvalidRequest
from runhook.models import Principal
from runhook.webhooks import queue
from runhook.webhooks.endpoints import visible_delivery, visible_endpoint
from runhook.webhooks.models import Delivery

log = logging.getLogger("runhook.webhooks.replay")

RECOVER_TIME_BUDGET_SECONDS = 20.0  # the API answers within API Gateway's 29 s
RECOVER_MAX_SCANNED = 5000


@dataclass(frozen=True)
class RecoverResult:
    recovered: int  # moved back to the queue
    discarded: int  # stale dead letters of this endpoint (delivered or replayed since)
    scanned: int  # dead letters looked at
    complete: bool  # False: the budget ran out; call again to continue

    def to_resource(self) -> dict[str, object]:
        return {
            "recovered": self.recovered,
            "discarded": self.discarded,
            "scanned": self.scanned,
            "complete": self.complete,
        }


def replay_delivery(principal: Principal, delivery_id: str) -> Delivery:
    """Send a delivery again (whatever its status), keeping its webhook-id."""
    delivery = visible_delivery(principal, delivery_id, with_attempts=False)
    endpoint = visible_endpoint(principal, delivery.endpoint_id)
    if not endpoint.enabled and not delivery.test:
        raise Conflict("endpoint_disabled")
    again = store.requeue(delivery.id, replay=True)
    if again is None:
        raise Conflict("delivery_not_found")
    queue.send(
        [queue.Message(again.id, again.endpoint_id, again.org_id, again.created_at, again.gen)]
    )
    return again


def recover(
    principal: Principal,
    endpoint_id: str,
    since: datetime,
    until: datetime | None = None,
    *,
    time_budget: float = RECOVER_TIME_BUDGET_SECONDS,
    max_scanned: int = RECOVER_MAX_SCANNED,
) -> RecoverResult:
    """Move the endpoint's dead letters created in [since, until) back to the queue."""
    endpoint = visible_endpoint(principal, endpoint_id)
    if not endpoint.enabled:
        raise Conflict("endpoint_disabled")
    lo = clock.iso(_utc(since))
    hi = clock.iso(_utc(until)) if until else None
    if hi is not None and hi <= lo:
        raise InvalidRequest("invalid_time_window")
    deadline = time.monotonic() + time_budget
    hold = int(time_budget) + 30  # keep what we scanned invisible until we are done
    seen: set[str] = set()
    others: list[str] = []
    recovered = discarded = scanned = 0
    complete = False
    try:
        while time.monotonic() < deadline and scanned < max_scanned:
            messages = queue.receive_dead_letters(10, hold)
            if not messages:
                complete = True
                break
            fresh = [m for m in messages if m["MessageId"] not in seen]
            if not fresh:
                complete = True
                break
            done: list[str] = []
            for raw in fresh:
                seen.add(raw["MessageId"])
                scanned += 1
                message = queue.Message.parse(raw.get("Body", ""))
                if (
                    message is None
                    or message.org_id != principal.org_id
                    or message.endpoint_id != endpoint.id
                    or not (lo <= message.created_at and (hi is None or message.created_at < hi))
                ):
                    others.append(raw["ReceiptHandle"])
                    continue
                if _move_back(message):
                    recovered += 1
                else:
                    discarded += 1
                done.append(raw["ReceiptHandle"])
            queue.delete_dead_letters(done)
    finally:
        if others:
            try:
                queue.release_dead_letters(others)
            except Exception:  # they come back on their own when the hold expires
                log.warning("could not release %d dead letters", len(others), exc_info=True)
    return RecoverResult(recovered, discarded, scanned, complete)


def _utc(value: datetime) -> datetime:
    """A timestamp without a zone is UTC (the API's timestamps all are)."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _move_back(message: queue.Message) -> bool:
    """Requeue the delivery of a dead letter; False when the dead letter is stale."""
    delivery = store.get_delivery(message.delivery_id)
    if delivery is None or delivery.gen != message.gen or delivery.status == "succeeded":
        return False
    again = store.requeue(delivery.id, expected_gen=message.gen, replay=True)
    if again is None:
        return False
    queue.send(
        [queue.Message(again.id, again.endpoint_id, again.org_id, again.created_at, again.gen)]
    )
    return True
