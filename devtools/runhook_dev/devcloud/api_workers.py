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

The process handling (spawn, configure, ready line, lifeline, stop) is `WorkerProcesses`
(worker_processes.py), shared with the Lambda workers (lambda_workers.py).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import sys
from collections.abc import Mapping
from typing import Any

from runhook_dev.devcloud.worker_processes import WorkerProcesses, read_config, report_ready

log = logging.getLogger("devcloud")


class ApiWorkers(WorkerProcesses):
    """N API worker processes accepting on one listening socket (the `ApiServer` interface:
    `url`, `host`, `port`, `stop()`; the process handling in worker_processes.py)."""

    what = "API worker"

    def __init__(self, sock: socket.socket, count: int) -> None:
        super().__init__(sock, count, __name__)

    def start(self, environment: Mapping[str, str] | None, timeout: float = 90.0) -> str | None:
        """Hand each worker its configuration (the API function's environment; None: the
        module's app, configured by the inherited os.environ) and wait until each accepts:
        why the real app is missing, or None. A worker that dies first, or a timeout,
        stops them all (LocalCloudError)."""
        config = {
            "environment": dict(environment) if environment is not None else None,
            # Spawned before the deploy: os.environ as it is now (the module's app of
            # the factory-less mode reads it).
            "process_environment": dict(os.environ),
            "log_format": log_format(),
            "log_level": logging.getLevelName(logging.getLogger().getEffectiveLevel()),
        }
        return self.configure(config, timeout)


def log_format() -> str:
    """The terminal's format as this process configured it: text when request lines are on."""
    from runhook_dev.devcloud import terminal

    return "text" if terminal.REQUESTS.isEnabledFor(logging.INFO) else "json"


# -- the worker process ----------------------------------------------------------------------


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
                report_ready(status_fd, error)

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
    config = read_config()
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
