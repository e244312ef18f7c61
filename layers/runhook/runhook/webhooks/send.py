"""Send: sign and POST a batch of queued deliveries, in parallel, and record everything.

One SQS batch (partial failures reported) is sent on threads sharing one httpx
client (connection reuse), so a slow receiver only holds its own delivery. For each
message:

1. the endpoint is read (once per batch); deleted → the delivery fails; disabled →
   the delivery fails and goes straight to the DLQ (recoverable later);
2. the delivery is claimed (conditional update: right generation, still pending, no
   other attempt in flight) — stale or duplicate messages are dropped here;
3. the SSRF guard resolves the host now and may refuse: the attempt is recorded and
   the delivery dead-lettered;
4. POST with both signatures, a 15 s timeout and no redirects; the attempt is recorded
   (time, status, latency, error, response excerpt);
5. 2xx: done. 410: the endpoint is disabled. Other failures: the message's visibility
   is set to the schedule's next delay (`Retry-After` honoured on 429/503) and it is
   reported failed, so SQS hands it back then. The attempt number is the message's
   `ApproximateReceiveCount`; after the last attempt the delivery is marked failed
   and SQS redrives the message to the DLQ (`maxReceiveCount` = schedule + 1). If the
   queue's `maxReceiveCount` is larger than that, the sender dead-letters it itself.

Then each endpoint's health counters are updated once per batch, and an endpoint
failing continuously for WEBHOOK_DISABLE_AFTER_SECONDS (5 days) is disabled.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from runhook import __version__, clock
from runhook.dal import webhooks as store
from runhook.errors import RunhookError
from runhook.netguard import BlockedTarget, Resolver, check_url
from runhook.settings import Settings, get_settings
from runhook.webhooks import queue
from runhook.webhooks.models import (
    DISABLED_FAILING,
    DISABLED_GONE,
    Attempt,
    Delivery,
    DeliveryStatus,
    Endpoint,
)
from runhook.webhooks.schedule import parse_retry_after, retry_delay
from runhook.webhooks.signing import signature_headers

log = logging.getLogger("runhook.webhooks.send")

EXCERPT_CHARS = 1024
READ_LIMIT_BYTES = 64 * 1024  # read this much of a response (lets the connection be reused)
LEASE_MARGIN_SECONDS = 30.0
BUSY_RETRY_SECONDS = 2
USER_AGENT = f"runhook-webhooks/{__version__}"

_http_lock = threading.Lock()
_http: httpx.Client | None = None


def http_client() -> httpx.Client:
    """The container's shared client: keep-alive pool, no redirects, no proxies from env."""
    global _http
    with _http_lock:
        if _http is None:
            _http = httpx.Client(
                follow_redirects=False,
                trust_env=False,
                limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
                headers={"user-agent": USER_AGENT},
            )
        return _http


@dataclass(frozen=True)
class Record:
    """One message of Lambda's SQS event."""

    message_id: str
    receipt_handle: str
    body: str
    receive_count: int

    @classmethod
    def from_lambda(cls, record: Mapping[str, Any]) -> Record:
        attributes = record.get("attributes") or {}
        try:
            count = int(attributes.get("ApproximateReceiveCount", 1))
        except (TypeError, ValueError):
            count = 1
        return cls(
            message_id=str(record.get("messageId", "")),
            receipt_handle=str(record.get("receiptHandle", "")),
            body=str(record.get("body", "")),
            receive_count=max(1, count),
        )


@dataclass(frozen=True)
class Response:
    """What an attempt got back (status None: no HTTP answer)."""

    status: int | None
    latency_ms: int
    error: str | None = None
    excerpt: str | None = None
    retry_after: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass
class _Outcome:
    """The fate of one message."""

    message_id: str
    retry: bool = False  # report as a batch item failure (SQS hands it back)
    attempt: Attempt | None = None
    health: tuple[str, str, str, bool] | None = None  # org, endpoint, at, ok
    note: str = ""
    settle: Callable[[], None] | None = None  # record the result, then release the message


@dataclass
class BatchReport:
    failed_message_ids: list[str] = field(default_factory=list)
    outcomes: list[str] = field(default_factory=list)
    disabled_endpoints: list[str] = field(default_factory=list)


