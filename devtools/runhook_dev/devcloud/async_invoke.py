"""Lambda's asynchronous invocation, locally.

An async invoke (InvocationType=Event, or an EventBridge rule's Lambda target) is
queued and run in a worker thread; an error is retried up to the function's
``EventInvokeConfig.MaximumRetryAttempts`` (AWS waits about 1 and 2 minutes between
attempts; locally the delays are short), then the invocation record goes to the
``OnFailure`` destination (an SQS queue, an EventBridge bus or another function).
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from runhook_dev.devcloud.registry import FunctionRegistry, InvokeResult, LocalFunction

log = logging.getLogger("devcloud.async")

ClientFactory = Callable[[str], Any]


def destination_record(
    function: LocalFunction,
    event: Any,
    result: InvokeResult,
    attempts: int,
    timestamp: str,
) -> dict[str, Any]:
    """The invocation record Lambda sends to an async destination."""
    return {
        "version": "1.0",
        "timestamp": timestamp,
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "functionArn": f"{function.arn}:$LATEST",
            "condition": "RetriesExhausted" if result.error else "Success",
            "approximateInvokeCount": attempts,
        },
        "requestPayload": event,
        "responseContext": {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            **({"functionError": "Unhandled"} if result.error else {}),
        },
        "responsePayload": result.payload,
    }


class AsyncInvoker:
    """Runs async invocations with retries and destinations in a thread pool."""

    def __init__(
        self,
        registry: FunctionRegistry,
        client: ClientFactory,
        retry_delays: Sequence[float] = (1.0, 2.0),
        max_workers: int = 16,
    ) -> None:
        self.registry = registry
        self.client = client
        self.retry_delays = tuple(retry_delays) or (1.0,)
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="lambda-async")
        self._stopping = threading.Event()
        self._pending: set[Future[None]] = set()
        self._lock = threading.Lock()

    def submit(self, function: LocalFunction, event: Any) -> None:
        if self._stopping.is_set():
            log.warning("local cloud stopping: async invoke of %s dropped", function.name)
            return
        future = self._pool.submit(self._run, function, event)
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._done)

    def _done(self, future: Future[None]) -> None:
        with self._lock:
            self._pending.discard(future)
        error = future.exception()
        if error is not None:
            log.error("async invoke machinery failed: %s", error, exc_info=error)

    def idle(self) -> bool:
        with self._lock:
            return not self._pending

    def _run(self, function: LocalFunction, event: Any) -> None:
        from runhook.clock import now_iso

        attempts = 0
        allowed = 1 + max(0, function.async_config.maximum_retry_attempts)
        result = InvokeResult(None)
        while attempts < allowed:
            if attempts:
                delay = self.retry_delays[min(attempts - 1, len(self.retry_delays) - 1)]
                if self._stopping.wait(delay):
                    return
            attempts += 1
            result = self.registry.invoke(function, event)
            if not result.error:
                break
            log.info(
                "async invoke of %s failed (attempt %d of %d): %s",
                function.name,
                attempts,
                allowed,
                result.error_type,
            )
        destination = (
            function.async_config.on_failure_arn
            if result.error
            else function.async_config.on_success_arn
        )
        if destination:
            record = destination_record(function, event, result, attempts, now_iso())
            self._send(destination, record, success=not result.error)
        elif result.error:
            log.warning("async invoke of %s dropped after %d attempts", function.name, attempts)

    def _send(self, arn: str, record: dict[str, Any], *, success: bool) -> None:
        service = arn.split(":")[2] if arn.count(":") >= 5 else ""
        body = json.dumps(record)
        if service == "sqs":
            sqs = self.client("sqs")
            name = arn.split(":")[5]
            url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
            sqs.send_message(QueueUrl=url, MessageBody=body)
        elif service == "events":
            self.client("events").put_events(
                Entries=[
                    {
                        "Source": "lambda",
                        "DetailType": "Lambda Function Invocation Result - "
                        + ("Success" if success else "Failure"),
                        "Detail": body,
                        "EventBusName": arn,
                    }
                ]
            )
        elif service == "lambda":
            target = self.registry.get(arn)
            if target is not None:
                self.submit(target, record)
        else:
            log.warning("unsupported async destination %s", arn)

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        self._pool.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            pending = list(self._pending)
        for future in pending:
            with contextlib.suppress(Exception):  # failures are logged by _done
                future.result(timeout=timeout)
