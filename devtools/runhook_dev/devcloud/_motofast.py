"""Keep moto's per-request work down (profiled: it was most of a POST run's CPU locally).

moto is a test double, written for correctness rather than for a server under load, and
the local cloud sends it every SQS, EventBridge and Step Functions call. Profiling a
POST run on the local cloud (docs/performance.md, "The local cloud's throughput") found
costs that are the same for every request and can be computed once:

- `MemoizedDomainDispatcher`: moto's WSGI front door lists moto's package directory and
  stats its ~180 entries on every request (`backends.list_of_moto_modules`), then tries
  every service URL pattern, all under one process-wide lock: each request paid ~1.5 ms
  of CPU and every concurrent request queued behind it. The answer depends only on the
  host the request is for, so it is remembered per host.
- `cache_jsonpath_parsers`: EventBridge builds its target input with jsonpath_ng, whose
  ``parse`` builds a new PLY parser (a yacc table) for every expression, 8 per target per
  event (~50 ms per PutEvents here); the Step Functions interpreter does the same for
  every InputPath/ResultPath/OutputPath. A parsed JSONPath expression is immutable, so
  parses are kept per expression text.
- `cache_asl_programs`: every StartExecution makes the interpreter parse the state
  machine's ASL with ANTLR again (~45 ms of CPU for runhook's machine) and build its
  evaluation program from the parse tree (~15 ms more: a quarter of the local cloud's CPU
  per POST run under load). Both are kept per definition text. Sharing the program
  between executions is what moto itself does: its components are immutable once built
  (every execution's state lives in its `Environment`: stack, heap, context), and a Map
  state already evaluates one `States` for many iterations at once. The one lazy
  attribute, `EvalComponent.heap_key` (a uid naming a retrier's counters in the
  execution's heap), is drawn before the program is shared, so concurrent executions
  never draw two.
- `share_task_clients`: the interpreter created a new boto3 client for every Lambda Task
  it ran (~45 ms of CPU each: most of an execution's cost); one per service is shared.
- `cache_action_names`: every moto request listed its response class's methods with
  ``inspect.getmembers`` to check the action exists (~0.5 ms each); a class's methods
  do not change, so the list is kept per class.
- `cheap_retention_check`: SQS's ReceiveMessage computed every attribute of the queue
  three times per message to read its retention period.
- `cheap_send_attributes`: SQS's SendMessage computed every attribute of the queue, its
  message counts included (three scans of every message), to read one FIFO setting: a
  send into a queue of N messages cost O(N), a backlog of sends O(N^2) (the largest single
  cost in a profile of the suite's 1,000-event webhook load test: 253 -> 223 s of CPU).
- `lock_message_deletes` (a repair, not a speed-up): SQS's DeleteMessage rebuilt the
  queue's message list outside the lock SendMessage appends under, so a message sent by
  another thread meanwhile was lost (6 webhook deliveries stuck pending in one run of the
  1,000-event load test, no message anywhere).
- `event_deliveries`: which SQS queues EventBridge delivered to inside one PutEvents,
  so the dispatcher wakes those queues' pollers only (it used to wake every queue,
  ~13 empty receives per POST run).

Each patch is installed once per process (idempotent) and changes what moto computes,
never what it answers.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication

_installed: set[str] = set()
_install_lock = threading.Lock()
_deliveries = threading.local()
_sending = threading.local()
_PARSE_CACHE_SIZE = 1024


class MemoizedDomainDispatcher(DomainDispatcherApplication):
    """moto's WSGI application, resolving each host to its backend once."""

    def __init__(self, create_app: Callable[..., Any]) -> None:
        super().__init__(create_app)
        self._backend_by_host: dict[str | None, Any] = {}

    def get_backend_for_host(self, host: str | None) -> Any:
        try:
            return self._backend_by_host[host]
        except KeyError:
            backend = super().get_backend_for_host(host)
            self._backend_by_host[host] = backend
            return backend


def _once(name: str) -> bool:
    """True the first time `name` is asked for in this process (then install it)."""
    with _install_lock:
        if name in _installed:
            return False
        _installed.add(name)
        return True


def cache_jsonpath_parsers() -> None:
    """Parse each JSONPath expression once (jsonpath_ng's ``parse`` builds a parser per call)."""
    if not _once("jsonpath"):
        return
    import jsonpath_ng.ext
    from jsonpath_ng import parser as plain_parser
    from jsonpath_ng.ext import parser as ext_parser
    from moto.stepfunctions.parser.asl.component.common.path import result_path
    from moto.stepfunctions.parser.asl.utils import json_path

    plain = functools.lru_cache(maxsize=_PARSE_CACHE_SIZE)(plain_parser.parse)
    extended = functools.lru_cache(maxsize=_PARSE_CACHE_SIZE)(ext_parser.parse)
    # moto.events.utils imports jsonpath_ng.ext.parse inside the function, at call time.
    setattr(jsonpath_ng.ext, "parse", extended)  # noqa: B010 - not re-exported for mypy
    setattr(json_path, "parse", extended)  # noqa: B010
    setattr(result_path, "parse", plain)  # noqa: B010


