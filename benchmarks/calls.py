"""Count the AWS calls of the local cloud: botocore event hooks on every client.

All of the local cloud's handlers run in one process, so one recorder sees every call:

- `CallRecorder.install()` wraps `botocore.session.Session.create_client`, so each client
  created afterwards (runhook's, the local cloud's, moto's Step Functions interpreter's)
  gets two event handlers: ``before-parameter-build`` (asks DynamoDB for
  ``ReturnConsumedCapacity=INDEXES`` and remembers the request) and ``after-call`` (records
  a `Call`, priced from the response by the pure `priced_call`). Install it before the
  cloud starts.
- `wrap_registry` times every Lambda invocation of the local cloud (`Invocation`) and marks
  the calls made inside it; `asgi` wraps the API app (`ApiRequest`, one per API Gateway
  request) the same way.
- Calls that only exist locally (the rule shims that stand in for EventBridge → Lambda,
  the emulated Step Functions status-change events) are origin ``local``; calls the
  benchmark itself makes (inside `ignored()`, or API requests with the `IGNORE_HEADER`)
  are origin ``driver``. Neither is billed.

The pricing and aggregation helpers (the section before the recorder) are pure (unit-tested).
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import json
import math
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any

IGNORE_HEADER = "x-bench-ignore"
CHUNK = 64 * 1024  # SQS and EventBridge bill per 64 KB chunk of payload

DYNAMODB_READS = frozenset(
    {"GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems", "ExecuteStatement"}
)
DYNAMODB_WRITES = frozenset(
    {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
)

# Origins: who made a call. Only `local` and `driver` calls are left out of the bill.
API = "api"
FUNCTION = "function"
ESM = "esm"  # the SQS event source mapping's own receives and deletes
STEPFUNCTIONS = "stepfunctions"  # a service integration run by the state machine
LOCAL = "local"
DRIVER = "driver"
OTHER = "other"
UNBILLED_ORIGINS = frozenset({LOCAL, DRIVER})

_current: contextvars.ContextVar[str | None] = contextvars.ContextVar("bench_current", default=None)
_ignored: contextvars.ContextVar[bool] = contextvars.ContextVar("bench_ignored", default=False)


@dataclass(frozen=True)
class Call:
    """One AWS API call as the recorder saw it."""

    service: str  # botocore's service name: dynamodb, stepfunctions, sqs, events, lambda
    operation: str
    origin: str = OTHER
    ok: bool = True
    error_code: str | None = None
    read_units: float = 0.0
    write_units: float = 0.0
    capacity_reported: bool = False
    items: int = 0  # items a DynamoDB write touches; entries of a batch call
    chunks: int = 1  # 64 KB chunks of the payload (SQS requests, EventBridge events)
    returned: int | None = None  # messages a ReceiveMessage returned
    detail: str = ""  # e.g. the PutEvents sources, for local-only filtering
    at: float = 0.0


@dataclass(frozen=True)
class Invocation:
    """One Lambda invocation of the local cloud, timed around the handler."""

    function: str
    memory_mb: int
    duration_ms: float  # wall time: what Lambda bills
    error: bool = False
    cpu_ms: float = 0.0  # CPU time of the invoking thread (worker threads not included)


@dataclass(frozen=True)
class ApiRequest:
    """One request to the API (an API Gateway request and an ApiFunction invocation)."""

    method: str
    path: str
    status: int
    duration_ms: float


@dataclass
class Recording:
    calls: list[Call] = field(default_factory=list)
    invocations: list[Invocation] = field(default_factory=list)
    api_requests: list[ApiRequest] = field(default_factory=list)
    log_bytes: int = 0


# -- pure helpers ---------------------------------------------------------------------------


def chunks(size: int) -> int:
    """Billing chunks of a payload: one per started 64 KB, at least one."""
    return max(1, math.ceil(size / CHUNK))


def capacity(consumed: Any) -> float:
    """Total capacity units in a ConsumedCapacity value (a dict, or a list of them)."""
    if isinstance(consumed, Mapping):
        return float(consumed.get("CapacityUnits") or 0.0)
    if isinstance(consumed, list):
        return sum(capacity(c) for c in consumed)
    return 0.0


def write_items(operation: str, params: Mapping[str, Any]) -> int:
    """How many items a DynamoDB write touches (for the estimate of a refused write)."""
    if operation == "TransactWriteItems":
        return len(params.get("TransactItems") or [])
    if operation == "BatchWriteItem":
        return sum(len(v) for v in (params.get("RequestItems") or {}).values())
    return 1


def refused_write_units(operation: str, items: int) -> float:
    """A refused conditional write still costs: 1 WRU per item (2 in a transaction).

    DynamoDB does not report capacity on a refused write; this is the documented minimum
    for items up to 1 KB.
    """
    return float(items * (2 if operation == "TransactWriteItems" else 1))


def payload_size(service: str, operation: str, params: Mapping[str, Any]) -> tuple[int, int]:
    """(entries, billing chunks) of an SQS send or an EventBridge PutEvents."""
    if service == "sqs" and operation == "SendMessage":
        return 1, chunks(len(str(params.get("MessageBody", "")).encode()))
    if service == "sqs" and operation == "SendMessageBatch":
        entries = params.get("Entries") or []
        size = sum(len(str(e.get("MessageBody", "")).encode()) for e in entries)
        return len(entries), chunks(size)
    if service == "events" and operation == "PutEvents":
        entries = params.get("Entries") or []
        # EventBridge bills each entry per started 64 KB.
        total = sum(
            chunks(len(str(e.get("Detail", "")).encode()) + len(str(e.get("DetailType", ""))))
            for e in entries
        )
        return len(entries), total
    if service == "sqs" and operation in {"DeleteMessageBatch", "ChangeMessageVisibilityBatch"}:
        return len(params.get("Entries") or []), 1
    return 0, 1


def classify(
    *,
    ignored: bool,
    client_origin: str | None,
    thread_name: str,
    current: str | None,
    queue_url: str = "",
    detail: str = "",
) -> str:
    """Who made a call (see the module docstring); `local` and `driver` are not billed."""
    if ignored:
        return DRIVER
    if client_origin:
        return client_origin
    if thread_name.startswith(("sfn-status-events", "poller-rule:")) or "-shim-" in queue_url:
        return LOCAL
    if detail == "aws.states":  # the emulated Step Functions status-change events
        return LOCAL
    if current:
        return API if current.startswith("api") else FUNCTION
    if thread_name.startswith("poller-"):
        return ESM
    if thread_name.startswith("webhook-send"):
        return FUNCTION  # the send function's worker threads (no context is carried there)
    return OTHER


@dataclass
class OperationTotals:
    calls: int = 0
    errors: int = 0
    read_units: float = 0.0
    write_units: float = 0.0
    estimated_units: float = 0.0
    entries: int = 0
    chunks: int = 0
    empty: int = 0


def by_operation(calls: Iterable[Call]) -> dict[tuple[str, str], OperationTotals]:
    """Billed calls (not `local`, not `driver`) totalled by (service, operation)."""
    out: dict[tuple[str, str], OperationTotals] = defaultdict(OperationTotals)
    for call in calls:
        if call.origin in UNBILLED_ORIGINS:
            continue
        totals = out[(call.service, call.operation)]
        totals.calls += 1
        totals.errors += 0 if call.ok else 1
        totals.read_units += call.read_units
        totals.write_units += call.write_units
        if not call.capacity_reported and (call.read_units or call.write_units):
            totals.estimated_units += call.read_units + call.write_units
        totals.entries += call.items
        totals.chunks += call.chunks
        if call.returned == 0:
            totals.empty += 1
    return dict(out)


@dataclass(frozen=True)
class Usage:
    """What one run used, in the units AWS bills."""

    dynamodb_rru: float = 0.0
    dynamodb_wru: float = 0.0
    dynamodb_estimated: float = 0.0  # units of refused writes (not reported, estimated)
    sfn_transitions: int = 0
    # Express runs (issue 16): executions started and their billed GB-seconds (100 ms, 64 MB).
    sfn_express_requests: int = 0
    sfn_express_gb_seconds: float = 0.0
    lambda_requests: int = 0
    lambda_gb_seconds: float = 0.0
    eventbridge_events: int = 0
    sqs_requests: int = 0
    sqs_idle_receives: int = 0  # empty long polls: a fixed cost of the queue, not per run
    api_requests: int = 0
    log_bytes: int = 0
    # Not billed as such: GB-seconds if each invocation lasted only its CPU time, stretched
    # to Lambda's CPU share at its memory size (no I/O waits: an optimistic estimate).
    lambda_gb_seconds_cpu: float = 0.0

    def scaled(self, factor: float) -> Usage:
        return Usage(
            dynamodb_rru=self.dynamodb_rru * factor,
            dynamodb_wru=self.dynamodb_wru * factor,
            dynamodb_estimated=self.dynamodb_estimated * factor,
            sfn_transitions=round(self.sfn_transitions * factor),
            sfn_express_requests=round(self.sfn_express_requests * factor),
            sfn_express_gb_seconds=self.sfn_express_gb_seconds * factor,
            lambda_requests=round(self.lambda_requests * factor),
            lambda_gb_seconds=self.lambda_gb_seconds * factor,
            eventbridge_events=round(self.eventbridge_events * factor),
            sqs_requests=round(self.sqs_requests * factor),
            sqs_idle_receives=round(self.sqs_idle_receives * factor),
            api_requests=round(self.api_requests * factor),
            log_bytes=round(self.log_bytes * factor),
            lambda_gb_seconds_cpu=self.lambda_gb_seconds_cpu * factor,
        )


FULL_VCPU_MB = 1769  # Lambda gives one vCPU at 1,769 MB, proportionally less below


def cpu_on_lambda_ms(cpu_ms: float, memory_mb: int) -> float:
    """CPU time measured on a full core, stretched to Lambda's CPU share at `memory_mb`."""
    return cpu_ms * max(1.0, FULL_VCPU_MB / max(1, memory_mb))


