"""A real HTTP server on 127.0.0.1 for tests: threaded, records every request, answers
what the test programs.

Tests use real HTTP wherever the code under test makes HTTP calls (http steps, webhook
deliveries, browser pages). `LoopbackServer` is that server, written once:

- it listens on a free port (or a given one) in a daemon thread, one thread per
  connection, so a slow answer never blocks another request;
- it records each request (`Request`: method, path with its query, case-insensitive
  headers, raw body, arrival time) before answering, so an answer can depend on what
  came before;
- `respond(request)` decides the answer: an `Answer` (status, headers, body and an
  optional delay that `stop()` cuts short) or a `(status, headers, body)` tuple;
- `connections` counts the TCP connections it accepted, requests or not (a TLS
  handshake sent to a plain server is no request but is a connection: the SSRF tests
  assert that nothing reached the server at all); `tls` makes it an HTTPS server.

`Target` is the flavour the engine's tests use: answers by path (`routes`), 404 otherwise.
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import httpx


@dataclass
class Request:
    """One request as the server received it."""

    method: str
    path: str  # the request target as sent: path and query string
    headers: httpx.Headers  # case-insensitive: headers["Accept"] == headers["accept"]
    body: bytes
    at: float  # time.time() on arrival

    @property
    def route(self) -> str:
        """The path without its query string."""
        return self.path.split("?", 1)[0]

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Answer:
    """What the server sends back."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    delay: float = 0.0  # seconds to wait before answering (cut short by stop())


Reply = tuple[int, dict[str, str], bytes]
Respond = Callable[[Request], "Answer | Reply"]


def _answer(reply: Answer | Reply) -> Answer:
    if isinstance(reply, Answer):
        return reply
    status, headers, body = reply
    return Answer(status, headers, body)


class LoopbackServer:
    """An HTTP server on 127.0.0.1 (a free port unless `port` is given), started at once.

    `protocol` is the HTTP version of the answers: "HTTP/1.1" keeps connections alive (what
    real receivers do), "HTTP/1.0" closes each one after its answer.
    """

    request_class: ClassVar[type[Request]] = Request

    def __init__(
        self,
        respond: Respond | None = None,
        *,
        port: int = 0,
        protocol: str = "HTTP/1.1",
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.respond: Respond = respond or (lambda _request: Answer())
        self.requests: list[Request] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.scheme = "https" if tls else "http"
        self.server = _Server(("127.0.0.1", port), _handler_for(self, protocol))
        if tls is not None:
            # The handshake runs in the connection's thread (first read), not in accept().
            self.server.socket = tls.wrap_socket(
                self.server.socket, server_side=True, do_handshake_on_connect=False
            )
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    @property
    def connections(self) -> int:
        """TCP connections accepted so far."""
        return self.server.connections

    @property
    def url(self) -> str:
        return self.base_url

    def recorded(self) -> list[Request]:
        """A copy of the requests so far, in arrival order."""
        with self.lock:
            return list(self.requests)

    def stop(self) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()

    def _record(self, request: Request) -> None:
        with self.lock:
            self.requests.append(request)

    def __enter__(self) -> LoopbackServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Server(ThreadingHTTPServer):
    """ThreadingHTTPServer counting the connections it accepts."""

    connections = 0

    def verify_request(
        self, request: socket.socket | tuple[bytes, socket.socket], client_address: Any
    ) -> bool:
        self.connections += 1  # the serving thread alone accepts: no lock needed
        return True


def _handler_for(owner: LoopbackServer, protocol: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = protocol

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = httpx.Headers(list(self.headers.items()))
            request = owner.request_class(self.command, self.path, headers, body, time.time())
            owner._record(request)
            answer = _answer(owner.respond(request))
            if answer.delay:
                owner.stopping.wait(answer.delay)
            with contextlib.suppress(OSError):  # the client may be gone (timeouts, size caps)
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(answer.body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


class Target(LoopbackServer):
    """A server for http steps: `routes[path](request) -> (status, headers, body)` by the
    path without its query; 404 "no route" otherwise. `hits` are the requests."""

    def __init__(self) -> None:
        self.routes: dict[str, Callable[[Request], Answer | Reply]] = {}
        super().__init__(self._route)

    @property
    def hits(self) -> list[Request]:
        return self.requests

    def _route(self, request: Request) -> Answer | Reply:
        route = self.routes.get(request.route)
        return route(request) if route else (404, {}, b"no route")

    def json(self, path: str, payload: Any, status: int = 200) -> None:
        """Answer `path` with `payload` as JSON."""
        body = json.dumps(payload).encode()
        self.routes[path] = lambda _request: (status, {"Content-Type": "application/json"}, body)


Hit = Request  # the engine tests' name for a request their Target received
