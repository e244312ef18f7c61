"""A werkzeug request handler that keeps HTTP/1.1 connections alive.

werkzeug's development server (2.1 and later) answers every request with
`Connection: close`, whatever `protocol_version` says: it hands the WSGI app the raw
socket file and cannot tell where a request body ends, so it reads whatever is left and
closes. For the local cloud's AWS endpoint that meant one TCP connection (and one server
thread) per boto3 call: 421 connections for 420 calls in the deliveries benchmark.

`KeepAliveRequestHandler` gives the app a body bounded by `Content-Length` (or
dechunked), reads whatever the app left of it once the answer is written, and only then
reads the next request line from the same connection. It closes when HTTP says so (an
HTTP/1.0 client, `Connection: close`), when an answer has no length it can frame, after
an error, and after IDLE_SECONDS without a request (the client's pool then reconnects;
urllib3 notices a closed idle connection before it reuses it).
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from typing import Any

from werkzeug.serving import WSGIRequestHandler
from werkzeug.wsgi import LimitedStream

log = logging.getLogger("devcloud")

# An idle keep-alive connection holds a server thread: end it after this long.
IDLE_SECONDS = 75.0
_NO_BODY_CODES = frozenset({204, 304})


class KeepAliveRequestHandler(WSGIRequestHandler):
    """werkzeug's WSGI handler, minus its `Connection: close` on every answer."""

    protocol_version = "HTTP/1.1"
    timeout = IDLE_SECONDS  # the socket's timeout, waiting for the next request included

    def setup(self) -> None:
        super().setup()
        # The answer's head and body are two writes: without NODELAY, Nagle holds the
        # body until the client ACKs the head, which a delayed ACK puts off ~40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if log.isEnabledFor(logging.DEBUG):
            super().log_request(code, size)

    def log_error(self, format: str, *args: Any) -> None:
        """Idle connections timing out are routine here: debug, not error."""
        log.debug("aws endpoint: " + format, *args)

    def run_wsgi(self) -> None:
        if self.headers.get("Expect", "").lower().strip(" \t") == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        self.environ = environ = self.make_environ()
        body = _bounded_body(environ)
        answer = _Answer(self, head=environ["REQUEST_METHOD"] == "HEAD")
        try:
            chunks = self.server.app(environ, answer.start_response)
            try:
                for data in chunks:
                    answer.write(data)
                answer.finish()
            finally:
                close = getattr(chunks, "close", None)
                if callable(close):
                    close()
            _drain(body)
        except (ConnectionError, TimeoutError) as exc:
            self.close_connection = True
            self.connection_dropped(exc, environ)
        except Exception:
            self.close_connection = True
            log.exception("aws endpoint: error on %s %s", self.command, self.path)
            if not answer.started:
                answer.fail()


def _bounded_body(environ: dict[str, Any]) -> Any:
    """The request body as the app should see it: never past this request's end."""
    if environ.get("wsgi.input_terminated"):  # chunked: werkzeug dechunks it already
        return environ["wsgi.input"]
    try:
        length = max(0, int(environ.get("CONTENT_LENGTH") or 0))
    except ValueError:
        length = 0
    bounded = LimitedStream(environ["wsgi.input"], length)
    environ["wsgi.input"] = bounded
    return bounded


def _drain(body: Any) -> None:
    """Read what the app left of the body, so the next request starts at its first line."""
    while body.read(64 * 1024):
        pass


class _Answer:
    """The response of one request: headers on the first write, chunked when the app
    gives no length (HTTP/1.1), `Connection: close` when the connection will end."""

    def __init__(self, handler: KeepAliveRequestHandler, *, head: bool) -> None:
        self.handler = handler
        self.head = head
        self.status: str | None = None
        self.headers: list[tuple[str, str]] = []
        self.started = False
        self.chunked = False

    def start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], None]:
        if exc_info and self.started:
            raise exc_info[1].with_traceback(exc_info[2])
        self.status, self.headers = status, list(headers)
        return self.write

    def _send_head(self) -> None:
        handler = self.handler
        assert self.status is not None, "write() before start_response"
        code_text, _, reason = self.status.partition(" ")
        code = int(code_text)
        handler.send_response(code, reason)
        names = set()
        for name, value in self.headers:
            if name.lower() == "connection":
                if value.strip().lower() == "close":
                    handler.close_connection = True
                continue
            handler.send_header(name, value)
            names.add(name.lower())
        framed = "content-length" in names or self.head or code < 200 or code in _NO_BODY_CODES
        if not framed:
            if handler.request_version >= "HTTP/1.1":
                self.chunked = True
                handler.send_header("Transfer-Encoding", "chunked")
            else:
                handler.close_connection = True  # the end of the body is the end of the stream
        if handler.close_connection:
            handler.send_header("Connection", "close")
        handler.end_headers()
        self.started = True

    def write(self, data: bytes) -> None:
        if not self.started:
            self._send_head()
        if data and not self.head:
            out = self.handler.wfile
            if self.chunked:
                out.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            else:
                out.write(data)

    def finish(self) -> None:
        if not self.started:
            self._send_head()
        if self.chunked:
            self.handler.wfile.write(b"0\r\n\r\n")
        self.handler.wfile.flush()

    def fail(self) -> None:
        """500 before anything was sent (the connection then closes)."""
        self.status, self.headers = "500 Internal Server Error", [("Content-Length", "0")]
        self.write(b"")
        self.finish()
