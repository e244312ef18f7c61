"""A small local web site for the browser-step tests (loaded by path from their conftests).

Static pages from pages/ plus a few dynamic routes:
- ``/redirect?to=<url>``       302 to `to` (the guard must see the hop);
- ``/big?mb=<n>``              declares n MiB (Content-Length) and streams zeros;
- ``/slow?seconds=<s>``        answers after `s` seconds (a long browser step);
- ``/download``                an attachment (downloads are refused).
Runs on 127.0.0.1, a free port, in a daemon thread; `requests` records every path asked.
"""

from __future__ import annotations

import contextlib
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

PAGES = Path(__file__).resolve().parent / "pages"


class _Handler(SimpleHTTPRequestHandler):
    server: SiteServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        self.server.requests.append(parts.path)
        if parts.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", query.get("to", "/"))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if parts.path == "/big":
            size = int(float(query.get("mb", "1")) * 1024 * 1024)
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(size))
            self.end_headers()
            chunk = b" " * 65536
            try:
                sent = 0
                while sent < size:
                    piece = chunk[: size - sent]
                    self.wfile.write(piece)
                    sent += len(piece)
            except OSError:
                pass
            return
        if parts.path == "/slow":
            deadline = time.monotonic() + float(query.get("seconds", "30"))
            while time.monotonic() < deadline and not self.server.closing.is_set():
                time.sleep(0.05)
            body = b"<html><title>slow</title><body>finally</body></html>"
            self._send(200, body, "text/html")
            return
        if parts.path == "/download":
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Disposition", 'attachment; filename="report.bin"')
            self.send_header("Content-Length", "4")
            self.end_headers()
            self.wfile.write(b"data")
            return
        super().do_GET()

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(OSError):
            self.wfile.write(body)


class SiteServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), partial(_Handler, directory=str(PAGES)))
        self.requests: list[str] = []
        self.closing = threading.Event()
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def start(self) -> SiteServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.closing.set()
        self.shutdown()
        self.server_close()
