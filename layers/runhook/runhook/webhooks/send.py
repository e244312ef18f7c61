"""Send: sign and POST a batch of queued deliveries, in parallel, and record everything.

One SQS batch (partial failures reported) is sent on threads sharing one httpx
client (connection reuse), so a slow receiver only holds its own delivery. For each
message:

1. the endpoint is read (once per batch); deleted → the delivery fails; disabled →
   the delivery fails and goes straight to the DLQ (recoverable later);
2. the delivery is claimed (conditional update: right generation, still pending, no
   other attempt in flight) — stale or duplicate messages are dropped here;
3. the SSRF guard checks the URL (scheme, https, an IP literal) and may refuse: the
   attempt is recorded and the delivery dead-lettered;
4. POST with both signatures, a 15 s timeout and no redirects, through the guarded
   transport (runhook.netguard): a new connection resolves the host once, vets every
   address and connects only to a vetted one (TLS and `Host` keep the real name), so
   a DNS answer that changes after the check (rebinding) is never used; a refusal
   there is recorded and dead-lettered like one at step 3. The attempt is recorded
   (time, status, latency, error, response excerpt);
5. 2xx: done. 410: the endpoint is disabled. Other failures: the message's visibility
   is set to the schedule's next delay (`Retry-After` honoured on 429/503) and it is
   reported failed, so SQS hands it back then. The attempt number is the message's
   `ApproximateReceiveCount`; after the last attempt the delivery is marked failed
   and SQS redrives the message to the DLQ (`maxReceiveCount` = schedule + 1). If the
   queue's `maxReceiveCount` is larger than that, the sender dead-letters it itself.

Then each endpoint's health counters are updated once per batch, and only when they
change (a success after a success within SUCCESS_STAMP_SECONDS writes nothing), and an
endpoint failing continuously for WEBHOOK_DISABLE_AFTER_SECONDS (5 days) is disabled.

Write units (issue 16): the bodies of a batch are read in one BatchGetItem (they live
in their own items, written once at dispatch); a successful attempt is recorded in the
delivery's final update, a failed one in an attempt item written before that update.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx

from runhook import __version__, clock
from runhook.adapters.deliveries import QueueMessage
from runhook.errors import RunhookError
from runhook.netguard import BlockedTarget, Resolver, guarded_transport, parse_target
from runhook.settings import Settings
from runhook.webhook_models import (
    DISABLED_FAILING,
    DISABLED_GONE,
    Attempt,
    Delivery,
    DeliveryStatus,
    Endpoint,
)
from runhook.webhooks.schedule import MAX_VISIBILITY_SECONDS, retry_delay
from runhook.webhooks.signing import signature_headers

if TYPE_CHECKING:
    import httpcore

    from runhook.adapters.deliveries import DeliveryQueue
    from runhook.dal.webhooks import DeliveryRepository, EndpointRepository

log = logging.getLogger("runhook.webhooks.send")

EXCERPT_CHARS = 1024
READ_LIMIT_BYTES = 64 * 1024  # read this much of a response (lets the connection be reused)
LEASE_MARGIN_SECONDS = 30.0
BUSY_RETRY_SECONDS = 2
# A steady run of successes refreshes an endpoint's `lastSuccessAt` at most this often
# (the API key's `lastUsedAt` works the same way): health costs no write per delivery.
SUCCESS_STAMP_SECONDS = 60.0
USER_AGENT = f"runhook-webhooks/{__version__}"

Publish = Callable[[str, dict[str, Any]], None]  # (detail-type, detail) on the bus


def new_http_client(
    settings: Settings,
    *,
    resolver: Resolver | None = None,
    network: httpcore.NetworkBackend | None = None,
) -> httpx.Client:
    """A keep-alive pool, no redirects, no proxies from the environment (one per Sender).

    Every connection goes through the SSRF guard's transport (resolve once, vet, connect
    to the vetted address); `resolver` and `network` are its seams for tests.
    """
    transport = guarded_transport(
        allow_private=settings.allow_private_targets,
        resolver=resolver,
        network=network,
        limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
    )
    return httpx.Client(
        transport=transport,
        follow_redirects=False,
        trust_env=False,
        headers={"user-agent": USER_AGENT},
    )


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


@dataclass(frozen=True)
class Verdict:
    """What an attempt's response means for its delivery (see `judge`)."""

    status: DeliveryStatus
    next_attempt_at: str | None = None
    visibility: int | None = None  # hand the message back after this many seconds
    dead_letter: bool = False  # move the message to the DLQ ourselves
    gone: bool = False  # the receiver answered 410: disable the endpoint