def billed_ms(duration_ms: float) -> int:
    """Lambda bills duration rounded up to the millisecond."""
    return max(1, math.ceil(duration_ms))


def gb_seconds(duration_ms: float, memory_mb: int) -> float:
    return billed_ms(duration_ms) / 1000 * memory_mb / 1024


def usage(
    recording: Recording,
    *,
    transitions: int,
    api_memory_mb: int,
    platform_log_bytes_per_invocation: int = 0,
) -> Usage:
    """Turn a recording into billed quantities.

    Lambda: every invocation of the local cloud plus one ApiFunction invocation per API
    request. SQS: every billed request except empty receives (idle polling). EventBridge:
    the entries of PutEvents (64 KB chunks). Step Functions API calls themselves are free
    (transitions are billed), and the state machine's lambda:invoke is counted as the
    invocation it causes.
    """
    rru = wru = estimated = 0.0
    events = sqs = idle = 0
    for call in recording.calls:
        if call.origin in UNBILLED_ORIGINS:
            continue
        if call.service == "dynamodb":
            rru += call.read_units
            wru += call.write_units
            if not call.capacity_reported:
                estimated += call.read_units + call.write_units
        elif call.service == "sqs":
            if call.operation == "ReceiveMessage" and call.returned == 0:
                idle += 1
            else:
                sqs += call.chunks
        elif call.service == "events" and call.operation == "PutEvents" and call.ok:
            events += call.chunks
    invocations = len(recording.invocations) + len(recording.api_requests)
    gbs = sum(gb_seconds(i.duration_ms, i.memory_mb) for i in recording.invocations)
    api_gbs = sum(gb_seconds(r.duration_ms, api_memory_mb) for r in recording.api_requests)
    gbs += api_gbs
    cpu_gbs = api_gbs + sum(
        gb_seconds(cpu_on_lambda_ms(i.cpu_ms, i.memory_mb), i.memory_mb)
        for i in recording.invocations
    )
    return Usage(
        dynamodb_rru=rru,
        dynamodb_wru=wru,
        dynamodb_estimated=estimated,
        sfn_transitions=transitions,
        lambda_requests=invocations,
        lambda_gb_seconds=gbs,
        eventbridge_events=events,
        sqs_requests=sqs,
        sqs_idle_receives=idle,
        api_requests=len(recording.api_requests),
        log_bytes=recording.log_bytes + platform_log_bytes_per_invocation * invocations,
        lambda_gb_seconds_cpu=cpu_gbs,
    )


