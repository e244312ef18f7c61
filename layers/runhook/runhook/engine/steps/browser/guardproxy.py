"""A loopback forward proxy that applies the SSRF guard to every connection Chromium makes.

Route interception sees each request a page makes, but not the hops of a redirect the
browser follows by itself (nor connections Playwright does not route). So Chromium is
also launched with ``--proxy-server`` pointing here (``<-loopback>``: loopback goes
through the proxy too), and this proxy:

- checks every target with runhook.netguard (`check_url`: scheme, host, every address
  the host resolves to) and refuses with ``403`` + ``X-Runhook-Blocked`` (plain http)
  or a failed CONNECT (https, wss);
- connects to the address it checked (the host is not resolved a second time, so DNS
  rebinding cannot slip a private address in between);
- counts the bytes it relays to the browser and cuts the session off past a cap.

One proxy per browser session, on 127.0.0.1 and a free port, a thread per connection.
"""

from __future__ import annotations

import contextlib
import queue
import select
import socket
import socketserver
import threading
from collections.abc import Callable
from urllib.parse import urlsplit

from runhook.netguard import BlockedTarget, CheckedTarget, check_url

Checker = Callable[[str], CheckedTarget]
BLOCKED_HEADER = "X-Runhook-Blocked"
_MAX_HEAD = 64 * 1024
_HOP_HEADERS = frozenset({"proxy-connection", "proxy-authorization", "connection", "keep-alive"})


class _Handler(socketserver.BaseRequestHandler):
    server: GuardProxy

    def handle(self) -> None:
        client: socket.socket = self.request
        client.settimeout(30)
        head = b""
        while b"\r\n\r\n" not in head:
            try:
                chunk = client.recv(8192)
            except OSError:  # an idle keep-alive connection, or the browser went away
                return
            if not chunk:
                return
            head += chunk
            if len(head) > _MAX_HEAD:
                self._answer(client, 431, "request head too large")
                return
        raw_head, _, rest = head.partition(b"\r\n\r\n")
        lines = raw_head.decode("latin-1").split("\r\n")
        try:
            method, target, version = lines[0].split(" ", 2)
        except ValueError:
            self._answer(client, 400, "bad request line")
            return
        if method.upper() == "CONNECT":
            self._tunnel(client, target, rest)
        else:
            self._forward(client, method, target, version, lines[1:], rest)

    # -- CONNECT (https, wss) -------------------------------------------------------------
    def _tunnel(self, client: socket.socket, authority: str, rest: bytes) -> None:
        host, _, port = authority.rpartition(":")
        url = f"https://{host}:{port}/"
        upstream = self._connect(client, url, connect=True)
        if upstream is None:
            return
        client.sendall(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        if rest:
            upstream.sendall(rest)
        self._pump(client, upstream)

    # -- plain http (absolute-form request) -----------------------------------------------
    def _forward(
        self,
        client: socket.socket,
        method: str,
        target: str,
        version: str,
        header_lines: list[str],
        rest: bytes,
    ) -> None:
        upstream = self._connect(client, target, connect=False)
        if upstream is None:
            return
        parts = urlsplit(target)
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        kept = [
            line
            for line in header_lines
            if line and line.split(":", 1)[0].strip().lower() not in _HOP_HEADERS
        ]
        head = "\r\n".join([f"{method} {path} {version}", *kept, "Connection: close", "", ""])
        upstream.sendall(head.encode("latin-1") + rest)
        self._pump(client, upstream)

    # -- shared ---------------------------------------------------------------------------
    def _connect(self, client: socket.socket, url: str, *, connect: bool) -> socket.socket | None:
        proxy = self.server
        try:
            checked = proxy.check(url)
        except BlockedTarget as exc:
            proxy.refused(url if not connect else url.rstrip("/"), str(exc))
            self._answer(client, 403, str(exc))
            return None
        for address in checked.addresses:
            try:
                return socket.create_connection((address, checked.port), timeout=15)
            except OSError:
                continue
        self._answer(client, 502, f"cannot connect to {checked.host}:{checked.port}")
        return None

    @staticmethod
    def _answer(client: socket.socket, status: int, reason: str) -> None:
        body = f"runhook: {reason}\n".encode()
        text = {400: "Bad Request", 403: "Forbidden", 431: "Too Large", 502: "Bad Gateway"}
        head = (
            f"HTTP/1.1 {status} {text.get(status, 'Error')}\r\n"
            f"{BLOCKED_HEADER}: {reason.encode('ascii', 'replace').decode()[:300]}\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode("latin-1", "replace")
        with contextlib.suppress(OSError):
            client.sendall(head + body)

    def _pump(self, client: socket.socket, upstream: socket.socket) -> None:
        proxy = self.server
        sockets = [client, upstream]
        try:
            while not proxy.stopping.is_set():
                readable, _, broken = select.select(sockets, [], sockets, 0.5)
                if broken:
                    return
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    other = upstream if sock is client else client
                    other.sendall(data)
                    if sock is upstream and not proxy.count(len(data)):
                        return
        except OSError:
            return
        finally:
            with contextlib.suppress(OSError):
                upstream.close()


class GuardProxy(socketserver.ThreadingTCPServer):
    """The proxy of one browser session: `start()`, `server_url`, `stop()`."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        *,
        allow_private: bool,
        max_bytes: int,
        checker: Checker | None = None,
    ) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self._checker = checker
        self.allow_private = allow_private
        self.max_bytes = max_bytes
        self.relayed = 0
        self.over_limit = False
        self.refusals: queue.SimpleQueue[tuple[str, str]] = queue.SimpleQueue()
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True
        )

    @property
    def server_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def check(self, url: str) -> CheckedTarget:
        if self._checker is not None:
            return self._checker(url)
        return check_url(url, allow_private=self.allow_private)

    def refused(self, url: str, reason: str) -> None:
        self.refusals.put((url, reason))

    def count(self, n: int) -> bool:
        """Add relayed bytes; False once the session's cap is passed (the caller stops)."""
        with self._lock:
            self.relayed += n
            if self.relayed > self.max_bytes:
                self.over_limit = True
                return False
        return True

    def handle_error(self, request: object, client_address: object) -> None:
        """A broken connection ends quietly (socketserver would print a traceback)."""

    def start(self) -> GuardProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.shutdown()
        self.server_close()