def judge(
    response: Response,
    *,
    attempt_no: int,
    schedule: Sequence[float],
    max_receive: int | None,
    started: datetime,
) -> Verdict:
    """The fate of a delivery after attempt number `attempt_no` (pure).

    2xx: done. 410: failed, dead-lettered, endpoint disabled. Refused by the SSRF guard:
    failed and dead-lettered (retrying will not help). Otherwise the schedule's next
    delay (Retry-After honoured on 429/503), or, after the last attempt, failed: SQS
    redrives it when this was its last receive, else we dead-letter it ourselves.
    """
    if response.ok:
        return Verdict("succeeded")
    if response.status == 410:
        return Verdict("failed", dead_letter=True, gone=True)
    if response.error and response.error.startswith("blocked:"):
        return Verdict("failed", dead_letter=True)
    delay = retry_delay(
        attempt_no,
        schedule,
        max_receive_count=max_receive,
        status=response.status,
        retry_after=clock.parse_retry_after(response.retry_after, started),
    )
    if delay is None:
        if max_receive and attempt_no >= max_receive:
            return Verdict("failed", visibility=0)
        return Verdict("failed", dead_letter=True)
    next_at = clock.iso(started + timedelta(seconds=delay))
    return Verdict("pending", next_attempt_at=next_at, visibility=delay)


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

    def __init__(self, endpoints: EndpointRepository) -> None:
        self._endpoints = endpoints
        self._lock = threading.Lock()
        self._locks: dict[tuple[str, str], threading.Lock] = defaultdict(threading.Lock)
        self._items: dict[tuple[str, str], Endpoint | None] = {}

    def cached(self, org_id: str, endpoint_id: str) -> Endpoint | None:
        """The endpoint as this batch read it (None if not read or missing)."""
        with self._lock:
            return self._items.get((org_id, endpoint_id))

    def get(self, org_id: str, endpoint_id: str) -> Endpoint | None:
        key = (org_id, endpoint_id)
        with self._lock:
            lock = self._locks[key]
        with lock:
            if key not in self._items:
                self._items[key] = self._endpoints.get(org_id, endpoint_id)
            return self._items[key]


class Poster:
    """Signs and POSTs one delivery: SSRF guard first, no redirects, a bounded read.

    `http` is the Sender's guarded client (`new_http_client`); the guard's transport
    does the DNS part of the check when it connects.
    """

    def __init__(self, settings: Settings, http: httpx.Client) -> None:
        self.settings = settings
        self.http = http

    def headers(
        self, delivery: Delivery, endpoint: Endpoint, at: datetime, number: int
    ) -> dict[str, str]:
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
                body=delivery.payload.encode(),
                at=at,
                pepper=self.settings.webhook_pepper,
            )
        )
        return headers

    def post(self, delivery: Delivery, endpoint: Endpoint, at: datetime, number: int) -> Response:
        start = time.monotonic()

        def elapsed() -> int:
            return int((time.monotonic() - start) * 1000)

        try:
            parse_target(endpoint.url, allow_private=self.settings.allow_private_targets)
        except BlockedTarget as exc:
            return Response(None, elapsed(), error=f"blocked: {exc.code}: {exc}")
        timeout_s = self.settings.webhook_timeout_seconds
        timeout = httpx.Timeout(timeout_s, connect=min(timeout_s, 10.0))
        try:
            with self.http.stream(
                "POST",
                endpoint.url,
                content=delivery.payload.encode(),
                headers=self.headers(delivery, endpoint, at, number),
                timeout=timeout,
            ) as resp:
                excerpt = _read_excerpt(resp, deadline=start + timeout_s)
                error = None
                if 300 <= resp.status_code < 400:
                    error = "redirect_not_followed"
                elif not 200 <= resp.status_code < 300:
                    error = f"http_{resp.status_code}"
                return Response(
                    resp.status_code,
                    elapsed(),
                    error=error,
                    excerpt=excerpt or None,
                    retry_after=resp.headers.get("retry-after"),
                )
        except BlockedTarget as exc:  # the host resolved to an address that may not be called
            return Response(None, elapsed(), error=f"blocked: {exc.code}: {exc}")
        except httpx.TimeoutException as exc:
            return Response(None, elapsed(), error=f"timeout: {type(exc).__name__}")
        except httpx.HTTPError as exc:
            return Response(None, elapsed(), error=f"connection: {type(exc).__name__}: {exc}"[:500])


