"""`runhook webhooks listen`: a local receiver that verifies and prints deliveries.

Handy next to `runhook dev` (like `stripe listen`): with an API key it registers an
endpoint pointing at itself, verifies every delivery with the secret it got back, and
deletes the endpoint when stopped. With `--secret` it only verifies (you registered
the endpoint yourself). `--forward-to` passes verified deliveries on to your app.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TextIO

from runhook.webhooks.signing import DEFAULT_PEPPER, ID_HEADER
from runhook_dev.verify import WebhookVerificationError, verify

MAX_BODY = 5 * 1024 * 1024
FORWARDED_HEADERS = ("content-type", "user-agent", "webhook-", "x-komos-")


@dataclass
class Delivery:
    """One request the listener got (kept for tests and `--json`)."""

    at: str
    event: str
    headers: dict[str, str]
    body: bytes
    verified: bool | None  # None: no secret to check with
    error: str | None = None


@dataclass
class Listener:
    """An HTTP server on host:port that verifies (when it has a secret) and prints."""

    host: str = "127.0.0.1"
    port: int = 8787
    secrets: list[str] = field(default_factory=list)
    pepper: str = DEFAULT_PEPPER
    forward_to: str | None = None
    print_body: bool = False
    out: TextIO = field(default_factory=lambda: sys.stdout)
    received: list[Delivery] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        listener = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = "runhook-listen"

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                if length > MAX_BODY:
                    self._answer(413, {"error": "payload_too_large"})
                    return
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, answer = listener.handle(headers, body)
                self._answer(status, answer)

            def _answer(self, status: int, answer: dict[str, Any]) -> None:
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def start(self) -> Listener:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def handle(self, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
        at = datetime.now(UTC).strftime("%H:%M:%S")
        event = headers.get("x-komos-event", "?")
        verified: bool | None = None
        error = None
        if self.secrets:
            try:
                verify(body, headers, self.secrets, pepper=self.pepper, scheme="both")
                verified = True
            except WebhookVerificationError as exc:
                verified, error = False, str(exc)
        delivery = Delivery(at, event, headers, body, verified, error)
        with self._lock:
            self.received.append(delivery)
        status = 400 if verified is False else 200
        if verified is not False and self.forward_to:
            status = self._forward(headers, body)
        self._print(delivery, status)
        return status, ({"received": True} if status < 400 else {"error": error or "rejected"})

    def _forward(self, headers: dict[str, str], body: bytes) -> int:
        import httpx

        kept = {k: v for k, v in headers.items() if k.startswith(FORWARDED_HEADERS)}
        try:
            return httpx.post(
                str(self.forward_to), content=body, headers=kept, timeout=15
            ).status_code
        except httpx.HTTPError as exc:
            self.out.write(f"  forward to {self.forward_to} failed: {exc}\n")
            return 502

    def _print(self, d: Delivery, status: int) -> None:
        check = {True: "verified", False: f"INVALID ({d.error})", None: "unverified"}[d.verified]
        run = d.headers.get("x-komos-run-id", "-")
        summary = ""
        try:
            payload = json.loads(d.body)
            if isinstance(payload, dict):
                if "status" in payload:
                    summary = f" status={payload['status']}"
                elif "logEntries" in payload:
                    summary = f" logEntries={len(payload['logEntries'])}"
        except ValueError:
            summary = " (body is not JSON)"
        line = (
            f"{d.at}  {d.event:<20} run={run}{summary}  [{check}]  "
            f"id={d.headers.get(ID_HEADER, '-')} attempt={d.headers.get('x-komos-attempt', '-')}"
            f" -> {status}\n"
        )
        with self._lock:
            self.out.write(line)
            if self.print_body:
                self.out.write(_pretty(d.body) + "\n")
            self.out.flush()


def _pretty(body: bytes) -> str:
    try:
        return json.dumps(json.loads(body), indent=2, ensure_ascii=False)
    except ValueError:
        return body.decode("utf-8", "replace")


@dataclass
class Registration:
    """An endpoint the listener registered for itself through the API."""

    api_url: str
    api_key: str
    endpoint_id: str
    secret: str

    def delete(self) -> None:
        import httpx

        httpx.delete(
            f"{self.api_url}/public/v1/webhook-endpoints/{self.endpoint_id}",
            headers={"Authorization": f"Bearer {self.api_key}"},
            timeout=10,
        )


def register(
    api_url: str,
    api_key: str,
    url: str,
    events: Sequence[str] | None = None,
    task_id: str | None = None,
) -> Registration:
    """Create an endpoint for `url`; raises RuntimeError with the API's answer on failure."""
    import httpx

    body: dict[str, Any] = {"url": url, "description": "runhook webhooks listen"}
    if events:
        body["events"] = list(events)
    if task_id:
        body["taskId"] = task_id
    resp = httpx.post(
        f"{api_url.rstrip('/')}/public/v1/webhook-endpoints",
        json=body,
        headers={"Authorization": f"Bearer {api_key}"},
        timeout=10,
    )
    if resp.status_code != 201:
        raise RuntimeError(f"could not register an endpoint: {resp.status_code} {resp.text}")
    endpoint = resp.json()["endpoint"]
    return Registration(api_url.rstrip("/"), api_key, endpoint["id"], endpoint["secret"])
