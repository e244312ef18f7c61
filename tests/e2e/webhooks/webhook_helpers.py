"""Helpers of the webhook tests: real HTTP receivers, bus events, independent verifiers.

`Receiver` is a `tests.support.loopback.LoopbackServer` (127.0.0.1, its own threads) that
records every request (headers, raw body, arrival time) and answers what its `behave`
callable says. Events are put on the bus with runhook's EventBus (what the engine
does), so the dispatcher gets exactly its production input.
"""

from __future__ import annotations

import hashlib
import hmac
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import httpx

from runhook import run_events
from tests.support.loopback import Answer, LoopbackServer, Request
from tests.support.polling import eventually

PEPPER = "komos-webhook-pepper"


@dataclass
class Received(Request):
    """A delivery as the receiver got it (headers are case-insensitive)."""

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def event(self) -> str:
        return self.headers["x-komos-event"]


Behaviour = Callable[["Receiver", Received], Answer]


class Receiver(LoopbackServer):
    """A webhook receiver on 127.0.0.1 (a free port unless one is given)."""

    request_class = Received

    def __init__(self, behave: Behaviour | None = None, port: int = 0) -> None:
        self.behave: Behaviour = behave or (lambda _receiver, _request: Answer())
        super().__init__(lambda request: self.behave(self, cast(Received, request)), port=port)

    @property
    def url(self) -> str:
        return f"{self.base_url}/hook"

    def received(self, event: str | None = None) -> list[Received]:
        got = cast(list[Received], self.recorded())
        return [r for r in got if event is None or r.event == event]

    def wait_for(
        self, count: int, timeout: float = 30.0, event: str | None = None
    ) -> list[Received]:
        return eventually(
            lambda: self.received(event),
            lambda got: len(got) >= count,
            timeout=timeout,
            interval=0.05,
            message=lambda got: (
                f"{len(got)} of {count} requests arrived: {[r.event for r in self.received()]}"
            ),
        )


@dataclass
class Org:
    id: str
    key: str
    api: httpx.Client
    bus: Any  # runhook.adapters.events.EventBus of the local cloud

    def publish(
        self, event_type: str, *, org_id: str | None = None, **fields: Any
    ) -> dict[str, Any]:
        """Put one run event of this (or `org_id`'s) organization on the bus; returns its detail."""
        detail_type, detail = event(org_id or self.id, event_type, **fields)
        self.bus.publish([(detail_type, detail)])
        return detail

    def task(self, definition: dict[str, Any]) -> str:
        """Create a task; returns its id."""
        resp = self.api.post("/tasks", json=definition)
        assert resp.status_code == 201, resp.text
        return str(resp.json()["task"]["id"])

    def endpoint(self, url: str, **fields: Any) -> tuple[str, str]:
        """Create an endpoint; returns (id, secret)."""
        resp = self.api.post("/webhook-endpoints", json={"url": url, **fields})
        assert resp.status_code == 201, resp.text
        endpoint = resp.json()["endpoint"]
        return str(endpoint["id"]), str(endpoint["secret"])

    def get_endpoint(self, endpoint_id: str) -> dict[str, Any]:
        resp = self.api.get(f"/webhook-endpoints/{endpoint_id}")
        assert resp.status_code == 200, resp.text
        return dict(resp.json()["endpoint"])

    def deliveries(self, endpoint_id: str, **params: Any) -> list[dict[str, Any]]:
        resp = self.api.get(f"/webhook-endpoints/{endpoint_id}/deliveries", params=params)
        assert resp.status_code == 200, resp.text
        return list(resp.json()["deliveries"])

    def delivery(self, delivery_id: str) -> dict[str, Any]:
        resp = self.api.get(f"/webhook-deliveries/{delivery_id}")
        assert resp.status_code == 200, resp.text
        return dict(resp.json()["delivery"])


def run_resource(run_id: str, task_id: str, status: str = "RUNNING") -> dict[str, Any]:
    return {
        "id": run_id,
        "taskId": task_id,
        "status": status,
        "triggerType": "api",
        "timestamps": {
            "createdAt": "2025-10-14T18:21:52.123Z",
            "startedAt": None,
            "finishedAt": None,
        },
        "progress": {"currentStep": 0, "stepsTotal": 1},
        "inputs": {},
        "outputs": {},
        "logsUrl": f"http://127.0.0.1/public/v1/task-runs/{run_id}/logs",
        "error": None,
        "cancelReason": None,
    }


def event(
    org_id: str,
    event_type: str,
    *,
    run_id: str | None = None,
    task_id: str | None = None,
    sequence: int = 1,
    status: str = "RUNNING",
) -> tuple[str, dict[str, Any]]:
    """A (detail-type, detail) pair shaped like runhook.adapters.events.EventBus makes them."""
    run_id = run_id or str(uuid.uuid4())
    task_id = task_id or str(uuid.uuid4())
    detail: dict[str, Any] = {
        "orgId": org_id,
        "runId": run_id,
        "taskId": task_id,
        "sequence": sequence,
        "occurredAt": "2025-10-14T18:22:03.481Z",
    }
    if event_type == "task-run.log":
        entry_id = str(uuid.uuid4())
        detail["eventId"] = run_events.log_event_id(run_id, entry_id)
        detail["logEntries"] = [
            {
                "id": entry_id,
                "timestamp": None,
                "level": "info",
                "message": "hi",
                "nodeId": "greet",
            }
        ]
    else:
        # The outbox names every event (run_events): a PutEvents retried by a producer under
        # load reaches the dispatcher twice with two bus ids but one eventId, one delivery.
        detail["eventId"] = run_events.lifecycle_event_id(run_id, sequence, event_type)
        detail["run"] = run_resource(run_id, task_id, status)
    return event_type, detail


def free_port() -> int:
    """A port nothing listens on (yet)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def komos_verify(body: bytes, header: str, secret: str, pepper: str = PEPPER) -> bool:
    """The Komos algorithm written from the docs, sharing no code with runhook:
    key = HMAC-SHA256(pepper, secret after the first "_"); v1 = hex HMAC(key, "<t>.<body>")."""
    parts = [p.split("=", 1) for p in header.split(",")]
    t = next(v for k, v in parts if k == "t")
    key = hmac.new(pepper.encode(), secret.split("_", 1)[1].encode(), hashlib.sha256).digest()
    expected = hmac.new(key, f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, v) for k, v in parts if k == "v1")


def verify_both(request: Received, secret: str) -> Any:
    """Check with the standardwebhooks reference library and the independent Komos verifier."""
    from standardwebhooks.webhooks import Webhook

    payload = Webhook(secret).verify(request.body, dict(request.headers))
    assert komos_verify(request.body, request.headers["x-komos-signature"], secret), "komos"
    return payload