def _read_excerpt(resp: httpx.Response, *, deadline: float) -> str:
    """The start of the response body (read up to READ_LIMIT_BYTES or the deadline)."""
    raw = bytearray()
    for chunk in resp.iter_bytes():
        raw.extend(chunk)
        if len(raw) >= READ_LIMIT_BYTES or time.monotonic() > deadline:
            break
    return bytes(raw[: EXCERPT_CHARS * 4]).decode("utf-8", "replace")[:EXCERPT_CHARS]


def health_unchanged(endpoint: Endpoint, results: Sequence[tuple[str, bool]]) -> bool:
    """True when recording `results` (at, ok) would change nothing worth a write (pure):
    all succeeded, the endpoint had no failure streak, and its `lastSuccessAt` is at
    most SUCCESS_STAMP_SECONDS older than the newest of them."""
    if not results or not all(ok for _, ok in results):
        return False
    if endpoint.consecutive_failures or endpoint.failing_since or not endpoint.last_success_at:
        return False
    newest = max(at for at, _ in results)
    age = clock.parse_iso(newest) - clock.parse_iso(endpoint.last_success_at)
    return age.total_seconds() < SUCCESS_STAMP_SECONDS


class HealthKeeper:
    """Folds a batch's outcomes into each endpoint's health; disables the hopeless ones."""

    def __init__(self, settings: Settings, endpoints: EndpointRepository, publish: Publish) -> None:
        self.settings = settings
        self.endpoints = endpoints
        self.publish = publish

    def record(
        self, outcomes: Sequence[_Outcome], known: _EndpointCache | None = None
    ) -> list[str]:
        """Update each endpoint at most once per batch (not at all when only its
        `lastSuccessAt` would move by less than SUCCESS_STAMP_SECONDS, as `known`, the
        batch's read of it, tells); the ids of the endpoints disabled now."""
        grouped: dict[tuple[str, str], list[tuple[str, bool]]] = defaultdict(list)
        for outcome in outcomes:
            if outcome.health:
                org_id, endpoint_id, at, ok = outcome.health
                grouped[(org_id, endpoint_id)].append((at, ok))
        disabled: list[str] = []
        for (org_id, endpoint_id), results in grouped.items():
            seen = known.cached(org_id, endpoint_id) if known else None
            if seen is not None and health_unchanged(seen, results):
                continue
            try:
                endpoint = self.endpoints.record_health(org_id, endpoint_id, results)
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
        disabled = self.endpoints.disable(
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


class Sender:
    """Sends batches of deliveries (one Sender per container: it holds the HTTP pool)."""

    def __init__(
        self,
        *,
        settings: Settings,
        endpoints: EndpointRepository,
        deliveries: DeliveryRepository,
        queue: DeliveryQueue,
        publish: Publish,
        http: httpx.Client | None = None,
        resolver: Resolver | None = None,
        network: httpcore.NetworkBackend | None = None,
        max_workers: int = 10,
    ) -> None:
        """`resolver`/`network` are the guarded client's DNS and socket seams (tests);
        `http` replaces the client whole (unit tests answer with httpx.MockTransport)."""
        self.settings = settings
        self.endpoints = endpoints
        self.deliveries = deliveries
        self.queue = queue
        client = http or new_http_client(settings, resolver=resolver, network=network)
        self.poster = Poster(settings, client)
        self.health = HealthKeeper(settings, endpoints, publish)
        self.max_workers = max_workers
        self.schedule = settings.retry_schedule
        self._max_receive: int | None = None

    # -- batch ---------------------------------------------------------------------------

    def send_batch(self, records: Sequence[Record]) -> BatchReport:
        cache = _EndpointCache(self.endpoints)
        report = BatchReport()
        if not records:
            return report
        if self._max_receive is None and self.settings.deliveries_queue_url:
            self._max_receive = self.queue.max_receive_count()  # None when unreadable
        # A pool per batch: concurrent batches of one container never queue behind each
        # other. One thread more than the messages: the batch's bodies are read while the
        # endpoint is read and the deliveries are claimed.
        workers = max(1, min(self.max_workers, len(records))) + 1
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="webhook-send") as pool:
            bodies = pool.submit(self._bodies, records)
            # Each message is settled by the thread that sent it, as soon as it is sent: a
            # fast delivery's result is not held behind the batch's slowest claim or POST.
            outcomes = list(
                pool.map(lambda r: self._settled(self._safe_process(r, cache, bodies)), records)
            )
        report.disabled_endpoints = self.health.record(outcomes, cache)
        report.failed_message_ids = [o.message_id for o in outcomes if o.retry]
        report.outcomes = [o.note for o in outcomes]
        return report

    def _bodies(self, records: Sequence[Record]) -> dict[str, str]:
        """The batch's payloads in one read; {} on trouble (each message then reads its
        own in `_process`, or is retried)."""
        ids = [m.delivery_id for r in records if (m := QueueMessage.parse(r.body)) is not None]
        try:
            return self.deliveries.payloads(ids)
        except RunhookError:
            log.warning("could not read the batch's payloads", exc_info=True)
            return {}

    @staticmethod
    def _settled(outcome: _Outcome) -> _Outcome:
        """Record before release: a failed attempt's item, then the delivery's state (a
        success rides on that update), and only then does its message become visible
        again (or move to the DLQ)."""
        if outcome.settle is None:
            return outcome
        try:
            outcome.settle()
        except Exception:
            log.exception("could not record delivery message %s", outcome.message_id)
            outcome.retry = True
        return outcome

    def _safe_process(
        self, record: Record, cache: _EndpointCache, bodies: Future[dict[str, str]]
    ) -> _Outcome:
        try:
            return self._process(record, cache, bodies)
        except Exception:
            # Transient trouble (DynamoDB, SQS): SQS hands the message back later.
            log.exception("delivery message %s failed; it will be retried", record.message_id)
            return _Outcome(record.message_id, retry=True, note="error")

    # -- one message ---------------------------------------------------------------------

    def _process(
        self, record: Record, cache: _EndpointCache, bodies: Future[dict[str, str]]
    ) -> _Outcome:
        message = QueueMessage.parse(record.body)
        if message is None:
            log.error("dropping malformed delivery message %s", record.message_id)
            return _Outcome(record.message_id, note="malformed")
        endpoint = cache.get(message.org_id, message.endpoint_id)
        if endpoint is None:
            self.deliveries.mark_failed(message.delivery_id, message.gen, "endpoint_deleted")
            return _Outcome(record.message_id, note="endpoint_deleted")
        if not endpoint.enabled:
            current = self.deliveries.get(message.delivery_id)
            if current is None or current.gen != message.gen or current.status != "pending":
                return _Outcome(record.message_id, note="stale")
            if not current.test:  # a test send goes out even to a disabled endpoint
                # Failed without an attempt; dead-lettered so `recover` can replay it later.
                if self.deliveries.mark_failed(
                    message.delivery_id, message.gen, "endpoint_disabled"
                ):
                    self._dead_letter(message)
                return _Outcome(record.message_id, note="endpoint_disabled")
        now = time.time()
        delivery = self.deliveries.claim(
            message.delivery_id,
            message.gen,
            now=now,
            # connect + write + read can each take up to the timeout: lease generously
            lease_seconds=2 * self.settings.webhook_timeout_seconds + LEASE_MARGIN_SECONDS,
        )
        if delivery is None:
            return self._unclaimed(record, message, now)
        if not delivery.payload:  # the new layout: the body is in its own item
            body = bodies.result().get(delivery.id)
            if body is None:
                body = self.deliveries.payloads([delivery.id]).get(delivery.id)
            if body is None:  # cannot happen (written before the head): let SQS retry
                raise RuntimeError(f"delivery {delivery.id} has no payload")
            delivery = delivery.model_copy(update={"payload": body})
        return self._attempt(record, message, delivery, endpoint)

    def _unclaimed(self, record: Record, message: QueueMessage, now: float) -> _Outcome:
        current = self.deliveries.get(message.delivery_id)
        if current is None or current.gen != message.gen or current.status != "pending":
            return _Outcome(record.message_id, note="stale")
        # Another attempt of this delivery is in flight: look again when its lease ends.
        wait = BUSY_RETRY_SECONDS
        lease_until = current.lease_until  # epoch seconds, like `now`
        if lease_until and lease_until > now:
            wait = math.ceil(lease_until - now) + 1
        self.queue.change_visibility(record.receipt_handle, min(wait, MAX_VISIBILITY_SECONDS))
        return _Outcome(record.message_id, retry=True, note="busy")

    def _dead_letter(self, message: QueueMessage) -> bool:
        """Move a message to the DLQ ourselves; False: leave it to SQS's redrive."""
        if not self.settings.deliveries_dlq_url:
            return False
        self.queue.send([message], dead_letter=True)
        return True

    def _attempt(
        self, record: Record, message: QueueMessage, delivery: Delivery, endpoint: Endpoint
    ) -> _Outcome:
        started = clock.now()
        at = clock.iso(started)
        response = self.poster.post(delivery, endpoint, started, delivery.attempts)
        verdict = judge(
            response,
            attempt_no=record.receive_count,
            schedule=self.schedule,
            max_receive=self._max_receive,
            started=started,
        )
        if verdict.gone and self.endpoints.disable(endpoint.org_id, endpoint.id, DISABLED_GONE):
            log.warning("endpoint %s answered 410 Gone: disabled", endpoint.id)
        outcome = _Outcome(
            record.message_id,
            retry=verdict.visibility is not None,
            attempt=Attempt(
                delivery_id=delivery.id,
                endpoint_id=endpoint.id,
                number=delivery.attempts,
                at=at,
                ok=response.ok,
                status_code=response.status,
                latency_ms=response.latency_ms,
                error=response.error,
                response_excerpt=response.excerpt,
                next_attempt_at=verdict.next_attempt_at,
            ),
            health=(endpoint.org_id, endpoint.id, at, response.ok),
            note="succeeded" if response.ok else ("retry" if verdict.next_attempt_at else "failed"),
        )

        attempt = outcome.attempt

        def settle() -> None:
            if attempt is not None and not attempt.ok:
                self.deliveries.put_attempts([attempt])
            self.deliveries.finish_attempt(
                delivery.id,
                delivery.gen,
                status=verdict.status,
                at=at,
                status_code=response.status,
                error=response.error,
                next_attempt_at=verdict.next_attempt_at,
                success=attempt if attempt is not None and attempt.ok else None,
            )
            hand_back = verdict.visibility
            if verdict.dead_letter and not self._dead_letter(message):
                hand_back = 0  # no DLQ URL: let the redrive policy do it
            if hand_back is not None:
                self.queue.change_visibility(record.receipt_handle, hand_back)
                outcome.retry = True

        outcome.settle = settle
        return outcome
