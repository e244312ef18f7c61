"""Helpers of the webhook tests: real HTTP receivers, bus events, independent verifiers.

`Receiver` is an http.server on 127.0.0.1 (its own threads) that records every request
(headers, raw body, arrival time) and answers what its `behave` callable says.
Events are put on the bus with runhook's EventBus (what the engine does), so the
dispatcher gets exactly its production input.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

PEPPER = "komos-webhook-pepper"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def event(self) -> str:
        return self.headers["x-komos-event"]


@dataclass
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    delay: float = 0.0


Behaviour = Callable[["Receiver", Received], Answer]


class Receiver:
    """A webhook receiver on 127.0.0.1 (a free port unless one is given)."""

    def __init__(self, behave: Behaviour | None = None, port: int = 0) -> None:
        self.behave: Behaviour = behave or (lambda _receiver, _request: Answer())
        self.requests: list[Received] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                request = Received(
                    self.path, {k.lower(): v for k, v in self.headers.items()}, body, time.time()
                )
                with receiver.lock:
                    receiver.requests.append(request)
                answer = receiver.behave(receiver, request)
                if answer.delay:
                    receiver.stopping.wait(answer.delay)
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def stop(self) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()

    def received(self, event: str | None = None) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if event is None or r.event == event]

    def wait_for(
        self, count: int, timeout: float = 30.0, event: str | None = None
    ) -> list[Received]:
        deadline = time.monotonic() + timeout
        while True:
            got = self.received(event)
            if len(got) >= count:
                return got
            assert time.monotonic() < deadline, (
                f"{len(got)} of {count} requests arrived: {[r.event for r in self.received()]}"
            )
            time.sleep(0.05)


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
        detail["logEntries"] = [
            {
                "id": str(uuid.uuid4()),
                "timestamp": None,
                "level": "info",
                "message": "hi",
                "nodeId": "greet",
            }
        ]
    else:
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

    payload = Webhook(secret).verify(request.body, request.headers)
    assert komos_verify(request.body, request.headers["x-komos-signature"], secret), "komos"
    return payload


def wait_until(predicate: Callable[[], Any], timeout: float = 30.0, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(interval)
