"""Dispatch: one run event in, one delivery per subscribed endpoint out.

Triggered by the EventBridge rule on the bus (source `runhook`, detail-type
`task-run.*`). For each event: one Query on the organization's endpoints, one
delivery item per enabled, subscribed, in-scope endpoint, one SendMessageBatch.
The cost does not grow with the number of organizations.

Idempotent under EventBridge's at-least-once delivery, Lambda's async retries and the
outbox publishing an event again: the delivery id is derived from (the event's
`eventId`, endpoint id) and written with a condition. `eventId` names the committed
change (run, sequence, type; or a log batch's first entry), so an event put on the bus
twice is still one delivery. A delivery that exists already is enqueued again only if no attempt
was made yet, under a new generation, so the first message (if it was sent) is
dropped as stale by the sender.

Nothing lost (issue 16): a new delivery's head has no due entry, its queue message carries
the first attempt. If the send fails, the deliveries are put in the due index and the
invocation fails (`send_or_mark_due`); if the process dies between the writes and the send,
the invocation fails too. Either way Lambda retries it (EventInvokeConfig: two retries,
then AsyncFailuresQueue, alarmed), and the retry enqueues the unattempted deliveries again.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from runhook import clock
from runhook.adapters.deliveries import QueueMessage
from runhook.webhook_models import Delivery
from runhook.webhooks import catalog

if TYPE_CHECKING:
    from runhook.adapters.deliveries import DeliveryQueue
    from runhook.dal.webhooks import DeliveryRepository, EndpointRepository

log = logging.getLogger("runhook.webhooks.dispatch")

SOURCE = "runhook"
_NAMESPACE = uuid.UUID("6f1c7a52-3d0e-4c55-9a57-0d9b8e6c2a11")


class InvalidEvent(ValueError):
    """The bus event lacks what a delivery needs; it is logged and skipped."""


@dataclass(frozen=True)
class RunEvent:
    """A run lifecycle event as it arrives from the bus."""

    event_id: str
    event_type: str
    org_id: str
    run_id: str | None
    task_id: str | None
    sequence: int | None
    occurred_at: str | None
    body: str  # the webhook body: the run resource, or the logs shape

    @property
    def key(self) -> str:
        """What makes this event unique: its `eventId` (the bus event's id for events
        published before details carried one)."""
        return self.event_id


@dataclass
class DispatchResult:
    event_type: str = ""
    skipped: str | None = None
    created: list[str] = field(default_factory=list)
    requeued: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)


def dumps_body(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def parse_event(event: Mapping[str, Any]) -> RunEvent | None:
    """The run event in an EventBridge event; None for events that are not webhooks."""
    if event.get("source") != SOURCE:
        return None
    event_type = str(event.get("detail-type", ""))
    if event_type not in catalog.EVENT_TYPES:
        return None
    detail = event.get("detail")
    if isinstance(detail, str):
        try:
            detail = json.loads(detail)
        except ValueError as exc:
            raise InvalidEvent("detail is not JSON") from exc
    if not isinstance(detail, dict) or not detail.get("orgId"):
        raise InvalidEvent("detail has no orgId")
    if event_type == catalog.LOG_EVENT:
        if not isinstance(detail.get("logEntries"), list):
            raise InvalidEvent("task-run.log without logEntries")
        body: Any = {"runId": detail.get("runId"), "logEntries": detail["logEntries"]}
    else:
        if not isinstance(detail.get("run"), dict):
            raise InvalidEvent(f"{event_type} without a run")
        body = detail["run"]
    return RunEvent(
        event_id=str(detail.get("eventId") or event.get("id") or "")
        or f"{detail.get('runId')}:{detail.get('sequence')}:{event_type}",
        event_type=event_type,
        org_id=str(detail["orgId"]),
        run_id=_str_or_none(detail.get("runId")),
        task_id=_str_or_none(detail.get("taskId")),
        sequence=_int_or_none(detail.get("sequence")),
        occurred_at=_str_or_none(detail.get("occurredAt")),
        body=dumps_body(body),
    )


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _int_or_none(value: Any) -> int | None:
    try:
        return None if value is None or isinstance(value, bool) else int(value)
    except (TypeError, ValueError):
        return None


def delivery_id(event_key: str, endpoint_id: str) -> str:
    """Deterministic: the same event for the same endpoint is always the same delivery."""
    return str(uuid.uuid5(_NAMESPACE, f"{event_key}/{endpoint_id}"))


def send_or_mark_due(
    queue: DeliveryQueue, deliveries: DeliveryRepository, messages: Sequence[QueueMessage]
) -> None:
    """Enqueue the messages; if that fails, put their deliveries in the sweeper's due index
    (best effort) and fail, so the event is tried again.

    A new delivery's head has no due entry (issue 16): its queue message carries the first
    attempt. A process killed between the head's write and the send leaves a pending
    delivery with neither: the failed invocation is retried (Lambda's async retries, then
    AsyncFailuresQueue), and the retry enqueues it again (`_create_or_requeue`, which puts
    it in the due index), as for an event that failed before any write.
    """
    try:
        queue.send(messages)
    except Exception:
        try:
            marked = deliveries.mark_due([(m.delivery_id, m.gen) for m in messages])
            log.warning("could not enqueue %d deliveries; %d marked due", len(messages), marked)
        except Exception:
            log.exception("could not mark %d unsent deliveries due", len(messages))
        raise


class Dispatcher:
    """Turns run events into deliveries on the queue (one per subscribed endpoint)."""

    def __init__(
        self,
        endpoints: EndpointRepository,
        deliveries: DeliveryRepository,
        queue: DeliveryQueue,
    ) -> None:
        self.endpoints = endpoints
        self.deliveries = deliveries
        self.queue = queue

    def dispatch(self, event: Mapping[str, Any]) -> DispatchResult:
        try:
            run_event = parse_event(event)
        except InvalidEvent as exc:
            log.warning("dropping malformed run event %s: %s", event.get("id"), exc)
            return DispatchResult(skipped=str(exc))
        if run_event is None:
            return DispatchResult(skipped="not a webhook event")
        return self.dispatch_run_event(run_event)

    def dispatch_run_event(self, event: RunEvent) -> DispatchResult:
        result = DispatchResult(event_type=event.event_type)
        targets = [
            (endpoint, name)
            for endpoint in self.endpoints.routes(event.org_id)
            if endpoint.enabled
            and (
                name := catalog.route(
                    endpoint.events, endpoint.task_id, event.event_type, event.task_id
                )
            )
        ]
        if not targets:
            result.skipped = "no subscribed endpoint"
            return result
        now = clock.now_iso()
        deliveries = [
            Delivery(
                id=(did := delivery_id(event.key, endpoint.id)),
                org_id=event.org_id,
                endpoint_id=endpoint.id,
                event_type=name,
                webhook_id=did,
                payload=event.body,
                created_at=now,
                updated_at=now,
                event_id=event.event_id or None,
                run_id=event.run_id,
                task_id=event.task_id,
                sequence=event.sequence,
            )
            for endpoint, name in targets
        ]
        messages: list[QueueMessage] = []
        if self.deliveries.create_many(deliveries):  # the common case: all new, one round trip
            result.created = [d.id for d in deliveries]
            messages = [QueueMessage.of(d) for d in deliveries]
        else:
            for delivery in deliveries:
                message = self._create_or_requeue(delivery, result)
                if message is not None:
                    messages.append(message)
        send_or_mark_due(self.queue, self.deliveries, messages)
        return result

    def _create_or_requeue(self, delivery: Delivery, result: DispatchResult) -> QueueMessage | None:
        """One delivery of an event seen before (a retried or duplicated event)."""
        if self.deliveries.create(delivery):
            result.created.append(delivery.id)
            return QueueMessage.of(delivery)
        # It exists: enqueue it again only if it was never tried (the first message may
        # never have been sent); the new generation makes any earlier message stale.
        again = self.deliveries.requeue(delivery.id, only_unattempted=True, statuses=["pending"])
        if again is None:
            result.existing.append(delivery.id)
            return None
        result.requeued.append(delivery.id)
        return QueueMessage.of(again)
