"""The event sources of a running cloud: pollers that feed queues and streams to functions.

`EventSources` starts the template's SQS event source mappings, DynamoDB stream
mappings and EventBridge rule shims (from the `Deployment`) and those a test adds at
run time, and stops them all. The pollers themselves are in pollers.py and streams.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runhook_dev.devcloud.activity import DYNAMODB, ActivityHub, Channel
from runhook_dev.devcloud.async_invoke import AsyncInvoker
from runhook_dev.devcloud.cfn import ACCOUNT_ID, REGION
from runhook_dev.devcloud.deployment import Deployment
from runhook_dev.devcloud.options import STAGE
from runhook_dev.devcloud.pollers import Poller, RuleShim, SqsEventSource
from runhook_dev.devcloud.registry import FunctionRegistry, LocalFunction
from runhook_dev.devcloud.resources.events import SHIM_TARGET_ID
from runhook_dev.devcloud.streams import Checkpoints, StreamEventSource

ClientFactory = Callable[[str], Any]


@dataclass(frozen=True)
class EventSourceHandle:
    """A poller added at run time (`add_sqs_event_source`, `add_rule_target`)."""

    name: str
    queue_url: str


class EventSources:
    """Every poller of one cloud: the deployment's, and the ones added at run time."""

    def __init__(
        self,
        registry: FunctionRegistry,
        invoker: AsyncInvoker,
        client: ClientFactory,
        new_client: ClientFactory,
        wait_seconds: int,
        checkpoint_dir: Path | None = None,
        activity: ActivityHub | None = None,
    ) -> None:
        self.registry = registry
        self.activity = activity  # wake-ups from the dispatcher (None: poll as before)
        self.checkpoint_dir = checkpoint_dir  # stream checkpoints (None: kept in memory)
        self.invoker = invoker
        self.client = client  # shared clients, for set-up calls
        self.new_client = new_client  # a client per poller thread (long polls block)
        self.wait_seconds = wait_seconds
        self._deployed: list[Poller] = []
        self._added: dict[str, Poller] = {}
        self._streams: list[StreamEventSource] = []

    def start(self, deployment: Deployment) -> None:
        """Start the template's SQS sources, stream mappings and rule shims."""
        for spec in deployment.sqs_sources:
            self._deployed.append(
                self._sqs_poller(
                    f"{spec.function}.{spec.event_name}",
                    self.function(spec.function),
                    spec.queue_url,
                    spec.queue_arn,
                    batch_size=spec.batch_size,
                    report_batch_item_failures=spec.report_batch_item_failures,
                    concurrency=max(1, spec.maximum_concurrency),
                )
            )
        for shim in deployment.rule_shims:
            self._deployed.append(
                self._shim_poller(
                    f"rule:{shim.rule_name}", self.function(shim.function), shim.queue_url
                )
            )
        for poller in self._deployed:
            poller.start()
        for stream in deployment.stream_sources:
            name = f"{stream.function}.{stream.event_name}"
            path = self.checkpoint_dir / f"{name}.json" if self.checkpoint_dir else None
            source = StreamEventSource(
                client=self.new_client,
                registry=self.registry,
                function=self.function(stream.function),
                spec=stream,
                checkpoints=Checkpoints(path),
                name=name,
                wake=self.activity.channel(DYNAMODB) if self.activity is not None else None,
            )
            self._streams.append(source)
            source.start()

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
        target = self.function(function)
        arn = self.client("sqs").get_queue_attributes(
            QueueUrl=queue_url, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        handle = EventSourceHandle(f"{function}<-{arn}", queue_url)
        poller = self._sqs_poller(
            handle.name,
            target,
            queue_url,
            arn,
            batch_size=batch_size,
            report_batch_item_failures=report_batch_item_failures,
            concurrency=concurrency,
        )
        return self._add(handle, poller)

    def add_rule_target(
        self, rule_name: str, function: str, *, bus_name: str = "default"
    ) -> EventSourceHandle:
        """Deliver an existing rule's events to `function` through an SQS shim queue."""
        target = self.function(function)
        sqs = self.client("sqs")
        queue_name = f"runhook-{STAGE}-shim-{rule_name}"[:80]
        url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
        arn = f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{queue_name}"
        self.client("events").put_targets(
            Rule=rule_name, EventBusName=bus_name, Targets=[{"Id": SHIM_TARGET_ID, "Arn": arn}]
        )
        handle = EventSourceHandle(f"rule:{rule_name}->{function}", url)
        return self._add(handle, self._shim_poller(handle.name, target, url))

    def remove(self, handle: EventSourceHandle) -> None:
        poller = self._added.pop(handle.name, None)
        if poller is not None:
            poller.stop()
            poller.join()

    def stop(self) -> None:
        """Tell every poller to stop (returns at once; `join` waits)."""
        for poller in self._all():
            poller.stop()
        for source in self._streams:
            source.stop()

    def join(self) -> None:
        for poller in self._all():
            poller.join()
        for source in self._streams:
            source.join()
        self._deployed, self._added, self._streams = [], {}, []

    def function(self, name: str) -> LocalFunction:
        function = self.registry.get(name)
        if function is None:
            raise KeyError(f"no function {name!r} (register it first)")
        return function

    def _all(self) -> list[Poller]:
        return [*self._deployed, *self._added.values()]

    def _add(self, handle: EventSourceHandle, poller: Poller) -> EventSourceHandle:
        self._added[handle.name] = poller
        poller.start()
        return handle

    def _sqs_poller(
        self,
        name: str,
        function: LocalFunction,
        queue_url: str,
        queue_arn: str,
        *,
        batch_size: int,
        report_batch_item_failures: bool,
        concurrency: int,
    ) -> SqsEventSource:
        return SqsEventSource(
            client=self.new_client,
            queue_url=queue_url,
            name=name,
            workers=concurrency,
            wait_seconds=self.wait_seconds,
            registry=self.registry,
            function=function,
            queue_arn=queue_arn,
            batch_size=batch_size,
            report_batch_item_failures=report_batch_item_failures,
            wake=self._wake(queue_url),
        )

    def _wake(self, queue_url: str) -> Channel | None:
        return self.activity.queue(queue_url) if self.activity is not None else None

    def _shim_poller(self, name: str, function: LocalFunction, queue_url: str) -> RuleShim:
        return RuleShim(
            client=self.new_client,
            queue_url=queue_url,
            name=name,
            wait_seconds=self.wait_seconds,
            invoker=self.invoker,
            registry=self.registry,
            function=function,
            wake=self._wake(queue_url),
        )