def state_transitions(history: Iterable[Mapping[str, Any]]) -> int:
    """Billed transitions of one execution: the states it entered (GetExecutionHistory)."""
    return sum(1 for event in history if str(event.get("type", "")).endswith("StateEntered"))


def put_events_sources(service: str, operation: str, params: Mapping[str, Any]) -> str:
    """The sources of a PutEvents' entries, comma-joined: `classify` tells the emulated
    Step Functions status-change events (local only) from runhook's own by them."""
    if service == "events" and operation == "PutEvents":
        return ",".join(sorted({str(e.get("Source", "")) for e in params.get("Entries") or []}))
    return ""


def dynamodb_units(
    operation: str, params: Mapping[str, Any], parsed: Mapping[str, Any]
) -> tuple[float, float, bool, int]:
    """(read units, write units, reported by DynamoDB?, items written) of one DynamoDB call.

    A refused write reports no capacity, so its units are the documented minimum; a read
    without a report counts as half a unit, the least a read is billed.
    """
    consumed = parsed.get("ConsumedCapacity")
    units = capacity(consumed)
    reported = consumed is not None
    if operation in DYNAMODB_WRITES:
        items = write_items(operation, params)
        return 0.0, units if reported else refused_write_units(operation, items), reported, items
    if operation in DYNAMODB_READS:
        return units if reported else 0.5, 0.0, reported, 0
    return 0.0, 0.0, reported, 0


