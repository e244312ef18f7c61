"""The API served by worker processes of its own (`CloudOptions.api_workers`, `--api-workers`).

In-process, the API shares one interpreter lock with the dispatcher, moto, every handler
and the pollers: under load each request waits for all of them. The API needs nothing of
that process, though: it talks to AWS over HTTP, through the dispatcher (its Container is
built from the API function's environment and a `LocalSession` aimed at the endpoint). So
`ApiWorkers` starts N Python processes (`python -m runhook_dev.devcloud.api_workers`) that
all accept on the API's one listening socket (inherited; the kernel hands each connection
to one of them), each serving `runhook.api.app.create_app(<its Container>)` with uvicorn,
wrapped in the terminal's `RequestLog`.

- Start: the workers are spawned early (`spawn`: they import the web stack and the API
  while Java boots and the template deploys) and configured once the deploy is done
  (`start`: the API function's environment, one JSON line on their stdin).
- Ready: each worker writes one JSON line on a status pipe once uvicorn accepts
  (``{"error": null}``, or why the real app is missing: it then serves the 503 stand-in,
  as the in-process server does); the cloud is not ready before every worker is.
- No orphans: each worker's stdin is a pipe whose only writer is the cloud's process; a
  worker thread blocks reading it and ends the worker when it reads end-of-file, which
  happens however the cloud's process ends (`stop()`, an exception, SIGKILL). This needs
  no polling and works from any thread (PR_SET_PDEATHSIG is tied to the forking thread).
- Stop: SIGTERM (uvicorn finishes the requests in flight, 3 s at most), then SIGKILL.
- Output: the workers write to the cloud's stdout and stderr, configured like the cloud's
  own logging (`--log-format text`: a line per request, handlers' JSON condensed).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from typing import Any

from runhook_dev.devcloud.errors import LocalCloudError

log = logging.getLogger("devcloud")

STOP_GRACE_SECONDS = 5.0


class ApiWorkers:
    """N API worker processes accepting on one listening socket (the `ApiServer` interface:
    `url`, `host`, `port`, `stop()`)."""

    def __init__(self, sock: socket.socket, count: int) -> None:
        if count < 1:
            raise ValueError("api workers: at least one")
        self._sock = sock
        host, port = sock.getsockname()[:2]
        self.host, self.port = str(host), int(port)
        self.url = f"http://{self.host}:{self.port}"
        self._count = count
        self._processes: list[tuple[subprocess.Popen[bytes], int]] = []

    @property
    def pids(self) -> list[int]:
        return [process.pid for process, _ in self._processes]

    def spawn(self) -> None:
        """Start the worker processes: they import the web stack and the API's modules
        (about a second of CPU each) while the cloud boots, then wait for `start`."""
        try:
            for _ in range(self._count):
                self._processes.append(self._spawn())
        except BaseException:
            self.stop()
            raise

    def start(self, environment: Mapping[str, str] | None, timeout: float = 90.0) -> str | None:
        """Hand each worker its configuration (the API function's environment; None: the
        module's app, configured by the inherited os.environ) and wait until each accepts:
        why the real app is missing, or None. A worker that dies first, or a timeout,
        stops them all (LocalCloudError)."""
        if not self._processes:
            self.spawn()
        config = json.dumps(
            {
                "environment": dict(environment) if environment is not None else None,
                # Spawned before the deploy: os.environ as it is now (the module's app of
                # the factory-less mode reads it).
                "process_environment": dict(os.environ),
                "log_format": _log_format(),
                "log_level": logging.getLevelName(logging.getLogger().getEffectiveLevel()),
            }
        )
        try:
            for process, _ in self._processes:
                assert process.stdin is not None
                process.stdin.write(config.encode() + b"\n")
                process.stdin.flush()
            errors = [self._wait_ready(process, fd, timeout) for process, fd in self._processes]
        except BaseException:
            self.stop()
            raise
        return next((error for error in errors if error), None)

    def _spawn(self) -> tuple[subprocess.Popen[bytes], int]:
        status_read, status_write = os.pipe()
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", __name__, str(self._sock.fileno()), str(status_write)],
                stdin=subprocess.PIPE,  # its configuration, then the lifeline
                pass_fds=(self._sock.fileno(), status_write),
            )
        except OSError:
            os.close(status_read)
            raise
        finally:
            os.close(status_write)
        return process, status_read

    def _wait_ready(self, process: subprocess.Popen[bytes], fd: int, timeout: float) -> str | None:
        deadline = time.monotonic() + timeout
        data = b""
        while not data.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0:
                raise LocalCloudError(f"an API worker did not start within {timeout:.0f} s")
            readable, _, _ = select.select([fd], [], [], left)
            if not readable:
                continue
            chunk = os.read(fd, 4096)
            if not chunk:
                code = process.wait(5)
                raise LocalCloudError(f"an API worker exited while starting (exit code {code})")
            data += chunk
        answer: dict[str, Any] = json.loads(data)
        error = answer.get("error")
        return str(error) if error else None

    def stop(self) -> None:
        """SIGTERM every worker, then SIGKILL what is left after the grace period
        (idempotent)."""
        processes, self._processes = self._processes, []
        for process, _ in processes:
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for process, status_fd in processes:
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
            if process.stdin is not None:
                process.stdin.close()
            os.close(status_fd)
        self._sock.close()


def _log_format() -> str:
    """The terminal's format as this process configured it: text when request lines are on."""
    from runhook_dev.devcloud import terminal

    return "text" if terminal.REQUESTS.isEnabledFor(logging.INFO) else "json"


# -- the worker process ----------------------------------------------------------------------


def _read_config() -> dict[str, Any]:
    """The first line of stdin; then end this worker when stdin (written only by the cloud's
    process) reaches end-of-file."""
    line = sys.stdin.buffer.readline()
    if not line:
        os._exit(0)  # the cloud ended before it configured this worker

    def watch() -> None:
        try:
            while sys.stdin.buffer.read(65536):
                pass
        finally:
            os._exit(0)

    threading.Thread(target=watch, name="lifeline", daemon=True).start()
    config: dict[str, Any] = json.loads(line)
    return config


def _app(environment: Mapping[str, str] | None) -> tuple[Any, str | None]:
    """The API app on the API function's own Container (None: the module's app, configured
    by os.environ), and why it is a stand-in, if it is."""
    from runhook_dev.devcloud.servers import load_api_app

    if environment is None:
        return load_api_app(None)
    from runhook_dev.devcloud.clients import LocalSession
    from runhook_dev.devcloud.containers import bootstrap_container

    session = LocalSession(environment["AWS_ENDPOINT_URL"])
    return load_api_app(bootstrap_container(environment, session))


def _ready_server(config: Any, status_fd: int, error: str | None) -> Any:
    """A uvicorn server that writes the ready line on `status_fd` once it accepts."""
    import uvicorn

    class ReadyServer(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets=sockets)
            if self.started:
                with os.fdopen(status_fd, "w") as status:
                    status.write(json.dumps({"error": error}) + "\n")

    return ReadyServer(config)


def main(argv: list[str]) -> int:
    """`python -m runhook_dev.devcloud.api_workers <socket fd> <status fd>`."""
    import asyncio
    import importlib

    import uvicorn

    from runhook_dev.devcloud.command import configure_logging
    from runhook_dev.devcloud.servers import API_APP
    from runhook_dev.devcloud.terminal import RequestLog

    # Ctrl-C reaches the whole process group: until uvicorn handles it, the cloud decides
    # (it stops the workers, or their lifeline ends them), without a traceback from here.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # While the cloud boots; if this fails, load_api_app says why (with the traceback).
    with contextlib.suppress(Exception):
        importlib.import_module(API_APP.partition(":")[0])
    config = _read_config()
    os.environ.clear()
    os.environ.update(config["process_environment"])
    configure_logging(config["log_level"], config["log_format"])
    sock = socket.socket(fileno=int(argv[1]))
    app, error = _app(config["environment"])
    uvicorn_config = uvicorn.Config(
        RequestLog(app),
        log_level="warning",
        access_log=False,
        lifespan="auto",
        timeout_graceful_shutdown=3,
    )
    server = _ready_server(uvicorn_config, int(argv[2]), error)
    asyncio.run(server.serve(sockets=[sock]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
