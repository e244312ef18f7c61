"""The local cloud's AWS endpoint: one loopback port for every AWS call.

`AwsEndpoint` serves the `Dispatcher` (dispatcher.py) with werkzeug on an already
listening socket: Lambda's Invoke runs handlers through the registry's invoker (in-process
unless `--lambda-endpoint`; asynchronous invokes go to the `AsyncInvoker`), DynamoDB
requests go to DynamoDB Local (503 during an outage), everything else to moto's WSGI
application, called in-process. On start it resets
moto's backends and turns on Step Functions execution, which must happen before any
state machine is created (machines created earlier never execute).
"""

from __future__ import annotations

import json
import socket
import threading
import urllib.request
from collections.abc import Callable, Sequence
from typing import Any

from runhook_dev.devcloud.activity import ActivityHub
from runhook_dev.devcloud.async_invoke import AsyncInvoker
from runhook_dev.devcloud.registry import FunctionRegistry
from runhook_dev.devcloud.supervisor import DynamoDBSupervisor

ClientFactory = Callable[[str], Any]

MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True}}


class AwsEndpoint:
    """The dispatcher in front of moto, DynamoDB Local and the in-process Lambda."""

    def __init__(
        self,
        sock: socket.socket,
        registry: FunctionRegistry,
        dynamodb: DynamoDBSupervisor,
        new_client: ClientFactory,
        async_retry_delays: Sequence[float],
    ) -> None:
        self._socket: socket.socket | None = sock
        self.port = int(sock.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.registry = registry
        self.dynamodb = dynamodb
        # Lambda's asynchronous invocations (InvocationType=Event, rule shims).
        self.invoker = AsyncInvoker(registry, new_client, async_retry_delays)
        self.events_down = threading.Event()  # fault injection: PutEvents answers 503
        self.activity = ActivityHub()  # the dispatcher wakes the pollers through it
        self._server: Any = None

    def start(self) -> None:
        """Import moto (the slow part of start-up), serve, then configure moto."""
        from runhook_dev.devcloud._fastimport import defer_moto_batch

        defer_moto_batch()  # before moto is imported: saves ~2 s of CPU at start-up
        from moto.moto_server.werkzeug_app import create_backend_app

        from runhook_dev.devcloud import _motofast
        from runhook_dev.devcloud.dispatcher import Dispatcher
        from runhook_dev.devcloud.servers import WsgiServer

        _motofast.install()  # moto's per-request parsing, done once (_motofast.py)
        dynamodb = self.dynamodb
        dispatcher = Dispatcher(
            self.registry,
            _motofast.MemoizedDomainDispatcher(create_backend_app),
            lambda: dynamodb.port,
            self.invoker,
            dynamodb_down=dynamodb.down,
            events_down=self.events_down,
            activity=self.activity,
        )
        assert self._socket is not None, "an endpoint starts once"
        self._server = WsgiServer(dispatcher, self._socket)
        self._socket = None  # the server owns it now
        self._server.start()
        self._moto_api("reset", None)
        self._moto_api("config", MOTO_CONFIG)

    def stop_invoker(self) -> None:
        """Drop queued async invocations and wait for running ones (before the pollers)."""
        self.invoker.stop()

    def stop(self) -> None:
        """Stop serving (idempotent)."""
        server, self._server = self._server, None
        if server is not None:
            server.stop()
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def _moto_api(self, action: str, payload: Any) -> None:
        request = urllib.request.Request(  # noqa: S310 - a loopback http URL
            f"{self.url}/moto-api/{action}",
            data=json.dumps(payload).encode() if payload is not None else b"",
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            answer.read()
