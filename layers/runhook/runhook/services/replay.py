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
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from runhook import clock
from runhook.adapters.deliveries import DeliveryQueue, QueueMessage
from runhook.dal.webhooks import DeliveryRepository
from runhook.errors import Conflict, InvalidRequest
from runhook.models import Principal
from runhook.services.endpoints import EndpointService
from runhook.webhook_models import Delivery

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


class ReplayService:
    def __init__(
        self, endpoints: EndpointService, deliveries: DeliveryRepository, queue: DeliveryQueue
    ) -> None:
        self.endpoints = endpoints  # the visibility rules of endpoints and deliveries
        self.deliveries = deliveries
        self.queue = queue

    def replay_delivery(self, principal: Principal, delivery_id: str) -> Delivery:
        """Send a delivery again (whatever its status), keeping its webhook-id."""
        delivery = self.endpoints.visible_delivery(principal, delivery_id, with_attempts=False)
        endpoint = self.endpoints.visible_endpoint(principal, delivery.endpoint_id)
        if not endpoint.enabled and not delivery.test:
            raise Conflict("endpoint_disabled")
        again = self.deliveries.requeue(delivery.id, replay=True)
        if again is None:
            raise Conflict("delivery_not_found")
        self.queue.send([QueueMessage.of(again)])
        return again

    def recover(
        self,
        principal: Principal,
        endpoint_id: str,
        since: datetime,
        until: datetime | None = None,
        *,
        time_budget: float = RECOVER_TIME_BUDGET_SECONDS,
        max_scanned: int = RECOVER_MAX_SCANNED,
    ) -> RecoverResult:
        """Move the endpoint's dead letters created in [since, until) back to the queue."""
        endpoint = self.endpoints.visible_endpoint(principal, endpoint_id)
        if not endpoint.enabled:
            raise Conflict("endpoint_disabled")
        lo = clock.iso(_utc(since))
        hi = clock.iso(_utc(until)) if until else None
        if hi is not None and hi <= lo:
            raise InvalidRequest("invalid_time_window")

        def wanted(message: QueueMessage) -> bool:
            return (
                message.org_id == principal.org_id
                and message.endpoint_id == endpoint.id
                and lo <= message.created_at
                and (hi is None or message.created_at < hi)
            )

        return self._scan(wanted, time_budget, max_scanned)

    def _scan(
        self, wanted: Callable[[QueueMessage], bool], time_budget: float, max_scanned: int
    ) -> RecoverResult:
        """Receive dead letters until the DLQ is exhausted or the budget runs out; move
        the wanted ones back, release the others at the end."""
        deadline = time.monotonic() + time_budget
        hold = int(time_budget) + 30  # keep what we scanned invisible until we are done
        seen: set[str] = set()
        others: list[str] = []
        recovered = discarded = scanned = 0
        complete = False
        try:
            while time.monotonic() < deadline and scanned < max_scanned:
                fresh = [
                    m
                    for m in self.queue.receive_dead_letters(10, hold)
                    if m["MessageId"] not in seen
                ]
                if not fresh:
                    complete = True
                    break
                done: list[str] = []
                for raw in fresh:
                    seen.add(raw["MessageId"])
                    scanned += 1
                    message = QueueMessage.parse(raw.get("Body", ""))
                    if message is None or not wanted(message):
                        others.append(raw["ReceiptHandle"])
                        continue
                    if self._move_back(message):
                        recovered += 1
                    else:
                        discarded += 1
                    done.append(raw["ReceiptHandle"])
                self.queue.delete_dead_letters(done)
        finally:
            if others:
                try:
                    self.queue.release_dead_letters(others)
                except Exception:  # they come back on their own when the hold expires
                    log.warning("could not release %d dead letters", len(others), exc_info=True)
        return RecoverResult(recovered, discarded, scanned, complete)

    def _move_back(self, message: QueueMessage) -> bool:
        """Requeue the delivery of a dead letter; False when the dead letter is stale."""
        delivery = self.deliveries.get(message.delivery_id)
        if delivery is None or delivery.gen != message.gen or delivery.status == "succeeded":
            return False
        again = self.deliveries.requeue(delivery.id, expected_gen=message.gen, replay=True)
        if again is None:
            return False
        self.queue.send([QueueMessage.of(again)])
        return True


def _utc(value: datetime) -> datetime:
    """A timestamp without a zone is UTC (the API's timestamps all are)."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)
