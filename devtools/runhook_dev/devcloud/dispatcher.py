"""One loopback port for every AWS call of the local cloud.

- ``POST /2015-03-31/functions/<name|arn>/invocations`` invokes the function through the
  registry's invoker: in-process, or at `--lambda-endpoint` (invoker.py) (Lambda's Invoke
  wire contract, RequestResponse, Event and DryRun);
- requests with ``X-Amz-Target: DynamoDB_20120810.*`` (and the Streams API's
  ``DynamoDBStreams_20120810.*``) go to DynamoDB Local;
- everything else goes to moto's WSGI application, called in-process.

Every answered write is shown to the `ActivityHub` (activity.py), which wakes the pollers
it concerns: they wait for that instead of polling.
"""

from __future__ import annotations

import http.client
import json
import logging
import re
import socket
import threading
from collections.abc import Callable, Iterable
from io import BytesIO
from typing import TYPE_CHECKING, Any

from runhook_dev.devcloud.activity import ActivityHub
from runhook_dev.devcloud.registry import (
    FunctionRegistry,
    InvokeResult,
    LocalFunction,
    marshalled,
)

if TYPE_CHECKING:
    from runhook_dev.devcloud.async_invoke import AsyncInvoker

log = logging.getLogger("devcloud.dispatcher")

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
StartResponse = Callable[..., Any]

_INVOKE_PATH = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations/?$")
# moto requests whose body the activity hub reads (the rest pass through untouched).
_WATCHED_TARGETS = ("AmazonSQS.", "AWSEvents.PutEvents", "AWSStepFunctions.")
_SCHEDULES_PATH = re.compile(r"^/schedules/[^/]+/?$")
_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "host",
}


