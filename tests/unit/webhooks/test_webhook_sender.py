"""The sender's decisions, with an in-memory store and queue and httpx's MockTransport.

The same paths run for real on the local cloud in tests/e2e/webhooks; these pin the
arithmetic and the branches (schedule, Retry-After, 410, last attempt, self dead-letter,
SSRF refusal, stale messages) fast and exactly.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from runhook import clock
from runhook.adapters.deliveries import QueueMessage as Message
from runhook.settings import Settings
from runhook.webhook_models import Attempt, Delivery, Endpoint
from runhook.webhooks import generate_secret, send

ORG = "org-1"
SECRET = generate_secret()


def replace(model: Any, **changes: Any) -> Any:
    """A copy of a (frozen) model with `changes`."""
    return model.model_copy(update=changes)


class FakeStore:
    """The endpoint and delivery repositories in memory (`endpoint_repo`, `delivery_repo`)."""

    def __init__(self) -> None:
        self.endpoints: dict[str, Endpoint] = {}
        self.deliveries: dict[str, Delivery] = {}
        self.attempts: list[Attempt] = []
        self.health: list[tuple[str, list[tuple[str, bool]]]] = []
        self.endpoint_repo = FakeEndpoints(self)
        self.delivery_repo = FakeDeliveries(self)


class FakeEndpoints:
    def __init__(self, store: FakeStore) -> None:
        self.store = store

    def get(self, org_id: str, endpoint_id: str) -> Endpoint | None:
        return self.store.endpoints.get(endpoint_id)

    def record_health(self, org_id: str, endpoint_id: str, outcomes: Any) -> Endpoint | None:
        self.store.health.append((endpoint_id, list(outcomes)))
        e = self.store.endpoints[endpoint_id]
        if all(not ok for _, ok in outcomes):
            e = replace(
                e,
                consecutive_failures=e.consecutive_failures + len(outcomes),
                failing_since=e.failing_since or min(at for at, _ in outcomes),
            )
        else:
            e = replace(e, consecutive_failures=0, failing_since=None)
        self.store.endpoints[endpoint_id] = e
        return e

    def disable(self, org_id: str, endpoint_id: str, reason: str, **_: Any) -> Any:
        e = self.store.endpoints[endpoint_id]
        if not e.enabled:
            return None
        e = replace(e, enabled=False, disabled_reason=reason)
        self.store.endpoints[endpoint_id] = e
        return e


class FakeDeliveries:
    def __init__(self, store: FakeStore) -> None:
        self.store = store

    def get(self, delivery_id: str) -> Delivery | None:
        return self.store.deliveries.get(delivery_id)

    def claim(self, delivery_id: str, gen: int, *, now: float, lease_seconds: float) -> Any:
        d = self.store.deliveries.get(delivery_id)
        if d is None or d.gen != gen or d.status != "pending":
            return None
        if d.lease_until and d.lease_until > now:
            return None
        lease_ms = int((now + lease_seconds) * 1000)
        d = replace(d, attempts=d.attempts + 1, lease_until_ms=lease_ms)
        self.store.deliveries[delivery_id] = d
        return d

    def finish_attempt(self, delivery_id: str, gen: int, **fields: Any) -> bool:
        d = self.store.deliveries[delivery_id]
        self.store.deliveries[delivery_id] = replace(
            d,
            status=fields["status"],
            last_status_code=fields["status_code"],
            last_error=fields["error"],
            next_attempt_at=fields["next_attempt_at"],
            lease_until_ms=None,
        )
        if fields.get("success") is not None:  # a success rides on this update (issue 16)
            self.store.attempts.append(fields["success"])
        return True

    def payloads(self, delivery_ids: list[str]) -> dict[str, str]:
        return {}  # the fakes keep each payload on its delivery, as items written before did

    def mark_failed(self, delivery_id: str, gen: int, error: str) -> bool:
        d = self.store.deliveries.get(delivery_id)
        if d is None or d.gen != gen or d.status != "pending":
            return False
        self.store.deliveries[delivery_id] = replace(d, status="failed", last_error=error)
        return True

    def put_attempts(self, attempts: list[Attempt]) -> None:
        self.store.attempts.extend(attempts)


class FakeQueue:
    def __init__(self, dlq_url: str, max_receive: int | None = 8) -> None:
        self.dlq_url = dlq_url
        self.visibility: list[tuple[str, int]] = []
        self.sent: list[tuple[str | None, Message]] = []
        self.max_receive = max_receive

    def change_visibility(self, receipt_handle: str, seconds: int) -> None:
        self.visibility.append((receipt_handle, seconds))

    def send(self, messages: list[Message], *, dead_letter: bool = False) -> None:
        self.sent.extend((self.dlq_url if dead_letter else None, m) for m in messages)

    def max_receive_count(self) -> int | None:
        return self.max_receive


class Harness:
    """A Sender over the fakes. Its HTTP answers come from `answer` (httpx.MockTransport),
    unless `resolver` or `network` is given: then it sends through its own guarded client
    (runhook.netguard) with that fake DNS and network, as the rebinding tests do."""

    def __init__(self, *, resolver: Any = None, network: Any = None, **settings: Any) -> None:
        self.store = FakeStore()
        self.requests: list[httpx.Request] = []
        self.answer: Any = httpx.Response(200, text="ok")
        self.published: list[tuple[str, dict[str, Any]]] = []
        values = {
            "WEBHOOK_RETRY_SCHEDULE": "5,300,1800,7200,18000,36000,36000",
            "ALLOW_PRIVATE_TARGETS": True,
            "DELIVERIES_QUEUE_URL": "https://sqs/queue",
            "DELIVERIES_DLQ_URL": "https://sqs/dlq",
            **settings,
        }
        self.settings = Settings.model_validate(values)
        self.queue = FakeQueue(self.settings.deliveries_dlq_url)

        def handler(request: httpx.Request) -> httpx.Response:
            self.requests.append(request)
            answer = self.answer(request) if callable(self.answer) else self.answer
            if isinstance(answer, Exception):
                raise answer
            return answer

        guarded = resolver is not None or network is not None
        http = (
            None
            if guarded
            else httpx.Client(transport=httpx.MockTransport(handler), follow_redirects=False)
        )
        self.sender = send.Sender(
            settings=self.settings,
            endpoints=self.store.endpoint_repo,  # type: ignore[arg-type]
            deliveries=self.store.delivery_repo,  # type: ignore[arg-type]
            queue=self.queue,  # type: ignore[arg-type]
            http=http,
            resolver=resolver,
            network=network,
            publish=lambda t, d: self.published.append((t, d)),
        )

    def endpoint(self, url: str = "http://127.0.0.1:9/hook", **fields: Any) -> Endpoint:
        now = clock.now_iso()
        e = Endpoint(
            id=f"ep-{len(self.store.endpoints)}",
            org_id=ORG,
            url=url,
            secret=SECRET,
            created_at=now,
            updated_at=now,
            **fields,
        )
        self.store.endpoints[e.id] = e
        return e

    def delivery(self, endpoint: Endpoint, **fields: Any) -> Delivery:
        did = f"d-{len(self.store.deliveries)}"
        d = Delivery(
            id=did,
            org_id=ORG,
            endpoint_id=endpoint.id,
            event_type="task-run.completed",
            webhook_id=did,
            payload=json.dumps({"id": "run-1", "status": "COMPLETED"}),
            created_at=clock.now_iso(),
            run_id="run-1",
            task_id="task-1",
            sequence=4,
            **fields,
        )
        self.store.deliveries[did] = d
        return d

    def run(self, delivery: Delivery, receive_count: int = 1, gen: int | None = None) -> Any:
        message = Message(
            delivery.id,
            delivery.endpoint_id,
            ORG,
            delivery.created_at,
            delivery.gen if gen is None else gen,
        )
        record = send.Record("m-1", "rh-1", message.body(), receive_count)
        return self.sender.send_batch([record])

    def state(self, delivery: Delivery) -> Delivery:
        return self.store.deliveries[delivery.id]


@pytest.fixture()
def h() -> Harness:
    return Harness()


def test_success_is_signed_recorded_and_acked(h: Harness) -> None:
    d = h.delivery(h.endpoint())
    report = h.run(d)
    assert report.failed_message_ids == [] and report.outcomes == ["succeeded"]
    (request,) = h.requests
    headers = dict(request.headers)
    assert Webhook(SECRET).verify(request.content, headers)["status"] == "COMPLETED"
    assert headers["webhook-id"] == d.id and headers["x-komos-event"] == "task-run.completed"
    assert headers["x-komos-run-id"] == "run-1" and headers["x-komos-sequence"] == "4"
    assert headers["x-komos-attempt"] == "1" and headers["x-komos-endpoint-id"] == "ep-0"
    assert h.state(d).status == "succeeded" and h.state(d).lease_until is None
    (attempt,) = h.store.attempts
    assert attempt.ok and attempt.status_code == 200 and attempt.response_excerpt == "ok"
    assert h.queue.visibility == [] and h.queue.sent == []
    assert h.store.health == [("ep-0", [(attempt.at, True)])]


@pytest.mark.parametrize(("receive_count", "delay"), [(1, 5), (2, 300), (3, 1800), (7, 36000)])
def test_failure_backs_off_by_the_schedule(h: Harness, receive_count: int, delay: int) -> None:
    h.answer = httpx.Response(500, text="boom")
    d = h.delivery(h.endpoint())
    report = h.run(d, receive_count=receive_count)
    assert report.failed_message_ids == ["m-1"]
    assert h.queue.visibility == [("rh-1", delay)]
    state = h.state(d)
    assert state.status == "pending" and state.last_status_code == 500
    assert state.last_error == "http_500"
    next_at = clock.parse_iso(state.next_attempt_at or "")
    expected = datetime.now(UTC) + timedelta(seconds=delay)
    assert abs((next_at - expected).total_seconds()) < 5
    assert h.store.attempts[0].next_attempt_at == state.next_attempt_at


def test_retry_after_on_429(h: Harness) -> None:
    h.answer = httpx.Response(429, headers={"Retry-After": "120"})
    h.run(h.delivery(h.endpoint()))
    assert h.queue.visibility == [("rh-1", 120)]


def test_last_attempt_is_redriven_by_sqs(h: Harness) -> None:
    h.answer = httpx.Response(503)
    d = h.delivery(h.endpoint())
    report = h.run(d, receive_count=8)
    assert report.failed_message_ids == ["m-1"]  # visible at once: SQS moves it to the DLQ
    assert h.queue.visibility == [("rh-1", 0)] and h.queue.sent == []
    assert h.state(d).status == "failed" and h.state(d).next_attempt_at is None


def test_queue_allowing_more_receives_than_the_schedule() -> None:
    h = Harness(WEBHOOK_RETRY_SCHEDULE="1,1")
    h.answer = httpx.Response(500)
    d = h.delivery(h.endpoint())
    assert h.run(d, receive_count=2).failed_message_ids == ["m-1"]
    report = h.run(d, receive_count=3)  # the schedule's last attempt; the queue allows 8
    assert report.failed_message_ids == []
    assert [(url, m.delivery_id) for url, m in h.queue.sent] == [("https://sqs/dlq", d.id)]
    assert h.state(d).status == "failed" and h.state(d).attempts == 2


def test_410_disables_and_dead_letters(h: Harness) -> None:
    h.answer = httpx.Response(410)
    endpoint = h.endpoint()
    d = h.delivery(endpoint)
    assert h.run(d).failed_message_ids == []
    assert h.store.endpoints[endpoint.id].disabled_reason == "endpoint_gone"
    assert h.state(d).status == "failed" and len(h.queue.sent) == 1
    # The next delivery for it is failed without an attempt and dead-lettered too.
    d2 = h.delivery(endpoint)
    assert h.run(d2).outcomes == ["endpoint_disabled"]
    assert len(h.requests) == 1 and h.state(d2).last_error == "endpoint_disabled"
    assert len(h.queue.sent) == 2


def test_redirects_are_failures_and_not_followed(h: Harness) -> None:
    h.answer = httpx.Response(302, headers={"Location": "http://127.0.0.1:9/elsewhere"})
    d = h.delivery(h.endpoint())
    h.run(d)
    assert len(h.requests) == 1
    assert h.state(d).last_error == "redirect_not_followed" and h.state(d).status == "pending"


def test_timeouts_and_connection_errors(h: Harness) -> None:
    h.answer = httpx.ReadTimeout("slow")
    d = h.delivery(h.endpoint())
    h.run(d)
    assert (h.state(d).last_error or "").startswith("timeout")
    h.answer = httpx.ConnectError("refused")
    d2 = h.delivery(h.endpoint())
    h.run(d2)
    assert (h.state(d2).last_error or "").startswith("connection: ConnectError")


@pytest.mark.parametrize(
    "url",
    [
        "https://10.0.0.1/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]/hook",
        "https://127.0.0.1/hook",
        "http://hooks.example.com/hook",
    ],
)
def test_deployed_mode_refuses_and_records(url: str) -> None:
    h = Harness(ALLOW_PRIVATE_TARGETS=False)
    d = h.delivery(h.endpoint(url))
    assert h.run(d).failed_message_ids == []
    assert h.requests == []
    (attempt,) = h.store.attempts
    assert not attempt.ok and attempt.status_code is None
    assert (attempt.error or "").startswith("blocked: ")
    assert h.state(d).status == "failed" and len(h.queue.sent) == 1


def test_deployed_mode_sends_to_public_https() -> None:
    h = Harness(ALLOW_PRIVATE_TARGETS=False)
    d = h.delivery(h.endpoint("https://hooks.example.com/runhook"))
    h.run(d)
    assert len(h.requests) == 1 and h.state(d).status == "succeeded"


def test_stale_and_busy_messages(h: Harness) -> None:
    d = h.delivery(h.endpoint(), gen=2)
    assert h.run(d, gen=1).outcomes == ["stale"]  # replayed since: the old message is dropped
    assert h.requests == [] and h.queue.visibility == []
    h.store.deliveries[d.id] = replace(d, lease_until_ms=(clock.epoch() + 30) * 1000)
    report = h.run(d)
    assert report.outcomes == ["busy"] and report.failed_message_ids == ["m-1"]
    assert h.queue.visibility and 30 <= h.queue.visibility[0][1] <= 32
    h.store.deliveries[d.id] = replace(d, status="succeeded")
    assert h.run(d).outcomes == ["stale"]
    assert h.requests == []


def test_rotation_signs_with_both_secrets(h: Harness) -> None:
    old = generate_secret()
    future = clock.iso(datetime.now(UTC) + timedelta(hours=1))
    d = h.delivery(h.endpoint(previous_secret=old, previous_secret_expires_at=future))
    h.run(d)
    headers = dict(h.requests[0].headers)
    for secret in (SECRET, old):
        Webhook(secret).verify(h.requests[0].content, headers)
    past = clock.iso(datetime.now(UTC) - timedelta(seconds=1))
    d2 = h.delivery(h.endpoint(previous_secret=old, previous_secret_expires_at=past))
    h.run(d2)
    assert len(h.requests[1].headers["webhook-signature"].split(" ")) == 1


def test_failing_for_five_days_disables_once(h: Harness) -> None:
    h.answer = httpx.Response(500)
    since = clock.iso(datetime.now(UTC) - timedelta(days=5, seconds=1))
    endpoint = h.endpoint(failing_since=since, consecutive_failures=40)
    h.run(h.delivery(endpoint))
    assert h.store.endpoints[endpoint.id].disabled_reason == "failing_continuously"
    ((kind, detail),) = h.published
    assert kind == "webhook-endpoint.disabled" and detail["endpointId"] == endpoint.id
    recent = h.endpoint(failing_since=clock.iso(datetime.now(UTC) - timedelta(days=4)))
    h.run(h.delivery(recent))
    assert h.store.endpoints[recent.id].enabled and len(h.published) == 1


def test_lambda_records_parse() -> None:
    record = send.Record.from_lambda(
        {"messageId": "m", "receiptHandle": "r", "body": "{}", "attributes": {}}
    )
    assert record.receive_count == 1
    again = send.Record.from_lambda(
        {
            "messageId": "m",
            "receiptHandle": "r",
            "body": "{}",
            "attributes": {"ApproximateReceiveCount": "4"},
        }
    )
    assert again.receive_count == 4


def test_a_fast_delivery_is_recorded_while_a_slow_one_of_its_batch_is_still_sending(
    h: Harness,
) -> None:
    """Each message is settled by the thread that sent it: the fast delivery's result is
    written before the slow POST of the same batch answers (it used to wait for it)."""
    import threading

    endpoint = h.endpoint()
    slow, fast = h.delivery(endpoint), h.delivery(endpoint)
    fast_recorded = threading.Event()
    seen_before_answer: list[bool] = []
    finish = h.store.delivery_repo.finish_attempt

    def recording_finish(delivery_id: str, gen: int, **fields: Any) -> bool:
        done = finish(delivery_id, gen, **fields)
        if delivery_id == fast.id:
            fast_recorded.set()
        return done

    def answer(request: httpx.Request) -> httpx.Response:
        if request.headers["x-komos-delivery-id"] == slow.id:
            seen_before_answer.append(fast_recorded.wait(timeout=5))
        return httpx.Response(200, text="ok")

    h.store.delivery_repo.finish_attempt = recording_finish  # type: ignore[method-assign]
    h.answer = answer
    records = [
        send.Record(
            f"m-{d.id}",
            f"rh-{d.id}",
            Message(d.id, d.endpoint_id, ORG, d.created_at, d.gen).body(),
            1,
        )
        for d in (slow, fast)
    ]
    report = h.sender.send_batch(records)
    assert report.outcomes == ["succeeded", "succeeded"]
    assert seen_before_answer == [True]
    assert h.state(slow).status == h.state(fast).status == "succeeded"
