"""`LocalCloud`: the whole service on one machine (DESIGN §3).

    with LocalCloud(in_memory=True, api_port=0, aws_port=0) as cloud:
        requests.get(cloud.api_url + "/public/v1/health")

Boots DynamoDB Local (Java), moto in-process behind the dispatcher, deploys
template.yaml, starts the event-source pollers, seeds the demo data and serves the
API with uvicorn. Only one LocalCloud can run in a process at a time: handlers share
the process's environment (os.environ) and moto's backends are process-global.

What survives a restart: only DynamoDB's data (in `<state_dir>/dynamodb`). moto keeps
its state in memory, so queues (and their messages), the bus, rules, state machines
and executions are created afresh on every start; the deploy is idempotent for what
persists (an existing table is kept, missing indexes are added).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import signal
import threading
import time
import types
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runhook_dev.devcloud.cfn import ACCOUNT_ID, REGION
from runhook_dev.devcloud.registry import FunctionRegistry, Handler, LocalFunction, function_arn

log = logging.getLogger("devcloud")

DEFAULT_API_PORT = 3000
DEFAULT_AWS_PORT = 4566
STAGE = "local"
DEV_API_KEY_ENV = "RUNHOOK_DEV_API_KEY"

_active_lock = threading.Lock()
_active: LocalCloud | None = None


def project_root() -> Path:
    """The directory with template.yaml: this checkout, else the working directory."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "template.yaml").is_file() and (parent / "pyproject.toml").is_file():
            return parent
    return Path.cwd()


def _warm_imports() -> None:
    import importlib

    for module in ("fastapi", "uvicorn", "mangum"):
        try:
            importlib.import_module(module)
        except Exception as exc:
            log.debug("warm import of %s failed: %s", module, exc)


class LocalCloudError(RuntimeError):
    """The local cloud could not start."""


@dataclass(frozen=True)
class EventSourceHandle:
    """A poller added at run time (`add_sqs_event_source`, `add_rule_target`)."""

    name: str
    queue_url: str