def cache_asl_programs() -> None:
    """Parse each state machine definition and build its program once (see above)."""
    if not _once("asl"):
        return
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    moto_parse = AmazonStateLanguageParser.parse

    @functools.lru_cache(maxsize=64)
    def parse(definition: str) -> tuple[Any, Any]:
        program, tree = moto_parse(definition)  # ASLParserException is not cached
        draw_heap_keys(program)
        return program, tree

    AmazonStateLanguageParser.parse = staticmethod(parse)  # type: ignore[method-assign]


def draw_heap_keys(program: Any) -> int:
    """Draw every component's lazy `heap_key` now (before the program is shared between
    threads); how many components there are."""
    from moto.stepfunctions.parser.asl.component.component import Component
    from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent

    seen: set[int] = set()
    pending: list[Any] = [program]
    components = 0
    while pending:
        value = pending.pop()
        if id(value) in seen:
            continue
        seen.add(id(value))
        if isinstance(value, dict):
            pending.extend(value.values())
        elif isinstance(value, list | tuple | set | frozenset):
            pending.extend(value)
        elif isinstance(value, Component):
            components += 1
            if isinstance(value, EvalComponent):
                value.heap_key  # noqa: B018 - the property draws and keeps the uid
            pending.extend(vars(value).values())
    return components


def share_task_clients() -> None:
    """One boto3 client per (region, service, endpoint) for the interpreter's Task states.

    moto's ``boto_client_for`` creates a new boto3 client (a service model loaded, an
    event system copied, ~45 ms of CPU) for every Lambda Task it runs and every service
    integration call; a client is safe to share between threads once made. Its users
    import the function by name, so each already imported reference is replaced (after
    importing the preprocessor, which imports every state's module).
    """
    if not _once("task clients"):
        return
    import sys

    import moto.stepfunctions.parser.asl.parse.preprocessor  # noqa: F401 - every Task module
    from moto.stepfunctions.parser.asl.utils import boto_client

    original = boto_client.boto_client_for
    clients: dict[tuple[str, str, str], Any] = {}
    lock = threading.Lock()

    @functools.wraps(original)
    def shared(region: str, service: str, state_credentials: Any = None) -> Any:
        from moto.core.models import botocore_stubber
        from moto.settings import moto_server_port

        # What moto's own function does, plus room for concurrent executions' connections.
        endpoint = None if botocore_stubber.enabled else f"http://localhost:{moto_server_port()}"
        key = (region, service, str(endpoint))
        with lock:
            client = clients.get(key)
            if client is None:
                client = clients[key] = _task_client(region, service, endpoint)
        return client

    for module in list(sys.modules.values()):
        if getattr(module, "boto_client_for", None) is original:
            setattr(module, "boto_client_for", shared)  # noqa: B010


def _task_client(region: str, service: str, endpoint: str | None) -> Any:
    """The client moto's ``boto_client_for`` makes, with a larger connection pool."""
    import boto3
    from botocore.config import Config
    from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import TimeoutSeconds

    config = Config(
        parameter_validation=False,
        retries={"max_attempts": 0, "total_max_attempts": 1},
        connect_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
        read_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
        max_pool_connections=50,
    )
    session = boto3.session.Session(
        aws_access_key_id="ak",
        aws_secret_access_key="sk",  # noqa: S106 - moto's fixed test credentials
        region_name=region,
    )
    return session.client(service, endpoint_url=endpoint, config=config)  # type: ignore[call-overload]


def cache_action_names() -> None:
    """List each moto response class's methods once (moto lists them on every request)."""
    if not _once("action names"):
        return
    from moto.core import responses, utils

    original = utils.method_names_from_class
    by_class: dict[Any, list[str]] = {}

    @functools.wraps(original)
    def method_names(clazz: Any) -> list[str]:
        names = by_class.get(clazz)
        if names is None:
            names = by_class[clazz] = original(clazz)
        return list(names)

    setattr(responses, "method_names_from_class", method_names)  # noqa: B010


