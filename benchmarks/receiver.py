"""A webhook receiver for the benchmarks, run as its own process.

    python -m benchmarks.receiver PORT_FILE LOG_FILE

Listens on a free loopback port (written to PORT_FILE), answers every POST with 204 and
appends one JSON line per receipt to LOG_FILE: the wall-clock time it arrived, the run id,
event type and delivery id headers. Keep-alive (HTTP/1.1), one thread per connection.
"""

from __future__ import annotations

import contextlib
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    log_file: IO[str]
    lock = threading.Lock()

    def do_POST(self) -> None:
        arrived = time.time()
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        record = {
            "t": arrived,
            "run": self.headers.get("x-komos-run-id"),
            "event": self.headers.get("x-komos-event"),
            "delivery": self.headers.get("x-komos-delivery-id"),
            "bytes": len(body),
        }
        self.send_response(204)
        self.send_header("content-length", "0")
        self.end_headers()
        line = json.dumps(record) + "\n"
        with self.lock:
            self.log_file.write(line)
            self.log_file.flush()

    def log_message(self, format: str, *args: object) -> None:
        return


def main(argv: list[str]) -> int:
    port_file, log_path = Path(argv[0]), Path(argv[1])
    with log_path.open("a", encoding="utf-8") as log_file:
        _Handler.log_file = log_file
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True
        port_file.write_text(str(server.server_address[1]))
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever(poll_interval=0.2)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