class LocalCloud:
    """DynamoDB Local + moto + dispatcher + deployed template + pollers + API.

    Attributes after `start()`: `api_url`, `aws_endpoint_url`, `table_name`,
    `state_machine_arn`, `bus_name`, `queue_urls` (logical id → URL), `admin_api_key`
    (plaintext, None when the demo org already existed), `org_id`, `demo_task_id`,
    `registry`, `deployment`, `environment` (what was applied to os.environ).
    """

    def __init__(
        self,
        *,
        api_port: int = DEFAULT_API_PORT,
        aws_port: int = DEFAULT_AWS_PORT,
        state_dir: Path | str | None = None,
        in_memory: bool = False,
        template: Path | str | None = None,
        env_overrides: Mapping[str, str] | None = None,
        parameters: Mapping[str, str] | None = None,
        seed: bool = True,
        serve_api: bool = True,
        dev_api_key: str | None = None,
        cache_dir: Path | str | None = None,
        async_retry_delays: tuple[float, ...] = (1.0, 2.0),
        sqs_wait_seconds: int = 1,
        reconcile_interval: float = 1.0,
        install_signal_handlers: bool = False,
    ) -> None:
        self.template_path = Path(template) if template else project_root() / "template.yaml"
        self.requested_api_port = api_port
        self.requested_aws_port = aws_port
        self.in_memory = in_memory
        self.state_dir = Path(state_dir) if state_dir else Path.cwd() / ".state"
        self.env_overrides = dict(env_overrides or {})
        self.parameter_overrides = dict(parameters or {})
        self.seed = seed
        self.serve_api = serve_api
        self.dev_api_key = dev_api_key
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.async_retry_delays = async_retry_delays
        self.sqs_wait_seconds = sqs_wait_seconds
        self.reconcile_interval = reconcile_interval
        self.install_signal_handlers = install_signal_handlers

        self.registry = FunctionRegistry()
        self.region = REGION
        self.account_id = ACCOUNT_ID
        self.api_port = 0
        self.aws_port = 0
        self.api_url = ""
        self.aws_endpoint_url = ""
        self.dynamodb_endpoint = ""
        self.table_name = ""
        self.state_machine_arn = ""
        self.bus_name = ""
        self.queue_urls: dict[str, str] = {}
        self.admin_api_key: str | None = None
        self.org_id: str | None = None
        self.demo_task_id: str | None = None
        self.api_error: str | None = None
        self.environment: dict[str, str] = {}
        self.deployment: Any = None
        self.started = False
        self.boot_seconds = 0.0

        self._dynamodb: Any = None
        self._api_socket: Any = None
        self._aws_socket: Any = None
        self._dispatcher_server: Any = None
        self._dispatcher: Any = None
        self._state_lock: Any = None
        self._api_server: Any = None
        self._async: Any = None
        self._pollers: list[Any] = []
        self._extra_pollers: dict[str, Any] = {}
        self._reconciler: threading.Thread | None = None
        self._watched_machines: set[str] = set()
        self._stop_event = threading.Event()
        self._saved_env: dict[str, str | None] = {}
        self._clients: dict[str, Any] = {}
        self._clients_lock = threading.Lock()
        self._session: Any = None
        self._previous_sigterm: Any = None

    # -- lifecycle ----------------------------------------------------------------------
    def __enter__(self) -> LocalCloud:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> LocalCloud:
        global _active
        with _active_lock:
            if _active is not None:
                raise LocalCloudError(
                    "a LocalCloud is already running in this process (handlers share "
                    "os.environ and moto's backends); stop it first"
                )
            _active = self
        began = time.monotonic()
        # A LocalCloud can be started again after stop(): forget the previous run's state.
        self._stop_event = threading.Event()
        self.dynamodb_endpoint = ""
        self._clients, self._session = {}, None
        atexit.register(self.stop)
        try:
            self._boot()
        except BaseException:
            self.stop()
            raise
        self.started = True
        self.boot_seconds = time.monotonic() - began
        if self.install_signal_handlers:
            self._chain_sigterm()
        log.info("local cloud up in %.1f s", self.boot_seconds)
        return self

    def _boot(self) -> None:
        from runhook_dev.devcloud.dynamodb_local import (
            DynamoDBLocal,
            DynamoDBLocalError,
            ensure_jar,
        )

        if not self.template_path.is_file():
            raise LocalCloudError(f"template not found: {self.template_path}")
        # Take both ports first: a port in use fails fast, and port 0 has no race.
        if self.serve_api:
            self._api_socket = self._listen(self.requested_api_port, "API", "--port")
            self.api_port = int(self._api_socket.getsockname()[1])
        else:
            self.api_port = self.requested_api_port
        self._aws_socket = self._listen(self.requested_aws_port, "AWS endpoint", "--aws-port")
        self.aws_port = int(self._aws_socket.getsockname()[1])
        self.aws_endpoint_url = f"http://127.0.0.1:{self.aws_port}"
        self.api_url = f"http://127.0.0.1:{self.api_port}"
        try:
            jar = ensure_jar(self.cache_dir)
        except DynamoDBLocalError as exc:
            raise LocalCloudError(str(exc)) from exc
        if not self.in_memory:
            self._lock_state_dir()
        self._dynamodb = DynamoDBLocal(
            jar=jar, db_path=None if self.in_memory else self.state_dir / "dynamodb"
        )
        self._dynamodb.spawn()  # Java boots while moto is imported and wired
        # moto's ASL interpreter sends every AWS call of a Task to localhost:$MOTO_PORT.
        self._set_env({"MOTO_PORT": str(self.aws_port)})

        self._start_dispatcher()
        self._moto_api("reset", None)
        self._moto_api("config", {"stepfunctions": {"execute_state_machine": True}})
        if self.serve_api:
            # Import the web stack while Java boots (imports only: the app itself is
            # imported after the environment is set).
            threading.Thread(target=_warm_imports, name="warm-imports", daemon=True).start()

        ready = threading.Lock()

        def wait_dynamodb() -> None:
            with ready:
                if self.dynamodb_endpoint:
                    return
                try:
                    self._dynamodb.wait_ready()
                except DynamoDBLocalError as exc:
                    raise LocalCloudError(str(exc)) from exc
                self.dynamodb_endpoint = self._dynamodb.endpoint

        self._deploy(wait_dynamodb)
        self._start_pollers()
        if self.seed:
            self._seed()
        if self.serve_api:
            self._start_api()

    def stop(self) -> None:
        """Stop everything (idempotent): pollers, API, dispatcher, DynamoDB Local; restore env."""
        global _active
        self._stop_event.set()
        for poller in [*self._pollers, *self._extra_pollers.values()]:
            poller.stop()
        if self._async is not None:
            self._async.stop()
        for poller in [*self._pollers, *self._extra_pollers.values()]:
            poller.join()
        self._pollers, self._extra_pollers = [], {}
        if self._reconciler is not None:
            self._reconciler.join(3)
            self._reconciler = None
        for attribute in ("_api_server", "_dispatcher_server"):
            server = getattr(self, attribute)
            setattr(self, attribute, None)
            if server is not None:
                try:
                    server.stop()
                except Exception as exc:
                    log.warning("stopping %s: %s", attribute, exc)
        for attribute in ("_api_socket", "_aws_socket"):
            sock = getattr(self, attribute)
            setattr(self, attribute, None)
            if sock is not None:
                sock.close()
        if self._dynamodb is not None:
            self._dynamodb.stop()
            self._dynamodb = None
        if self._state_lock is not None:
            self._state_lock.close()  # releases the lock
            self._state_lock = None
        self._restore_env()
        if self._previous_sigterm is not None:
            with contextlib.suppress(ValueError):
                signal.signal(signal.SIGTERM, self._previous_sigterm)
            self._previous_sigterm = None
        atexit.unregister(self.stop)
        with _active_lock:
            if _active is self:
                _active = None
        if self.started:
            log.info("local cloud stopped")
        self.started = False

    # -- environment -------------------------------------------------------------------
    def _set_env(self, values: Mapping[str, str]) -> None:
        for key, value in values.items():
            if key not in self._saved_env:
                self._saved_env[key] = os.environ.get(key)
            os.environ[key] = value

    def _restore_env(self) -> None:
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env = {}
        if self.environment:
            self._reset_runhook_caches()

    @staticmethod
    def _reset_runhook_caches() -> None:
        """runhook keeps no process-wide caches any more (runhook.bootstrap.Container)."""

    # -- AWS clients --------------------------------------------------------------------
    def session(self) -> Any:
        """A new boto3 session with the local cloud's region and test credentials."""
        import boto3

        return boto3.session.Session(
            aws_access_key_id="test",
            aws_secret_access_key="test",  # noqa: S106 - the emulators accept any key
            region_name=REGION,
        )

    def client(self, service: str) -> Any:
        """A (shared, thread-safe) boto3 client for `service` pointed at the dispatcher."""
        with self._clients_lock:
            existing = self._clients.get(service)
            if existing is None:
                existing = self._make_client(service)
                self._clients[service] = existing
            return existing

    def new_client(self, service: str) -> Any:
        """A client of its own (pollers hold one each: a long poll blocks its connection)."""
        with self._clients_lock:
            return self._make_client(service)

    def _make_client(self, service: str) -> Any:
        # One session for all clients: its loader caches the service models (creating a
        # session per client costs ~0.5 s of CPU each). Sessions are not thread-safe:
        # callers hold _clients_lock.
        from botocore.config import Config

        if self._session is None:
            self._session = self.session()
        return self._session.client(
            service,
            endpoint_url=self.aws_endpoint_url,
            config=Config(
                retries={"max_attempts": 2, "mode": "standard"},
                read_timeout=65,
                max_pool_connections=20,
            ),
        )

    # -- pieces -----------------------------------------------------------------------
    def _start_dispatcher(self) -> None:
        from runhook_dev.devcloud._fastimport import defer_moto_batch

        defer_moto_batch()  # before moto is imported: saves ~2 s of CPU at start-up
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        from runhook_dev.devcloud.async_invoke import AsyncInvoker
        from runhook_dev.devcloud.dispatcher import Dispatcher
        from runhook_dev.devcloud.servers import WsgiServer

        self._async = AsyncInvoker(self.registry, self.new_client, self.async_retry_delays)
        ddb = self._dynamodb
        dispatcher = Dispatcher(
            self.registry,
            DomainDispatcherApplication(create_backend_app),
            lambda: int(ddb.port),
            self._async,
        )
        self._dispatcher = dispatcher
        server = WsgiServer(dispatcher, self._aws_socket)
        self._aws_socket = None
        self._dispatcher_server = server
        server.start()

    def _lock_state_dir(self) -> None:
        """One local cloud per state directory (two DynamoDB Locals on one file corrupt it)."""
        import fcntl

        self.state_dir.mkdir(parents=True, exist_ok=True)
        handle = (self.state_dir / ".lock").open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            handle.close()
            raise LocalCloudError(
                f"{self.state_dir} is in use by another runhook dev; stop it first, or use "
                "another --state-dir (or --in-memory)"
            ) from exc
        self._state_lock = handle

    @staticmethod
    def _listen(port: int, what: str, option: str) -> Any:
        from runhook_dev.devcloud.servers import listen

        try:
            return listen(port)
        except OSError as exc:
            raise LocalCloudError(
                f"cannot listen on 127.0.0.1:{port} for the {what}: {exc.strerror or exc}; "
                f"stop what uses it or pick another port with {option}"
            ) from exc

    def _moto_api(self, action: str, payload: Any) -> None:
        import urllib.request

        request = urllib.request.Request(  # noqa: S310 - a loopback http URL
            f"{self.aws_endpoint_url}/moto-api/{action}",
            data=json.dumps(payload).encode() if payload is not None else b"",
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            answer.read()

    def _deploy(self, wait_dynamodb: Callable[[], None]) -> None:
        from runhook_dev.devcloud.cfn import load_template
        from runhook_dev.devcloud.deployer import Deployer

        template = load_template(self.template_path)
        parameters = {"Stage": STAGE, "PublicBaseUrl": self.api_url, "LogLevel": "INFO"}
        parameters.update(self.parameter_overrides)
        deployer = Deployer(
            template,
            self.template_path.parent,
            self.client,
            self.registry,
            parameters,
            wait_dynamodb=wait_dynamodb,
        )
        deployment = deployer.deploy()
        self.deployment = deployment
        self.queue_urls = {lid: q.url for lid, q in deployment.queues.items()}
        self.table_name = next(iter(deployment.tables.values()), "")
        self.state_machine_arn = next(iter(deployment.state_machines.values()), "")
        self.bus_name = next(iter(deployment.buses.values()), "")

        env = dict(deployment.environment)
        env.update(
            {
                "AWS_ENDPOINT_URL": self.aws_endpoint_url,
                "AWS_DEFAULT_REGION": REGION,
                "AWS_REGION": REGION,
                "ALLOW_PRIVATE_TARGETS": "true",
                "PUBLIC_BASE_URL": self.api_url,
                "STAGE": STAGE,
            }
        )
        for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            if not os.environ.get(key):
                env[key] = "test"
        # Service-specific endpoints from the shell would bypass the dispatcher.
        for key in list(os.environ):
            if key.startswith("AWS_ENDPOINT_URL_"):
                env[key] = self.aws_endpoint_url
        env.update(self.env_overrides)
        self._set_env(env)
        self.environment = env
        self._reset_runhook_caches()

    def _start_pollers(self) -> None:
        from runhook_dev.devcloud.pollers import RuleShim, SqsEventSource

        deployment = self.deployment
        for spec in deployment.sqs_sources:
            function = self.registry.get(spec.function)
            if function is None:  # pragma: no cover - the deployer registered it
                continue
            self._pollers.append(
                SqsEventSource(
                    client=self.new_client,
                    queue_url=spec.queue_url,
                    name=f"{spec.function}.{spec.event_name}",
                    workers=max(1, spec.maximum_concurrency),
                    wait_seconds=self.sqs_wait_seconds,
                    registry=self.registry,
                    function=function,
                    queue_arn=spec.queue_arn,
                    batch_size=spec.batch_size,
                    report_batch_item_failures=spec.report_batch_item_failures,
                )
            )
        for shim in deployment.rule_shims:
            function = self.registry.get(shim.function)
            if function is None:  # pragma: no cover
                continue
            self._pollers.append(
                RuleShim(
                    client=self.new_client,
                    queue_url=shim.queue_url,
                    name=f"rule:{shim.rule_name}",
                    wait_seconds=self.sqs_wait_seconds,
                    invoker=self._async,
                    registry=self.registry,
                    function=function,
                )
            )
        for poller in self._pollers:
            poller.start()
        self._watched_machines.update(deployment.state_machines.values())
        if self.reconcile_interval > 0:
            self._reconciler = threading.Thread(
                target=self._emit_execution_status_changes, name="sfn-status-events", daemon=True
            )
            self._reconciler.start()

    def _emit_execution_status_changes(self) -> None:
        """moto emits no "Step Functions Execution Status Change" events: emulate them.

        Polls each state machine for executions that FAILED, TIMED_OUT or were ABORTED
        and puts the AWS-shaped event on the default bus (what the reconciler rule matches).
        """
        sfn = self.new_client("stepfunctions")
        events = self.new_client("events")
        seen: set[str] = set()
        while not self._stop_event.wait(self.reconcile_interval):
            for arn in sorted(self._watched_machines):
                for status in ("FAILED", "TIMED_OUT", "ABORTED"):
                    try:
                        page = sfn.list_executions(
                            stateMachineArn=arn, statusFilter=status, maxResults=100
                        )
                    except Exception as exc:
                        if not self._stop_event.is_set():
                            log.debug("status poll failed: %s", exc)
                        continue
                    for execution in page.get("executions") or []:
                        if execution["executionArn"] in seen:
                            continue
                        seen.add(execution["executionArn"])
                        self._put_status_event(sfn, events, execution)

    def _put_status_event(self, sfn: Any, events: Any, execution: Mapping[str, Any]) -> None:
        try:
            detail = sfn.describe_execution(executionArn=execution["executionArn"])
        except Exception:
            detail = dict(execution)

        def millis(value: Any) -> int | None:
            return int(value.timestamp() * 1000) if hasattr(value, "timestamp") else None

        body = {
            "executionArn": detail.get("executionArn"),
            "stateMachineArn": detail.get("stateMachineArn"),
            "name": detail.get("name"),
            "status": detail.get("status"),
            "startDate": millis(detail.get("startDate")),
            "stopDate": millis(detail.get("stopDate")),
            "input": detail.get("input"),
            "output": detail.get("output"),
            "error": detail.get("error"),
            "cause": detail.get("cause"),
        }
        try:
            events.put_events(
                Entries=[
                    {
                        "Source": "aws.states",
                        "DetailType": "Step Functions Execution Status Change",
                        "Resources": [str(body["executionArn"])],
                        "Detail": json.dumps(body),
                    }
                ]
            )
        except Exception as exc:
            log.warning("could not emit the status change of %s: %s", body["name"], exc)

    def _seed(self) -> None:
        try:
            from runhook_dev.admin import bootstrap_demo  # type: ignore[attr-defined,unused-ignore]
        except ImportError as exc:
            log.warning("no demo data: runhook_dev.admin.bootstrap_demo is not available (%s)", exc)
            return
        key = self.dev_api_key or os.environ.get(DEV_API_KEY_ENV) or None
        seed = bootstrap_demo(self.table_name, key)
        self.org_id = getattr(seed, "org_id", None)
        self.admin_api_key = getattr(seed, "api_key", None)
        self.demo_task_id = getattr(seed, "task_id", None)

    def _start_api(self) -> None:
        from runhook_dev.devcloud.servers import ApiServer, load_api_app

        app, self.api_error = load_api_app()
        if self.api_error:
            log.warning("API unavailable: %s (serving 503 on %s)", self.api_error, self.api_url)
        self._api_server = ApiServer(app, self._api_socket)
        self._api_socket = None
        try:
            self._api_server.start()
        except RuntimeError as exc:
            self._api_server = None
            raise LocalCloudError(str(exc)) from exc

    def _chain_sigterm(self) -> None:
        """On SIGTERM stop the cloud (no orphan Java), then do what was done before."""
        if threading.current_thread() is not threading.main_thread():
            return
        previous = signal.getsignal(signal.SIGTERM)

        def handler(signum: int, frame: types.FrameType | None) -> None:
            self.stop()
            if callable(previous):
                previous(signum, frame)
            else:
                signal.signal(signum, signal.SIG_DFL)
                os.kill(os.getpid(), signum)

        signal.signal(signal.SIGTERM, handler)
        self._previous_sigterm = previous if previous is not None else signal.SIG_DFL

    def watch_state_machine(self, arn: str) -> None:
        """Emit status-change events for this machine's failed executions too."""
        self._watched_machines.add(arn)

    @contextlib.contextmanager
    def dynamodb_outage(self) -> Iterator[None]:
        """For the block, every DynamoDB request through the AWS endpoint answers 503."""
        dispatcher = self._dispatcher
        if dispatcher is None:
            raise LocalCloudError("the local cloud is not running")
        dispatcher.dynamodb_down.set()
        try:
            yield
        finally:
            dispatcher.dynamodb_down.clear()

    def stop_dynamodb(self) -> None:
        """Kill DynamoDB Local now (for a forced exit: never leave an orphan Java)."""
        if self._dynamodb is not None:
            self._dynamodb.stop(timeout=2.0)

    # -- for tests and tools --------------------------------------------------------------
    @property
    def java_pid(self) -> int | None:
        return self._dynamodb.pid if self._dynamodb is not None else None

    def function_arn(self, name: str) -> str:
        return function_arn(name)

    def register_function(
        self,
        name: str,
        func: Handler,
        *,
        timeout_seconds: float = 30.0,
        maximum_retry_attempts: int = 2,
        on_failure_arn: str | None = None,
    ) -> LocalFunction:
        """Make a Python callable invokable as the Lambda function `name`."""
        return self.registry.register(
            name,
            func,
            timeout_seconds=timeout_seconds,
            maximum_retry_attempts=maximum_retry_attempts,
            on_failure_arn=on_failure_arn,
        )

    def add_sqs_event_source(
        self,
        function: str,
        queue_url: str,
        *,
        batch_size: int = 10,
        report_batch_item_failures: bool = True,
        concurrency: int = 1,
    ) -> EventSourceHandle:
        """Feed `queue_url` to `function` like a Lambda SQS event source mapping."""
        from runhook_dev.devcloud.pollers import SqsEventSource

        target = self._function(function)
        arn = self.client("sqs").get_queue_attributes(
            QueueUrl=queue_url, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        handle = EventSourceHandle(f"{function}<-{arn}", queue_url)
        poller = SqsEventSource(
            client=self.new_client,
            queue_url=queue_url,
            name=handle.name,
            workers=concurrency,
            wait_seconds=self.sqs_wait_seconds,
            registry=self.registry,
            function=target,
            queue_arn=arn,
            batch_size=batch_size,
            report_batch_item_failures=report_batch_item_failures,
        )
        self._extra_pollers[handle.name] = poller
        poller.start()
        return handle

    def add_rule_target(
        self, rule_name: str, function: str, *, bus_name: str = "default"
    ) -> EventSourceHandle:
        """Deliver an existing rule's events to `function` through an SQS shim queue."""
        from runhook_dev.devcloud.pollers import RuleShim

        target = self._function(function)
        sqs = self.client("sqs")
        queue_name = f"runhook-{STAGE}-shim-{rule_name}"[:80]
        url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
        arn = f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{queue_name}"
        self.client("events").put_targets(
            Rule=rule_name, EventBusName=bus_name, Targets=[{"Id": "local-shim", "Arn": arn}]
        )
        handle = EventSourceHandle(f"rule:{rule_name}->{function}", url)
        poller = RuleShim(
            client=self.new_client,
            queue_url=url,
            name=handle.name,
            wait_seconds=self.sqs_wait_seconds,
            invoker=self._async,
            registry=self.registry,
            function=target,
        )
        self._extra_pollers[handle.name] = poller
        poller.start()
        return handle

    def remove_event_source(self, handle: EventSourceHandle) -> None:
        poller = self._extra_pollers.pop(handle.name, None)
        if poller is not None:
            poller.stop()
            poller.join()

    def _function(self, name: str) -> LocalFunction:
        function = self.registry.get(name)
        if function is None:
            raise KeyError(f"no function {name!r} (register it first)")
        return function

    def invoke(self, function: str, event: Any) -> Any:
        """Invoke a function through the dispatcher (Lambda's wire contract); the payload."""
        answer = self.client("lambda").invoke(FunctionName=function, Payload=json.dumps(event))
        payload = json.loads(answer["Payload"].read() or b"null")
        if answer.get("FunctionError"):
            raise RuntimeError(f"{function} failed: {payload}")
        return payload

    def summary(self) -> str:
        """What runs where (printed by `runhook dev`)."""
        lines = [
            f"  API            {self.api_url}/public/v1"
            + (f"   (unavailable: {self.api_error})" if self.api_error else ""),
            f"  AWS endpoint   {self.aws_endpoint_url}   (Lambda: handlers in-process; "
            "Step Functions, SQS, EventBridge, S3: moto; DynamoDB: DynamoDB Local)",
            f"  DynamoDB Local {self.dynamodb_endpoint}   "
            + ("(in memory)" if self.in_memory else f"(data in {self.state_dir / 'dynamodb'})"),
            f"  table          {self.table_name}",
            f"  state machine  {self.state_machine_arn or '(none)'}",
            f"  event bus      {self.bus_name}",
        ]
        for logical_id, url in sorted(self.queue_urls.items()):
            lines.append(f"  queue          {logical_id}: {url}")
        if self.deployment is not None:
            names = ", ".join(f.name for f in self.deployment.functions.values())
            lines.append(f"  functions      {names}")
            for warning in self.deployment.warnings:
                lines.append(f"  warning        {warning}")
        return "\n".join(lines)

    def wait_for(
        self, predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.1
    ) -> Any:
        """Poll `predicate` until it returns something truthy; that value (or TimeoutError)."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"condition not met within {timeout} s")
            time.sleep(interval)