def received_messages(parsed: Mapping[str, Any]) -> tuple[int, int]:
    """(messages, billing chunks of their bodies) of a successful SQS ReceiveMessage."""
    messages = parsed.get("Messages") or []
    size = sum(len(str(m.get("Body", "")).encode()) for m in messages)
    return len(messages), chunks(size)


def priced_call(
    service: str,
    operation: str,
    params: Mapping[str, Any],
    parsed: Mapping[str, Any],
    *,
    status: int,
    origin: str,
    detail: str = "",
) -> Call:
    """The `Call` of one botocore response, with every field the bill is made of."""
    ok = status < 300
    error_code = None if ok else str((parsed.get("Error") or {}).get("Code", status))
    read = write = 0.0
    reported = False
    items, chunk_count = payload_size(service, operation, params)
    if service == "dynamodb":
        read, write, reported, items = dynamodb_units(operation, params, parsed)
    returned = None
    if service == "sqs" and operation == "ReceiveMessage" and ok:
        returned, chunk_count = received_messages(parsed)
    return Call(
        service=service,
        operation=operation,
        origin=origin,
        ok=ok,
        error_code=error_code,
        read_units=read,
        write_units=write,
        capacity_reported=reported,
        items=items,
        chunks=chunk_count,
        returned=returned,
        detail=detail,
        at=time.monotonic(),
    )


# -- the recorder ------------------------------------------------------------------------------