class _EndpointCache:
    """Endpoints read once per batch (many deliveries of a batch share an endpoint)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._locks: dict[tuple[str, str], threading.Lock] = defaultdict(threading.Lock)
        self._items: dict[tuple[str, str], Endpoint | None] = {}

    def get(self, org_id: str, endpoint_id: str) -> Endpoint | None:
        key = (org_id, endpoint_id)
        with self._lock:
            lock = self._locks[key]
        with lock:
            if key not in self._items:
                self._items[key] = store.get_endpoint(org_id, endpoint_id)
            return self._items[key]


class Sender:
    """Sends batches of deliveries. Pass `settings`, `http` and `resolver` in tests."""

    def __init__(
        self,
        *,
        settings: Settings | None = None,
        http: httpx.Client | None = None,
        resolver: Resolver | None = None,
        publish: Callable[[str, dict[str, Any]], None] | None = None,
        max_workers: int = 10,
    ) -> None:
        self.settings = settings or get_settings()
        self.http = http or http_client()
        self.resolver = resolver
        self.publish = publish or _publish_event
        self.max_workers = max_workers
        self.schedule = self.settings.retry_schedule
        self._max_receive: int | None = None

    # -- batch ---------------------------------------------------------------------------

    def send_batch(self, records: Sequence[Record]) -> BatchReport:
        cache = _EndpointCache()
        report = BatchReport()
        if not records:
            return report
        if self._max_receive is None and self.settings.deliveries_queue_url:
            self._max_receive = queue.max_receive_count()  # cached; None when unreadable
        workers = max(1, min(self.max_workers, len(records)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="webhook-send") as pool:
            outcomes = list(pool.map(lambda r: self._safe_process(r, cache), records))
            # Record before release: attempts first, then each delivery's state, and only
            # then does its message become visible again (or move to the DLQ).
            attempts = [o.attempt for o in outcomes if o.attempt is not None]
            if attempts:
                store.put_attempts(attempts)
            list(pool.map(self._safe_settle, outcomes))
        report.disabled_endpoints = self._record_health(outcomes)
        report.failed_message_ids = [o.message_id for o in outcomes if o.retry]
        report.outcomes = [o.note for o in outcomes]
        return report

    @staticmethod
    def _safe_settle(outcome: _Outcome) -> None:
        if outcome.settle is None:
            return
        try:
            outcome.settle()
        except Exception:
            log.exception("could not record delivery message %s", outcome.message_id)
            outcome.retry = True

    def _safe_process(self, record: Record, cache: _EndpointCache) -> _Outcome:
        try:
            return self._process(record, cache)
        except Exception:
            # Transient trouble (DynamoDB, SQS): SQS hands the message back later.
            log.exception("delivery message %s failed; it will be retried", record.message_id)
            return _Outcome(record.message_id, retry=True, note="error")

    # -- one message ---------------------------------------------------------------------

    def _process(self, record: Record, cache: _EndpointCache) -> _Outcome:
        message = queue.Message.parse(record.body)
        if message is None:
            log.error("dropping malformed delivery message %s", record.message_id)
            return _Outcome(record.message_id, note="malformed")
        endpoint = cache.get(message.org_id, message.endpoint_id)
        if endpoint is None:
            store.mark_failed(message.delivery_id, message.gen, "endpoint_deleted")
            return _Outcome(record.message_id, note="endpoint_deleted")
        if not endpoint.enabled:
            current = store.get_delivery(message.delivery_id)
            if current is None or current.gen != message.gen or current.status != "pending":
                return _Outcome(record.message_id, note="stale")
            if not current.test:  # a test send goes out even to a disabled endpoint
                # Failed without an attempt; dead-lettered so `recover` can replay it later.
                if store.mark_failed(message.delivery_id, message.gen, "endpoint_disabled"):
                    self._dead_letter(record, message)
                return _Outcome(record.message_id, note="endpoint_disabled")
        now = time.time()
        delivery = store.claim(
            message.delivery_id,
            message.gen,
            now=now,
            # connect + write + read can each take up to the timeout: lease generously
            lease_seconds=2 * self.settings.webhook_timeout_seconds + LEASE_MARGIN_SECONDS,
        )
        if delivery is None:
            return self._unclaimed(record, message, now)
        return self._attempt(record, message, delivery, endpoint)

    def _unclaimed(self, record: Record, message: queue.Message, now: float) -> _Outcome:
        current = store.get_delivery(message.delivery_id)
        if current is None or current.gen != message.gen or current.status != "pending":
            return _Outcome(record.message_id, note="stale")
        # Another attempt of this delivery is in flight: look again when its lease ends.
        wait = BUSY_RETRY_SECONDS
        if current.lease_until and current.lease_until > now:
            wait = math.ceil(current.lease_until - now) + 1
        queue.change_visibility(record.receipt_handle, min(wait, 43200))
        return _Outcome(record.message_id, retry=True, note="busy")

    def _dead_letter(self, record: Record, message: queue.Message) -> bool:
        """Move a message to the DLQ ourselves; False: leave it to SQS's redrive."""
        if not self.settings.deliveries_dlq_url:
            return False
        queue.send([message], url=self.settings.deliveries_dlq_url)
        return True

    def _attempt(
        self, record: Record, message: queue.Message, delivery: Delivery, endpoint: Endpoint
    ) -> _Outcome:
        started = clock.now()
        at = clock.iso(started)
        number = delivery.attempts
        response = self._post(delivery, endpoint, started, number)
        attempt_no = record.receive_count
        next_at: str | None = None
        visibility: int | None = None  # retry: hand the message back after this many seconds
        dead_letter = False
        status: DeliveryStatus
        if response.ok:
            status = "succeeded"
        elif response.status == 410:
            status = "failed"
            dead_letter = True
            if store.disable_endpoint(endpoint.org_id, endpoint.id, DISABLED_GONE):
                log.warning("endpoint %s answered 410 Gone: disabled", endpoint.id)
        elif response.error and response.error.startswith("blocked:"):
            status = "failed"  # the SSRF guard refused the target: retrying will not help
            dead_letter = True
        else:
            delay = retry_delay(
                attempt_no,
                self.schedule,
                max_receive_count=self._max_receive,
                status=response.status,
                retry_after=parse_retry_after(response.retry_after, started),
            )
            if delay is None:
                status = "failed"
                # SQS redrives it on the next receive when this was its last receive;
                # otherwise (the queue allows more receives than the schedule) we move it.
                if self._max_receive and attempt_no >= self._max_receive:
                    visibility = 0
                else:
                    dead_letter = True
            else:
                status = "pending"
                visibility = delay
                next_at = clock.iso(started + timedelta(seconds=delay))
        attempt = Attempt(
            delivery_id=delivery.id,
            endpoint_id=endpoint.id,
            number=number,
            at=at,
            ok=response.ok,
            status_code=response.status,
            latency_ms=response.latency_ms,
            error=response.error,
            response_excerpt=response.excerpt,
            next_attempt_at=next_at,
        )
        outcome = _Outcome(
            record.message_id,
            retry=visibility is not None,
            attempt=attempt,
            health=(endpoint.org_id, endpoint.id, at, response.ok),
            note="succeeded" if response.ok else ("retry" if next_at else "failed"),
        )

        def settle() -> None:
            store.finish_attempt(
                delivery.id,
                delivery.gen,
                status=status,
                at=at,
                status_code=response.status,
                error=response.error,
                next_attempt_at=next_at,
            )
            hand_back = visibility
            if dead_letter and not self._dead_letter(record, message):
                hand_back = 0  # no DLQ URL: let the redrive policy do it
            if hand_back is not None:
                queue.change_visibility(record.receipt_handle, hand_back)
                outcome.retry = True

        outcome.settle = settle
        return outcome

    # -- HTTP ----------------------------------------------------------------------------

    def headers(
        self, delivery: Delivery, endpoint: Endpoint, at: datetime, number: int
    ) -> dict[str, str]:
        body = delivery.payload.encode()
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "x-komos-event": delivery.event_type,
            "x-komos-endpoint-id": endpoint.id,
            "x-komos-delivery-id": delivery.id,
            "x-komos-attempt": str(number),
        }
        if delivery.run_id:
            headers["x-komos-run-id"] = delivery.run_id
        if delivery.task_id:
            headers["x-komos-task-id"] = delivery.task_id
        if delivery.sequence is not None:
            headers["x-komos-sequence"] = str(delivery.sequence)
        if delivery.test:
            headers["x-komos-test"] = "true"
        headers.update(
            signature_headers(
                endpoint.signing_secrets(at),
                msg_id=delivery.webhook_id,
                body=body,
                at=at,
                pepper=self.settings.webhook_pepper,
            )
        )
        return headers

    def _post(self, delivery: Delivery, endpoint: Endpoint, at: datetime, number: int) -> Response:
        start = time.monotonic()

        def elapsed() -> int:
            return int((time.monotonic() - start) * 1000)

        try:
            check_url(
                endpoint.url,
                allow_private=self.settings.allow_private_targets,
                resolver=self.resolver,
            )
        except BlockedTarget as exc:
            return Response(None, elapsed(), error=f"blocked: {exc.code}: {exc}")
        timeout_s = self.settings.webhook_timeout_seconds
        timeout = httpx.Timeout(timeout_s, connect=min(timeout_s, 10.0))
        deadline = start + timeout_s
        try:
            with self.http.stream(
                "POST",
                endpoint.url,
                content=delivery.payload.encode(),
                headers=self.headers(delivery, endpoint, at, number),
                timeout=timeout,
            ) as resp:
                raw = bytearray()
                for chunk in resp.iter_bytes():
                    raw.extend(chunk)
                    if len(raw) >= READ_LIMIT_BYTES or time.monotonic() > deadline:
                        break
                excerpt = bytes(raw[: EXCERPT_CHARS * 4]).decode("utf-8", "replace")
                error = None
                if 300 <= resp.status_code < 400:
                    error = "redirect_not_followed"
                elif not 200 <= resp.status_code < 300:
                    error = f"http_{resp.status_code}"
                return Response(
                    resp.status_code,
                    elapsed(),
                    error=error,
                    excerpt=excerpt[:EXCERPT_CHARS] or None,
                    retry_after=resp.headers.get("retry-after"),
                )
        except httpx.TimeoutException as exc:
            return Response(None, elapsed(), error=f"timeout: {type(exc).__name__}")
        except httpx.HTTPError as exc:
            return Response(None, elapsed(), error=f"connection: {type(exc).__name__}: {exc}"[:500])

    # -- health --------------------------------------------------------------------------

    def _record_health(self, outcomes: Sequence[_Outcome]) -> list[str]:
        grouped: dict[tuple[str, str], list[tuple[str, bool]]] = defaultdict(list)
        for outcome in outcomes:
            if outcome.health:
                org_id, endpoint_id, at, ok = outcome.health
                grouped[(org_id, endpoint_id)].append((at, ok))
        disabled: list[str] = []
        for (org_id, endpoint_id), results in grouped.items():
            try:
                endpoint = store.record_health(org_id, endpoint_id, results)
                if endpoint is not None and self._auto_disable(endpoint):
                    disabled.append(endpoint_id)
            except RunhookError:
                log.warning("health of endpoint %s not recorded", endpoint_id, exc_info=True)
        return disabled

    def _auto_disable(self, endpoint: Endpoint) -> bool:
        """Disable an endpoint that has failed continuously for too long (once, with an event)."""
        if not endpoint.enabled or not endpoint.failing_since or not endpoint.consecutive_failures:
            return False
        since = clock.parse_iso(endpoint.failing_since)
        limit = timedelta(seconds=self.settings.webhook_disable_after_seconds)
        if datetime.now(UTC) - since < limit:
            return False
        disabled = store.disable_endpoint(
            endpoint.org_id, endpoint.id, DISABLED_FAILING, failing_since=endpoint.failing_since
        )
        if disabled is None:
            return False
        log.warning("endpoint %s failing since %s: disabled", endpoint.id, endpoint.failing_since)
        try:
            self.publish(
                "webhook-endpoint.disabled",
                {
                    "orgId": endpoint.org_id,
                    "endpointId": endpoint.id,
                    "url": endpoint.url,
                    "reason": DISABLED_FAILING,
                    "failingSince": endpoint.failing_since,
                    "consecutiveFailures": endpoint.consecutive_failures,
                    "occurredAt": clock.now_iso(),
                },
            )
        except RunhookError:
            log.warning("could not publish the disabled event of %s", endpoint.id, exc_info=True)
        return True


def _publish_event(detail_type: str, detail: dict[str, Any]) -> None:
    from runhook.adapters import events

    events.publish([(detail_type, detail)])


_sender_lock = threading.Lock()
_sender: Sender | None = None


def default_sender() -> Sender:
    """One Sender per container (settings read once, shared HTTP client)."""
    global _sender
    with _sender_lock:
        if _sender is None or _sender.settings is not get_settings():
            _sender = Sender()
        return _sender


def handle_sqs_event(event: Mapping[str, Any]) -> dict[str, Any]:
    """Lambda's SQS event in, the partial batch response out."""
    records = [Record.from_lambda(r) for r in event.get("Records") or []]
    report = default_sender().send_batch(records)
    return {"batchItemFailures": [{"itemIdentifier": i} for i in report.failed_message_ids]}
