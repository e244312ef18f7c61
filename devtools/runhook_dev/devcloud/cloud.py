"""`LocalCloud`: the whole service on one machine, a facade over its parts.

    with LocalCloud(in_memory=True, api_port=0, aws_port=0) as cloud:
        requests.get(cloud.api_url + "/public/v1/health")

Start-up, in order: take both ports, spawn DynamoDB Local (`DynamoDBSupervisor`), serve
the AWS endpoint (`AwsEndpoint`: dispatcher + moto, imported while Java boots), deploy
template.yaml (`Deployer`), configure the handlers (`EnvironmentPlan`, containers.py),
start the event sources (`EventSources`, `ExecutionStatusEmitter`), seed the demo data
(`seed_demo`) and serve the API (`start_api`). Only one LocalCloud can run in a process
at a time: moto's backends are process-global, and so is os.environ (see environment.py
for what is still written there).

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
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar

from runhook_dev.devcloud.cfn import ACCOUNT_ID, REGION
from runhook_dev.devcloud.errors import LocalCloudError
from runhook_dev.devcloud.options import DEV_API_KEY_ENV, CloudOptions
from runhook_dev.devcloud.registry import FunctionRegistry, Handler, LocalFunction, function_arn

if TYPE_CHECKING:
    from runhook_dev.devcloud.activity import ActivityHub
    from runhook_dev.devcloud.clients import LocalSession
    from runhook_dev.devcloud.deployment import Deployment
    from runhook_dev.devcloud.environment import EnvironmentPlan
    from runhook_dev.devcloud.event_sources import EventSourceHandle, EventSources
    from runhook_dev.devcloud.lifecycle import Parts
    from runhook_dev.devcloud.task_schedules import ScheduleFirer

__all__ = ["DEV_API_KEY_ENV", "CloudOptions", "LocalCloud", "LocalCloudError"]

log = logging.getLogger("devcloud")

_Part = TypeVar("_Part")

_active_lock = threading.Lock()
_active: LocalCloud | None = None


class LocalCloud:
    """DynamoDB Local + moto + dispatcher + deployed template + pollers + API.

    Attributes after `start()`: `api_url`, `aws_endpoint_url`, `table_name`,
    `state_machine_arn`, `bus_name`, `queue_urls` (logical id → URL), `admin_api_key`
    (plaintext, None when the demo org already existed), `org_id`, `demo_task_id`,
    `registry`, `deployment`, `environment` (every handler variable with the local ones),
    `environment_plan` (each function's own environment: `plan.for_function(fn)`).
    """

    def __init__(self, options: CloudOptions | None = None, /, **overrides: Any) -> None:
        """`options`, with any `CloudOptions` field given as a keyword on top."""
        self.options = replace(options or CloudOptions(), **overrides)
        self.registry = FunctionRegistry()
        self.region, self.account_id = REGION, ACCOUNT_ID
        self.api_port = self.aws_port = 0
        self.api_url = self.aws_endpoint_url = ""
        self.table_name = self.state_machine_arn = self.bus_name = ""
        self.queue_urls: dict[str, str] = {}
        self.admin_api_key: str | None = None
        self.org_id: str | None = None
        self.demo_task_id: str | None = None
        self.api_error: str | None = None
        self.environment: dict[str, str] = {}
        self.environment_plan: EnvironmentPlan | None = None
        self.deployment: Deployment | None = None
        self.started = False
        self.boot_seconds = 0.0
        self._parts: Parts | None = None

    # -- lifecycle ----------------------------------------------------------------------
    def __enter__(self) -> LocalCloud:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> LocalCloud:
        """Boot everything (a stopped cloud can start again); LocalCloudError if it cannot."""
        global _active
        with _active_lock:
            if _active is not None:
                raise LocalCloudError(
                    "a LocalCloud is already running in this process (moto's backends and "
                    "os.environ are process-wide); stop it first"
                )
            _active = self
        began = time.monotonic()
        atexit.register(self.stop)
        try:
            from runhook_dev.devcloud.lifecycle import Parts

            self._parts = Parts(self)
            self._parts.boot()
        except BaseException:
            self.stop()
            raise
        self.started = True
        self.boot_seconds = time.monotonic() - began
        log.info("local cloud up in %.1f s", self.boot_seconds)
        return self

    def stop(self) -> None:
        """Stop everything (idempotent): pollers, API, endpoint, DynamoDB Local; restore env."""
        global _active
        if self._parts is not None:
            self._parts.stop()  # `_parts` stays meanwhile: stop_dynamodb() may be called
            self._parts = None
        atexit.unregister(self.stop)
        with _active_lock:
            if _active is self:
                _active = None
        if self.started:
            log.info("local cloud stopped")
        self.started = False

    # -- AWS clients --------------------------------------------------------------------
    def session(self) -> LocalSession:
        """A new boto3 session (region, test credentials) whose clients use the endpoint."""
        from runhook_dev.devcloud.clients import LocalSession

        return LocalSession(self.aws_endpoint_url)

    def client(self, service: str) -> Any:
        """A (shared, thread-safe) boto3 client for `service` pointed at the dispatcher."""
        return self._running().aws.client(service)

    def new_client(self, service: str) -> Any:
        """A client of its own (pollers hold one each: a long poll blocks its connection)."""
        return self._running().aws.new_client(service)

    # -- the running cloud ----------------------------------------------------------------
    @property
    def dynamodb_endpoint(self) -> str:
        """DynamoDB Local's own URL (tools reach it through the AWS endpoint too)."""
        return self._parts.dynamodb.endpoint if self._parts is not None else ""

    @property
    def api_worker_pids(self) -> list[int]:
        """The API's worker processes (`api_workers`; empty when the API is in-process)."""
        parts = self._parts
        if parts is None or parts.api_workers is None:
            return []
        return parts.api_workers.pids

    @property
    def lambda_worker_pids(self) -> list[int]:
        """The handlers' worker processes (`lambda_workers`; empty when they run here)."""
        parts = self._parts
        if parts is None or parts.lambda_workers is None:
            return []
        return parts.lambda_workers.pids

    @property
    def java_pid(self) -> int | None:
        return self._parts.dynamodb.pid if self._parts is not None else None

    @contextlib.contextmanager
    def dynamodb_outage(self) -> Iterator[None]:
        """For the block, every DynamoDB request through the AWS endpoint answers 503."""
        with self._running().dynamodb.outage():
            yield

    @contextlib.contextmanager
    def events_outage(self) -> Iterator[None]:
        """For the block, every PutEvents through the AWS endpoint answers 503."""
        endpoint = _required(self._running().endpoint)
        endpoint.events_down.set()
        try:
            yield
        finally:
            endpoint.events_down.clear()

    def stop_dynamodb(self) -> None:
        """Kill DynamoDB Local now (for a forced exit: never leave an orphan Java)."""
        if self._parts is not None:
            self._parts.dynamodb.kill()

    def watch_state_machine(self, arn: str) -> None:
        """Emit status-change events for this machine's failed executions too."""
        _required(self._parts.status if self._parts else None).watch(arn)

    # -- functions and event sources -------------------------------------------------------
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
        return self._sources().add_sqs_event_source(
            function,
            queue_url,
            batch_size=batch_size,
            report_batch_item_failures=report_batch_item_failures,
            concurrency=concurrency,
        )

    def add_rule_target(
        self, rule_name: str, function: str, *, bus_name: str = "default"
    ) -> EventSourceHandle:
        """Deliver an existing rule's events to `function` through an SQS shim queue."""
        return self._sources().add_rule_target(rule_name, function, bus_name=bus_name)

    def remove_event_source(self, handle: EventSourceHandle) -> None:
        self._sources().remove(handle)

    def invoke(self, function: str, event: Any) -> Any:
        """Invoke a function through the dispatcher (Lambda's wire contract); the payload."""
        answer = self.client("lambda").invoke(FunctionName=function, Payload=json.dumps(event))
        payload = json.loads(answer["Payload"].read() or b"null")
        if answer.get("FunctionError"):
            raise RuntimeError(f"{function} failed: {payload}")
        return payload

    # -- task schedules (EventBridge Scheduler, fired locally: task_schedules.py) ----------
    @property
    def activity(self) -> ActivityHub:
        """The pollers' wake-ups (activity.py): what the dispatcher tells them."""
        endpoint = self._parts.endpoint if self._parts else None
        return _required(endpoint.activity if endpoint is not None else None)

    @property
    def schedule_firer(self) -> ScheduleFirer:
        """The firer of the task schedules; tests set its `clock` or call `fire_due(now)`."""
        return _required(self._parts.task_schedules if self._parts else None)

    # -- for people and tests ------------------------------------------------------------
    def summary(self) -> str:
        """What runs where (printed by `runhook dev`)."""
        from runhook_dev.devcloud.command import summary

        return summary(self)

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

    def _running(self) -> Parts:
        if self._parts is None or self._parts.endpoint is None:
            raise LocalCloudError("the local cloud is not running")
        return self._parts

    def _sources(self) -> EventSources:
        return _required(self._parts.sources if self._parts else None)


def _required(part: _Part | None) -> _Part:
    if part is None:
        raise LocalCloudError("the local cloud is not running")
    return part