def _created_by_moto_stepfunctions() -> bool:
    frame = sys._getframe(2)
    while frame is not None:
        name = frame.f_code.co_filename
        if "moto" in name and "stepfunctions" in name:
            return True
        frame = frame.f_back  # type: ignore[assignment]
    return False


class CallRecorder:
    """Records AWS calls, Lambda invocations and API requests while `recording()`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._on = False
        self._data = Recording()
        self._installed: Callable[..., Any] | None = None
        self.last_activity = 0.0
        self.keep_params: set[str] = set()  # operations whose request params to keep
        self.kept: list[tuple[str, dict[str, Any]]] = []
        self.keep_limit = 50

    # -- installation -----------------------------------------------------------------------
    def install(self) -> None:
        import botocore.session

        if self._installed is not None:
            return
        original = botocore.session.Session.create_client
        recorder = self

        @functools.wraps(original)
        def create_client(session: Any, *args: Any, **kwargs: Any) -> Any:
            client = original(session, *args, **kwargs)
            recorder.attach(client, STEPFUNCTIONS if _created_by_moto_stepfunctions() else None)
            return client

        botocore.session.Session.create_client = create_client  # type: ignore[method-assign,assignment]
        self._installed = original

    def uninstall(self) -> None:
        import botocore.session

        if self._installed is not None:
            botocore.session.Session.create_client = self._installed  # type: ignore[method-assign]
            self._installed = None

    def attach(self, client: Any, origin: str | None = None) -> None:
        service = client.meta.service_model.service_name
        client.meta.events.register(
            "before-parameter-build", functools.partial(self._before, service=service)
        )
        client.meta.events.register(
            "after-call", functools.partial(self._after, service=service, origin=origin)
        )

    # -- switches ---------------------------------------------------------------------------
    @contextlib.contextmanager
    def recording(self) -> Iterator[Recording]:
        """Record from now until the block ends; yields the (live) recording."""
        with self._lock:
            self._data = Recording()
            self._on = True
        try:
            yield self._data
        finally:
            with self._lock:
                self._on = False

    @staticmethod
    @contextlib.contextmanager
    def ignored() -> Iterator[None]:
        """Calls made in this block (this thread/context) are the benchmark's own."""
        token = _ignored.set(True)
        try:
            yield
        finally:
            _ignored.reset(token)

    @property
    def active(self) -> bool:
        return self._on

    # -- hooks ------------------------------------------------------------------------------
    def _before(
        self, params: MutableMapping[str, Any], model: Any, context: Any, service: str, **_: Any
    ) -> None:
        if isinstance(context, dict):
            context["bench_params"] = params
            context["bench_current"] = _current.get()
            context["bench_ignored"] = _ignored.get()
            context["bench_thread"] = threading.current_thread().name
        if (
            self._on
            and service == "dynamodb"
            and "ReturnConsumedCapacity" in (model.input_shape.members if model.input_shape else {})
        ):
            params.setdefault("ReturnConsumedCapacity", "INDEXES")
        if model.name in self.keep_params and len(self.kept) < self.keep_limit:
            with self._lock:
                self.kept.append((model.name, json.loads(json.dumps(params, default=str))))

    def _after(
        self,
        http_response: Any,
        parsed: Mapping[str, Any],
        model: Any,
        context: Any,
        service: str,
        origin: str | None,
        **_: Any,
    ) -> None:
        if not self._on or not isinstance(context, dict) or "bench_params" not in context:
            return
        params: Mapping[str, Any] = context["bench_params"]
        detail = put_events_sources(service, model.name, params)
        call_origin = classify(
            ignored=bool(context.get("bench_ignored")),
            client_origin=origin,
            thread_name=str(context.get("bench_thread", "")),
            current=context.get("bench_current"),
            queue_url=str(params.get("QueueUrl", "")),
            detail=detail,
        )
        call = priced_call(
            service,
            model.name,
            params,
            parsed,
            status=getattr(http_response, "status_code", 200),
            origin=call_origin,
            detail=detail,
        )
        with self._lock:
            if not self._on:
                return
            self._data.calls.append(call)
            if call_origin not in UNBILLED_ORIGINS and call.returned != 0:
                self.last_activity = call.at

    # -- Lambda invocations and API requests ------------------------------------------------
    def wrap_registry(self, registry: Any) -> None:
        """Time every invocation of the local cloud's function registry."""
        original = registry.invoke
        recorder = self

        def invoke(function: Any, event: Any) -> Any:
            token = _current.set(f"function:{function.name}")
            started, cpu_started = time.perf_counter(), time.thread_time()
            result = None
            try:
                result = original(function, event)
                return result
            finally:
                elapsed = (time.perf_counter() - started) * 1000
                cpu = (time.thread_time() - cpu_started) * 1000
                _current.reset(token)
                recorder.last_activity = time.monotonic()
                if recorder._on and not _ignored.get():
                    invocation = Invocation(
                        function=str(function.name),
                        memory_mb=int(getattr(function, "memory_mb", 128) or 128),
                        duration_ms=elapsed,
                        error=bool(getattr(result, "error", True)),
                        cpu_ms=cpu,
                    )
                    with recorder._lock:
                        if recorder._on:
                            recorder._data.invocations.append(invocation)
                            recorder.last_activity = time.monotonic()

        registry.invoke = invoke

    def asgi(self, app: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
        """Wrap the API's ASGI app: time each request and mark the calls made for it."""
        recorder = self

        async def counted(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope.get("type") != "http":
                await app(scope, receive, send)
                return
            headers = dict(scope.get("headers") or [])
            ignore = headers.get(IGNORE_HEADER.encode()) is not None
            status = {"code": 0}

            async def capture(message: MutableMapping[str, Any]) -> None:
                if message.get("type") == "http.response.start":
                    status["code"] = int(message.get("status", 0))
                await send(message)

            token = _current.set(f"api:{scope.get('path', '')}")
            ignore_token = _ignored.set(ignore)
            started = time.perf_counter()
            try:
                await app(scope, receive, capture)
            finally:
                elapsed = (time.perf_counter() - started) * 1000
                _current.reset(token)
                _ignored.reset(ignore_token)
                if recorder._on and not ignore:
                    request = ApiRequest(
                        method=str(scope.get("method", "")),
                        path=str(scope.get("path", "")),
                        status=status["code"],
                        duration_ms=elapsed,
                    )
                    with recorder._lock:
                        if recorder._on:
                            recorder._data.api_requests.append(request)
                            recorder.last_activity = time.monotonic()

        return counted

    # -- log output ---------------------------------------------------------------------------
    def count_stdout(self) -> None:
        """Count the bytes handlers log to stdout (what CloudWatch Logs would ingest).

        Call before any handler is imported: Powertools' Logger keeps the stream it found.
        """
        if isinstance(sys.stdout, _CountingStream):
            return
        sys.stdout = _CountingStream(sys.stdout, self)

    def _count_log(self, size: int) -> None:
        if self._on and not _ignored.get():
            current = _current.get()
            thread = threading.current_thread().name
            if current or thread.startswith("webhook-send"):
                with self._lock:
                    self._data.log_bytes += size

    def wait_quiet(self, quiet_seconds: float, timeout: float) -> bool:
        """Wait until no billed activity for `quiet_seconds` (True) or `timeout` (False)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if time.monotonic() - self.last_activity >= quiet_seconds:
                return True
            time.sleep(0.05)
        return False


class _CountingStream:
    """A text stream that counts what passes through it (UTF-8 bytes)."""

    def __init__(self, inner: Any, recorder: CallRecorder) -> None:
        self._inner = inner
        self._recorder = recorder

    def write(self, text: str) -> int:
        self._recorder._count_log(len(text.encode("utf-8", "replace")))
        return int(self._inner.write(text))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)
