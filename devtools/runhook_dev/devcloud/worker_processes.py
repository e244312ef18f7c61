"""Child processes of the local cloud that serve on one inherited listening socket.

Both the API workers (api_workers.py) and the Lambda workers (lambda_workers.py) are this:
N Python processes (`python -m <module> <socket fd> <status fd>`) that all accept on one
listening socket the cloud took (the kernel hands each connection to one of them), each
given its configuration as one JSON line on stdin once the cloud has deployed.

- Start: `spawn` early (the workers import their stack while Java boots and the template
  deploys), `configure` once the deploy is done.
- Ready: each worker writes one JSON line on its status pipe once it accepts
  (``{"error": null}``, or why it serves a stand-in); `configure` returns each answer and
  the cloud is not ready before every worker is.
- No orphans: each worker's stdin is a pipe whose only writer is the cloud's process; a
  worker thread blocks reading it and ends the worker at end-of-file, which happens
  however the cloud's process ends (`stop()`, an exception, SIGKILL). No polling, and it
  works from any thread (PR_SET_PDEATHSIG is tied to the forking thread).
- Stop: SIGTERM, then SIGKILL after `STOP_GRACE_SECONDS`.
"""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
import threading
import time
from typing import Any

from runhook_dev.devcloud.errors import LocalCloudError

STOP_GRACE_SECONDS = 5.0


class WorkerProcesses:
    """N processes of `module` accepting on `sock` (`url`, `host`, `port`, `pids`)."""

    what = "worker"  # for messages: "an API worker did not start ..."

    def __init__(self, sock: socket.socket, count: int, module: str) -> None:
        if count < 1:
            raise ValueError(f"{self.what}s: at least one")
        self._sock = sock
        host, port = sock.getsockname()[:2]
        self.host, self.port = str(host), int(port)
        self.url = f"http://{self.host}:{self.port}"
        self._count = count
        self._module = module
        self._processes: list[tuple[subprocess.Popen[bytes], int]] = []

    @property
    def pids(self) -> list[int]:
        return [process.pid for process, _ in self._processes]

    def spawn(self) -> None:
        """Start the worker processes (they import their stack, then wait for `configure`)."""
        try:
            for _ in range(self._count):
                self._processes.append(self._spawn())
        except BaseException:
            self.stop()
            raise

    def configure(self, config: dict[str, Any], timeout: float) -> str | None:
        """Hand each worker `config` and wait until each accepts: why one serves a stand-in,
        or None. A worker that dies first, or a timeout, stops them all (LocalCloudError)."""
        if not self._processes:
            self.spawn()
        line = json.dumps(config).encode() + b"\n"
        try:
            for process, _ in self._processes:
                assert process.stdin is not None
                process.stdin.write(line)
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
                [sys.executable, "-m", self._module, str(self._sock.fileno()), str(status_write)],
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
                raise LocalCloudError(f"an {self.what} did not start within {timeout:.0f} s")
            readable, _, _ = select.select([fd], [], [], left)
            if not readable:
                continue
            chunk = os.read(fd, 4096)
            if not chunk:
                code = process.wait(5)
                raise LocalCloudError(f"an {self.what} exited while starting (exit code {code})")
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


# -- in the worker process ------------------------------------------------------------------


def read_config() -> dict[str, Any]:
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


def report_ready(status_fd: int, error: str | None) -> None:
    """The ready line the cloud waits for (`WorkerProcesses.configure`)."""
    with os.fdopen(status_fd, "w") as status:
        status.write(json.dumps({"error": error}) + "\n")