def cheap_retention_check() -> None:
    """SQS's ReceiveMessage checks each message's retention period through
    ``get_queue_attributes``, which computes every attribute of the queue (message counts
    included) three times: ~3 ms per message received. The period is a plain attribute."""
    if not _once("retention"):
        return
    from moto.core.utils import unix_time
    from moto.sqs.models import SQSBackend

    original = SQSBackend.is_message_valid_based_on_retention_period

    @functools.wraps(original)
    def is_valid(self: Any, queue_name: str, message: Any) -> bool:
        period = getattr(self.get_queue(queue_name), "message_retention_period", None)
        if period is None:
            return original(self, queue_name, message)
        return bool(int(period) + message.sent_timestamp / 1000 > unix_time())

    SQSBackend.is_message_valid_based_on_retention_period = is_valid  # type: ignore[method-assign]


class _SendAttributes(Mapping[str, Any]):
    """`Queue.attributes` as SendMessage sees it: the FIFO settings it reads are answered
    without counting messages; anything else computes every attribute as moto does."""

    def __init__(self, queue: Any, compute: Callable[[Any], dict[str, Any]]) -> None:
        self._queue, self._compute = queue, compute
        self._all: dict[str, Any] | None = None

    def get(self, key: str, default: Any = None) -> Any:
        if key == "ContentBasedDeduplication":  # what moto's `attributes` makes of it
            if not self._queue.fifo_queue:
                return default
            value = getattr(self._queue, "content_based_deduplication", None)
            return str(value).lower() if isinstance(value, bool) else value
        return self._everything().get(key, default)

    def _everything(self) -> dict[str, Any]:
        if self._all is None:
            self._all = self._compute(self._queue)
        return self._all

    def __getitem__(self, key: str) -> Any:
        return self._everything()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._everything())

    def __len__(self) -> int:
        return len(self._everything())


def cheap_send_attributes() -> None:
    """SendMessage (and each entry of SendMessageBatch) reads ``ContentBasedDeduplication``
    through ``Queue.attributes``, which counts the queue's visible, delayed and in-flight
    messages first. While a send runs in a thread, `attributes` is a `_SendAttributes`."""
    if not _once("send attributes"):
        return
    from moto.sqs.models import Queue, SQSBackend

    full = vars(Queue)["attributes"].fget  # the property's getter (moto types it a method)
    send = SQSBackend.send_message

    def attributes(self: Any) -> Any:
        if getattr(_sending, "active", False):
            return _SendAttributes(self, full)
        return full(self)

    @functools.wraps(send)
    def send_message(self: Any, *args: Any, **kwargs: Any) -> Any:
        previous = getattr(_sending, "active", False)
        _sending.active = True
        try:
            return send(self, *args, **kwargs)
        finally:
            _sending.active = previous

    Queue.attributes = property(attributes)  # type: ignore[assignment,method-assign]
    SQSBackend.send_message = send_message  # type: ignore[method-assign]


def record_event_deliveries() -> None:
    """Make `event_deliveries` work: note the queue of each EventBridge → SQS delivery."""
    if not _once("deliveries"):
        return
    from moto.events.models import Rule

    send = Rule._send_to_sqs_queue

    @functools.wraps(send)
    def recorded(self: Any, resource_id: str, *args: Any, **kwargs: Any) -> None:
        send(self, resource_id, *args, **kwargs)
        names: set[str] | None = getattr(_deliveries, "names", None)
        if names is not None:
            names.add(resource_id)

    Rule._send_to_sqs_queue = recorded  # type: ignore[method-assign]


@contextlib.contextmanager
def event_deliveries() -> Iterator[set[str]]:
    """The names of the queues moto's EventBridge sends to in this thread during the block."""
    previous = getattr(_deliveries, "names", None)
    names: set[str] = set()
    _deliveries.names = names
    try:
        yield names
    finally:
        _deliveries.names = previous


def lock_message_deletes() -> None:
    """Not a speed-up, a repair: moto's `Queue.delete_message` rebuilds the queue's message
    list and assigns it back without the lock `add_message` appends under, so a message
    sent by another thread between the two is lost (a webhook delivery stuck pending, no
    message anywhere: the suite's 1,000-event load test hit it). Deletes now hold that
    lock (a Condition over an RLock)."""
    if not _once("delete lock"):
        return
    from moto.sqs.models import Queue

    delete = Queue.delete_message

    @functools.wraps(delete)
    def locked_delete(self: Any, receipt_handle: str) -> None:
        with self._messages_lock:
            delete(self, receipt_handle)

    Queue.delete_message = locked_delete  # type: ignore[method-assign]


def install() -> None:
    """Every cache and hook above (idempotent)."""
    cache_jsonpath_parsers()
    cache_asl_programs()
    share_task_clients()
    cache_action_names()
    cheap_retention_check()
    cheap_send_attributes()
    lock_message_deletes()
    record_event_deliveries()
