"""Helpers for the engine's unit tests: a StepCall builder and a scriptable HTTP server."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from runhook.engine.steps import StepCall, get_kind
from runhook.settings import Settings
from runhook.tasks.definition import parse_step

LOCAL = Settings(allow_private_targets=True)


@dataclass
class Logged:
    lines: list[tuple[str, str]] = field(default_factory=list)

    def __call__(self, level: Any, message: str) -> None:
        self.lines.append((str(level), message))

    def levels(self, level: str) -> list[str]:
        return [m for lvl, m in self.lines if lvl == level]


def make_call(
    raw_step: dict[str, Any],
    data: dict[str, Any] | None = None,
    *,
    timeout: float = 5.0,
    settings: Settings = LOCAL,
    attempt: int = 1,
    max_attempts: int = 1,
) -> tuple[StepCall, Logged]:
    logged = Logged()
    call = StepCall(
        step=parse_step(raw_step),
        index=0,
        total=1,
        data=data if data is not None else {"inputs": {}, "steps": {}, "run": {"id": "r"}},
        log=logged,
        timeout=timeout,
        attempt=attempt,
        max_attempts=max_attempts,
        settings=settings,
    )
    return call, logged


def run_step(raw_step: dict[str, Any], data: dict[str, Any] | None = None, **kw: Any) -> Any:
    call, _ = make_call(raw_step, data, **kw)
    return get_kind(raw_step["type"]).run(call)


Reply = tuple[int, dict[str, str], bytes]


@dataclass
class Hit:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


class Target:
    """A real HTTP server on loopback; `routes[path](hit) -> (status, headers, body)`."""

    def __init__(self) -> None:
        self.routes: dict[str, Callable[[Hit], Reply]] = {}
        self.hits: list[Hit] = []
        target = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path = self.path.split("?", 1)[0]
                hit = Hit(self.command, self.path, dict(self.headers), body, time.time())
                target.hits.append(hit)
                route = target.routes.get(path)
                status, headers, payload = route(hit) if route else (404, {}, b"no route")
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                        self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def json(self, path: str, payload: Any, status: int = 200) -> None:
        body = json.dumps(payload).encode()
        self.routes[path] = lambda hit: (status, {"Content-Type": "application/json"}, body)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
