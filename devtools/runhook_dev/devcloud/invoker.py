"""Where the local cloud's Lambda invokes run: one seam, chosen when the cloud is composed.

Every invoke the local cloud makes goes through `FunctionRegistry.invoke`, which hands it to
the registry's `invoker` (a `FunctionInvoker`): the dispatcher's Lambda Invoke (the state
machine's Task states, `cloud.invoke`, InvocationType=Event), the async queue (EventBridge
rule shims, schedules, destinations), the SQS and DynamoDB stream pollers and the start-up
calls. A new caller that uses the registry or the async queue gets the choice for free.

- `InProcessInvoker` (the default): the handler runs in this process
  (`FunctionRegistry.run_here`).
- `RemoteInvoker` (`runhook dev --lambda-endpoint URL`): the invoke is sent to an
  endpoint speaking Lambda's Invoke API, e.g. `sam local start-lambda` (each function
  in a Lambda runtime container). Only the handler runs there: retries, destinations,
  batching and redrive stay with the local cloud, so the request is always
  RequestResponse. A function error (``X-Amz-Function-Error``) comes back as the same
  `InvokeResult(error=True)` as an in-process exception, so Step Functions' Retry/Catch,
  SQS redrive and stream retries behave alike; an endpoint that cannot be reached or
  answers an HTTP error is a failed invoke too (``Lambda.ServiceException``, which the
  run state machine retries).
"""

from __future__ import annotations

import http.client
import json
import logging
import threading
import time
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

from runhook_dev.devcloud.registry import FunctionRegistry, InvokeResult, LocalFunction

log = logging.getLogger("devcloud.lambda")

INVOKE_PATH = "/2015-03-31/functions/{name}/invocations"
SERVICE_ERROR = "Lambda.ServiceException"
# A container's first invoke includes its cold start (image pull, runtime boot).
COLD_START_ALLOWANCE = 60.0


class FunctionInvoker(Protocol):
    """Runs one invocation and answers what Lambda's Invoke answers; never raises for a
    function's own failure."""

    def invoke(self, function: LocalFunction, event: Any) -> InvokeResult: ...

    def describe(self) -> str:
        """Where handlers run, for the banner."""
        ...


class InProcessInvoker:
    """The handler runs in this process (imported from its CodeUri)."""

    def __init__(self, registry: FunctionRegistry) -> None:
        self.registry = registry

    def invoke(self, function: LocalFunction, event: Any) -> InvokeResult:
        return self.registry.run_here(function, event)

    def describe(self) -> str:
        return "handlers in-process"


class RemoteInvoker:
    """Sends every template function's invoke to a Lambda Invoke endpoint (by logical id,
    the name `sam local start-lambda` always knows). A function registered at run time
    with a Python callable (tests) has no container anywhere: it runs in-process."""

    def __init__(self, endpoint_url: str, registry: FunctionRegistry) -> None:
        problem = endpoint_problem(endpoint_url)
        if problem:
            raise ValueError(problem)
        parts = urlsplit(endpoint_url)
        self.endpoint_url = endpoint_url.rstrip("/")
        self.host = parts.hostname or ""  # never empty: endpoint_problem checked it
        self.port = parts.port or 80
        self.prefix = parts.path.rstrip("/")
        self.local = InProcessInvoker(registry)
        self._connections = threading.local()

    def describe(self) -> str:
        return f"sent to {self.endpoint_url}"

    def invoke(self, function: LocalFunction, event: Any) -> InvokeResult:
        logical_id = function.logical_id
        if logical_id is None:
            return self.local.invoke(function, event)
        started = time.monotonic()
        path = self.prefix + INVOKE_PATH.format(name=quote(logical_id, safe=""))
        timeout = function.timeout_seconds + COLD_START_ALLOWANCE
        try:
            status, error_header, body = self._post(path, json.dumps(event).encode(), timeout)
        except (OSError, http.client.HTTPException) as exc:
            log.warning(
                "remote invoke of %s: %s unreachable: %s", logical_id, self.endpoint_url, exc
            )
            return _service_error(f"Lambda endpoint {self.endpoint_url} unreachable: {exc}")
        elapsed = (time.monotonic() - started) * 1000
        if status != 200:
            text = body.decode(errors="replace")[:500]
            log.warning("remote invoke of %s: HTTP %d: %s", logical_id, status, text)
            return _service_error(f"Lambda endpoint answered HTTP {status}: {text}")
        payload = _decode(body)
        if error_header:
            log.warning(
                "remote invoke of %s: function error after %.0f ms: %s",
                logical_id,
                elapsed,
                payload,
            )
            return InvokeResult(payload, error=True)
        log.debug("remote invoke of %s: answered in %.0f ms", logical_id, elapsed)
        return InvokeResult(payload)

    def _post(self, path: str, body: bytes, timeout: float) -> tuple[int, str | None, bytes]:
        """POST on this thread's keep-alive connection. Only a reused connection that the
        server closed meanwhile is tried again (on a fresh one): a timeout or a failure of
        a fresh connection is never sent twice."""
        headers = {
            "Content-Type": "application/json",
            "X-Amz-Invocation-Type": "RequestResponse",
            "X-Amz-Log-Type": "None",
        }
        while True:
            conn: http.client.HTTPConnection | None = getattr(self._connections, "conn", None)
            reused = conn is not None
            if conn is None:
                conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
                self._connections.conn = conn
            elif conn.sock is not None:
                conn.sock.settimeout(timeout)
            try:
                conn.request("POST", path, body=body, headers=headers)
                answer = conn.getresponse()
                data = answer.read()
                return answer.status, answer.getheader("X-Amz-Function-Error"), data
            except (http.client.HTTPException, OSError) as exc:
                conn.close()
                self._connections.conn = None
                # http.client.RemoteDisconnected is a ConnectionResetError.
                stale = isinstance(exc, ConnectionResetError | BrokenPipeError)
                if not (reused and stale):
                    raise


def endpoint_problem(endpoint_url: str) -> str | None:
    """Why `endpoint_url` cannot be a Lambda endpoint (None: it can)."""
    parts = urlsplit(endpoint_url)
    if parts.scheme != "http" or not parts.hostname:
        return f"--lambda-endpoint must be an http://host:port URL, got {endpoint_url!r}"
    try:
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return f"--lambda-endpoint has a bad port: {endpoint_url!r}"
    return None


def _decode(body: bytes) -> Any:
    """The function's answer; a body that is not JSON stays text (Lambda answers any bytes)."""
    if not body.strip():
        return None
    try:
        return json.loads(body)
    except ValueError:
        return body.decode(errors="replace")


def _service_error(message: str) -> InvokeResult:
    return InvokeResult(
        {"errorMessage": message, "errorType": SERVICE_ERROR, "stackTrace": []}, error=True
    )


def make_invoker(registry: FunctionRegistry, lambda_endpoint: str | None) -> FunctionInvoker:
    """The composition's choice: in-process, or the endpoint given by `--lambda-endpoint`."""
    if lambda_endpoint:
        return RemoteInvoker(lambda_endpoint, registry)
    return InProcessInvoker(registry)