class _NoDelayConnection(http.client.HTTPConnection):
    """http.client sends a request's head and body in two writes: without TCP_NODELAY,
    Nagle holds the body until the server ACKs the head, which a delayed ACK puts off
    ~40 ms, on every call (every (re)connect sets it)."""

    def connect(self) -> None:
        super().connect()
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _Upstream:
    """A keep-alive HTTP connection per thread to one host:port."""

    def __init__(self, host: str, port: Callable[[], int], timeout: float = 60.0) -> None:
        self.host, self._port, self.timeout = host, port, timeout
        self._local = threading.local()

    @property
    def port(self) -> int:
        return self._port()

    def request(
        self, method: str, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        for attempt in (1, 2):
            conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
            port = self.port
            if conn is None or conn.port != port:
                conn = _NoDelayConnection(self.host, port, timeout=self.timeout)
                self._local.conn = conn
            try:
                conn.request(method, path, body=body, headers=headers)
                answer = conn.getresponse()
                data = answer.read()
                return answer.status, answer.getheaders(), data
            except (http.client.HTTPException, ConnectionError, OSError):
                conn.close()
                self._local.conn = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover


class Dispatcher:
    """The WSGI application behind the local cloud's AWS endpoint."""

    def __init__(
        self,
        registry: FunctionRegistry,
        moto_app: WSGIApp,
        dynamodb_port: Callable[[], int],
        async_invoker: AsyncInvoker | None = None,
        *,
        dynamodb_down: threading.Event | None = None,
        events_down: threading.Event | None = None,
        activity: ActivityHub | None = None,
    ) -> None:
        self.registry = registry
        self.moto_app = moto_app
        self.dynamodb = _Upstream("127.0.0.1", dynamodb_port)
        self.async_invoker = async_invoker
        # Fault injection: while set, DynamoDB answers 503 (LocalCloud.dynamodb_outage()).
        self.dynamodb_down = dynamodb_down or threading.Event()
        # ... and EventBridge's PutEvents answers 503 (LocalCloud.events_outage()).
        self.events_down = events_down or threading.Event()
        self.activity = activity or ActivityHub()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target.startswith(("DynamoDB_20120810.", "DynamoDBStreams_20120810.")):
            return self._dynamodb(environ, start_response)
        if target == "AWSEvents.PutEvents" and self.events_down.is_set():
            message = {"__type": "ServiceUnavailable", "message": "simulated EventBridge outage"}
            return _json(start_response, 503, message)
        match = _INVOKE_PATH.match(path)
        if match and environ.get("REQUEST_METHOD") == "POST":
            answer = self._invoke(match.group("name"), environ, start_response)
            self.activity.invoked()
            return answer
        return self._moto(environ, start_response, target)

    def _moto(
        self, environ: dict[str, Any], start_response: StartResponse, target: str
    ) -> Iterable[bytes]:
        """moto answers; then the activity hub hears of the writes that wake a poller."""
        content_type = environ.get("CONTENT_TYPE") or ""
        method = environ.get("REQUEST_METHOD", "GET")
        if _SCHEDULES_PATH.match(environ.get("PATH_INFO", "")) and method != "GET":
            answer = self.moto_app(environ, start_response)
            self.activity.schedules_changed()
            return answer
        watched = target.startswith(_WATCHED_TARGETS) or (
            not target and method == "POST" and "form-urlencoded" in content_type
        )
        if not watched:
            return self.moto_app(environ, start_response)
        body = _read_body(environ)
        environ["wsgi.input"] = BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        if target == "AWSEvents.PutEvents":
            from runhook_dev.devcloud._motofast import event_deliveries

            with event_deliveries() as queues:  # the queues EventBridge delivered to
                answer = self.moto_app(environ, start_response)
            self.activity.events_put(body, queues)
            return answer
        answer = self.moto_app(environ, start_response)
        self.activity.observe(target, content_type, body)
        return answer

    # -- DynamoDB Local -------------------------------------------------------------
    def _dynamodb(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        body = _read_body(environ)
        if self.dynamodb_down.is_set():
            return _json(
                start_response,
                503,
                {
                    "__type": "com.amazonaws.dynamodb.v20120810#ServiceUnavailable",
                    "message": "DynamoDB is unavailable (simulated outage)",
                },
                extra=[("Content-Type", "application/x-amz-json-1.0")],
            )
        headers = {
            key[5:].replace("_", "-").title(): value
            for key, value in environ.items()
            if key.startswith("HTTP_") and key[5:].replace("_", "-").lower() not in _HOP_BY_HOP
        }
        headers["Content-Type"] = environ.get("CONTENT_TYPE") or "application/x-amz-json-1.0"
        headers["Host"] = f"127.0.0.1:{self.dynamodb.port}"
        try:
            status, answer_headers, data = self.dynamodb.request(
                "POST", environ.get("PATH_INFO") or "/", body, headers
            )
            self.activity.observe(environ.get("HTTP_X_AMZ_TARGET", ""), "", b"")
        except OSError as exc:
            log.error("DynamoDB Local unreachable: %s", exc)
            return _json(
                start_response,
                503,
                {"__type": "com.amazonaws.dynamodb#ServiceUnavailable", "message": str(exc)},
            )
        out = [(k, v) for k, v in answer_headers if k.lower() not in _HOP_BY_HOP]
        out.append(("Content-Length", str(len(data))))
        start_response(f"{status} {http.client.responses.get(status, '')}", out)
        return [data]

    # -- Lambda Invoke --------------------------------------------------------------
    def _invoke(
        self, name: str, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        from urllib.parse import unquote

        function = self.registry.get(unquote(name))
        if function is None:
            return _json(
                start_response,
                404,
                {
                    "Type": "User",
                    "Message": f"Function not found: {unquote(name)}",
                },
                extra=[("X-Amzn-ErrorType", "ResourceNotFoundException")],
            )
        body = _read_body(environ)
        try:
            event = json.loads(body) if body.strip() else {}
        except ValueError:
            return _json(
                start_response,
                400,
                {"Type": "User", "message": "Could not parse request body into json"},
                extra=[("X-Amzn-ErrorType", "InvalidRequestContentException")],
            )
        invocation_type = environ.get("HTTP_X_AMZ_INVOCATION_TYPE", "RequestResponse")
        if invocation_type == "DryRun":
            start_response("204 No Content", [("Content-Length", "0")])
            return [b""]
        if invocation_type == "Event":
            if self.async_invoker is None:  # pragma: no cover - always wired by LocalCloud
                raise RuntimeError("no async invoker")
            self.async_invoker.submit(function, event)
            start_response("202 Accepted", [("Content-Length", "0")])
            return [b""]
        result = self.registry.invoke(function, event)
        return self._invoke_answer(function, result, start_response)

    @staticmethod
    def _invoke_answer(
        function: LocalFunction, result: InvokeResult, start_response: StartResponse
    ) -> Iterable[bytes]:
        result, data = marshalled(result)
        headers = [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(data))),
            ("X-Amz-Executed-Version", "$LATEST"),
        ]
        if result.error:
            headers.append(("X-Amz-Function-Error", "Unhandled"))
        start_response("200 OK", headers)
        return [data]


def _read_body(environ: dict[str, Any]) -> bytes:
    stream = environ["wsgi.input"]
    length = environ.get("CONTENT_LENGTH")
    if length:
        return bytes(stream.read(int(length)))
    if environ.get("wsgi.input_terminated") or environ.get("HTTP_TRANSFER_ENCODING"):
        return bytes(stream.read())
    return b""


def _json(
    start_response: StartResponse,
    status: int,
    payload: Any,
    extra: list[tuple[str, str]] | None = None,
) -> Iterable[bytes]:
    data = json.dumps(payload).encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
    start_response(f"{status} {http.client.responses.get(status, '')}", headers + (extra or []))
    return [data]
