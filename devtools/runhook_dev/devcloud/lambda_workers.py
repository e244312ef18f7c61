"""The template's handlers run by worker processes of their own (`CloudOptions.lambda_workers`,
`--lambda-workers`).

In-process, a handler shares one interpreter lock with the dispatcher, moto and the
pollers: under load (POST runs: the step function, the outbox's publisher, the webhook
dispatcher) each AWS call the API makes waits behind them. A handler needs nothing of
that process: it talks to AWS over HTTP through the dispatcher (its Container is built
from its own environment and a `LocalSession` aimed at the endpoint). So `LambdaWorkers`
starts N Python processes (`python -m runhook_dev.devcloud.lambda_workers`) that serve
Lambda's Invoke API (the contract `invoker.RemoteInvoker` speaks, as `sam local
start-lambda` does) on one listening socket, each with a `FunctionRegistry` of the
template's functions; the cloud's registry sends every template function's invoke there
(`WorkerInvoker`). Only the handler runs in a worker: retries, destinations, batching,
redrive and Step Functions' Retry/Catch stay with the local cloud, and a function
registered at run time with a Python callable (tests) still runs in the cloud's process.

`GET /invocations` on the workers' URL (the banner prints it) answers how many invokes of
each function (by logical id) the worker that takes the connection ran: with one worker,
the evidence of where handlers run.

Process handling (spawned early, configured after the deploy, ready lines, the stdin
lifeline that ends them with the cloud, SIGKILL included): worker_processes.py. A worker
that dies is not restarted: its invokes fail as `Lambda.ServiceException` (which the run
state machine retries) until `runhook dev` is restarted.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import os
import signal
import socket
import sys
import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from runhook_dev.devcloud.invoker import INVOKE_PATH, RemoteInvoker
from runhook_dev.devcloud.registry import (
    FunctionRegistry,
    InvokeResult,
    LocalFunction,
    marshalled,
)
from runhook_dev.devcloud.worker_processes import WorkerProcesses, read_config, report_ready

log = logging.getLogger("devcloud.lambda")

_PREFIX, _SUFFIX = INVOKE_PATH.split("{name}")
# Imported while the cloud boots (what every runhook handler imports first).
_WARM_MODULES = ("boto3", "runhook.bootstrap", "aws_lambda_powertools")
# How often an idle worker's accept loop wakes up to look for shutdown() (never called in a
# worker: SIGTERM or its lifeline ends it): rarely, so an idle `runhook dev` stays quiet.
IDLE_POLL_SECONDS = 60.0


class LambdaWorkers(WorkerProcesses):
    """N Lambda worker processes on one loopback port (`url`, `pids`, `stop()`)."""

    what = "Lambda worker"

    def __init__(self, count: int) -> None:
        from runhook_dev.devcloud.servers import listen

        super().__init__(listen(0, "Lambda workers", "--lambda-workers"), count, __name__)

    def start(
        self,
        functions: Iterable[LocalFunction],
        environments: Mapping[str, Mapping[str, str]] | None,
        endpoint_url: str,
        timeout: float = 90.0,
    ) -> None:
        """Hand each worker the template's functions and wait until each accepts.

        `environments`: each function's own environment by name, from which the worker
        builds its Container (the default container factory); None: the modules' handlers,
        configured by os.environ (the worker inherits the cloud's)."""
        from runhook_dev.devcloud.api_workers import log_format

        config = {
            "functions": [_describe(function) for function in functions],
            "environments": (
                {name: dict(env) for name, env in environments.items()}
                if environments is not None
                else None
            ),
            "endpoint_url": endpoint_url,
            "process_environment": dict(os.environ),
            "log_format": log_format(),
            "log_level": logging.getLevelName(logging.getLogger().getEffectiveLevel()),
        }
        self.configure(config, timeout)


class WorkerInvoker(RemoteInvoker):
    """`RemoteInvoker` aimed at the cloud's own Lambda workers (its banner line)."""

    def __init__(self, workers: LambdaWorkers, registry: FunctionRegistry) -> None:
        super().__init__(workers.url, registry)
        self.count = len(workers.pids)

    def describe(self) -> str:
        plural = "es" if self.count != 1 else ""
        return f"handlers in {self.count} worker process{plural} at {self.endpoint_url}"


def _describe(function: LocalFunction) -> dict[str, Any]:
    """A template function as the worker rebuilds it (JSON)."""
    return {
        "name": function.name,
        "handler": function.handler,
        "logical_id": function.logical_id,
        "code_dir": str(function.code_dir) if function.code_dir else None,
        "timeout_seconds": function.timeout_seconds,
        "memory_mb": function.memory_mb,
        "environment": dict(function.environment),
    }


# -- the worker process ----------------------------------------------------------------------


def worker_registry(config: Mapping[str, Any]) -> FunctionRegistry:
    """The template's functions, each wired like the cloud wires them in-process."""
    registry = FunctionRegistry()
    for spec in config["functions"]:
        code_dir = spec["code_dir"]
        registry.add(
            LocalFunction(
                name=spec["name"],
                handler=spec["handler"],
                logical_id=spec["logical_id"],
                code_dir=Path(code_dir) if code_dir else None,
                timeout_seconds=float(spec["timeout_seconds"]),
                memory_mb=int(spec["memory_mb"]),
                environment=dict(spec["environment"]),
            )
        )
    environments: dict[str, dict[str, str]] | None = config["environments"]
    if environments is not None:
        from runhook_dev.devcloud.clients import LocalSession
        from runhook_dev.devcloud.containers import HandlerWiring, bootstrap_container

        endpoint = str(config["endpoint_url"])
        registry.resolve_handler = HandlerWiring(
            bootstrap_container,
            lambda function: environments[function.name],
            lambda: LocalSession(endpoint),
        )
    return registry


def invoke_handler(registry: FunctionRegistry) -> type[BaseHTTPRequestHandler]:
    """Lambda's Invoke (RequestResponse) for the registry's functions, over keep-alive
    HTTP/1.1: what `RemoteInvoker` sends; and `GET /invocations`, the counts."""
    counts: Counter[str] = Counter()
    lock = threading.Lock()

    class InvokeHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            log.debug(format, *args)

        def do_GET(self) -> None:
            if self.path != "/invocations":
                self._send(404, {"Type": "User", "Message": f"Not found: {self.path}"}, [])
                return
            with lock:
                answer = dict(counts)
            self._send(200, answer, [])

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            name = ""
            if self.path.startswith(_PREFIX) and self.path.endswith(_SUFFIX):
                name = unquote(self.path[len(_PREFIX) : -len(_SUFFIX)])
            function = registry.get(name) if name else None
            if function is None:
                message = {"Type": "User", "Message": f"Function not found: {name or self.path}"}
                self._send(404, message, [("X-Amzn-ErrorType", "ResourceNotFoundException")])
                return
            try:
                event = json.loads(body) if body.strip() else {}
            except ValueError as exc:
                message = {"Type": "User", "Message": f"Could not parse request body: {exc}"}
                self._send(400, message, [("X-Amzn-ErrorType", "InvalidRequestContentException")])
                return
            with lock:
                counts[function.logical_id or function.name] += 1
            self._answer(registry.run_here(function, event))

        def _answer(self, result: InvokeResult) -> None:
            result, data = marshalled(result)
            extra = [("X-Amz-Function-Error", "Unhandled")] if result.error else []
            self._write(200, data, extra)

        def _send(self, status: int, payload: Any, extra: list[tuple[str, str]]) -> None:
            self._write(status, json.dumps(payload).encode(), extra)

        def _write(self, status: int, data: bytes, extra: list[tuple[str, str]]) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in extra:
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

    return InvokeHandler


def serve(sock: socket.socket, registry: FunctionRegistry) -> ThreadingHTTPServer:
    """A threaded HTTP server on the inherited listening socket (not yet serving)."""
    # Non-blocking: the workers race for each connection; the losers' accept must not block.
    sock.setblocking(False)
    server = ThreadingHTTPServer(sock.getsockname()[:2], invoke_handler(registry), False)
    server.socket.close()
    server.socket = sock
    server.daemon_threads = True
    return server


def main(argv: list[str]) -> int:
    """`python -m runhook_dev.devcloud.lambda_workers <socket fd> <status fd>`."""
    from runhook_dev.devcloud.command import configure_logging

    # Ctrl-C reaches the whole process group: the cloud decides (it stops the workers, or
    # their lifeline ends them), without a traceback from here.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for module in _WARM_MODULES:  # while the cloud boots; a failure shows at the invoke
        with contextlib.suppress(Exception):
            importlib.import_module(module)
    config = read_config()
    os.environ.clear()
    os.environ.update(config["process_environment"])
    configure_logging(config["log_level"], config["log_format"])
    server = serve(socket.socket(fileno=int(argv[1])), worker_registry(config))
    report_ready(int(argv[2]), None)
    server.serve_forever(poll_interval=IDLE_POLL_SECONDS)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
