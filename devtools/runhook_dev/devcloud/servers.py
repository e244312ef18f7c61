"""The two HTTP servers of the local cloud, each in a background thread.

- `WsgiServer`: werkzeug's threaded server for the AWS dispatcher;
- `ApiServer`: uvicorn serving the FastAPI app ``runhook.api.app:app`` (`start_api`).
  When that app cannot be imported, a stand-in answers every request with 503 and
  says why.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
import time
import traceback
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from runhook_dev.devcloud.errors import LocalCloudError

log = logging.getLogger("devcloud")

API_APP = "runhook.api.app:app"

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def listen(port: int, what: str, option: str, host: str = "127.0.0.1") -> socket.socket:
    """A listening TCP socket on host:port (0: the OS picks a free port).

    Taken before anything starts: a port in use fails fast (LocalCloudError naming the
    `what` and the command-line `option` to change it), and port 0 has no race.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise LocalCloudError(
            f"cannot listen on {host}:{port} for the {what}: {exc.strerror or exc}; "
            f"stop what uses it or pick another port with {option}"
        ) from exc
    return sock


class WsgiServer:
    """A threaded werkzeug server on an already listening socket."""

    def __init__(self, app: Any, sock: socket.socket) -> None:
        from werkzeug.serving import make_server

        # werkzeug's own handler closes every connection; this one keeps them alive, so
        # boto3 reuses its connections (keepalive.py).
        from runhook_dev.devcloud.keepalive import KeepAliveRequestHandler

        host, port = sock.getsockname()[:2]
        self._server = make_server(
            host,
            port,
            app,
            threaded=True,
            request_handler=KeepAliveRequestHandler,
            fd=sock.fileno(),
        )
        sock.close()  # werkzeug serves a duplicate of the descriptor
        self.port = int(port)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="aws-dispatcher", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


def load_api_app(container: Any | None = None) -> tuple[ASGIApp, str | None]:
    """The API's ASGI app on `container` (`create_app(container)`; None: the module's
    environment-configured `app`), or a stand-in and the reason the real one is missing."""
    import importlib

    module_name, _, attribute = API_APP.partition(":")
    try:
        module = importlib.import_module(module_name)
        if container is not None:
            return module.create_app(container), None
        return getattr(module, attribute), None
    except Exception as exc:
        reason = f"{API_APP} failed to import: {type(exc).__name__}: {exc}"
        log.error("the API failed to import:\n%s", traceback.format_exc())
    return _missing_api(reason), reason


def start_api(sock: socket.socket, container: Any | None = None) -> tuple[ApiServer, str | None]:
    """Serve the API on `sock`: the server, and why the real app is missing (or None)."""
    from runhook_dev.devcloud.terminal import RequestLog

    app, error = load_api_app(container)  # looked up at call time: benchmarks wrap it
    server = ApiServer(RequestLog(app), sock)  # a line per request (`runhook dev`'s terminal)
    if error:
        log.warning("API unavailable: %s (serving 503 on %s)", error, server.url)
    try:
        server.start()
    except RuntimeError as exc:
        sock.close()
        raise LocalCloudError(str(exc)) from exc
    return server, error


def _missing_api(reason: str) -> ASGIApp:
    body = json.dumps({"detail": "api_unavailable", "reason": reason}).encode()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        await send(
            {
                "type": "http.response.start",
                "status": 503,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    return app


class ApiServer:
    """uvicorn in a thread, on an already listening socket."""

    def __init__(self, app: ASGIApp, sock: socket.socket) -> None:
        import uvicorn

        self._sock = sock
        host, port = sock.getsockname()[:2]
        self.host, self.port = str(host), int(port)
        self.url = f"http://{self.host}:{self.port}"
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
            lifespan="auto",
            timeout_graceful_shutdown=3,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name="api-server", daemon=True)
        self._error: BaseException | None = None

    def _run(self) -> None:
        try:
            asyncio.run(self._server.serve(sockets=[self._sock]))
        except BaseException as exc:  # a SystemExit from uvicorn when the port is taken
            self._error = exc

    def start(self, timeout: float = 10.0) -> None:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError(
                    f"the API server could not start on {self.host}:{self.port}: {self._error!r}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(f"the API server did not start within {timeout:.0f} s")
            time.sleep(0.02)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(5)
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(2)
        self._sock.close()
