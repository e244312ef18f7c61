"""Functions: the registry entry (Handler + CodeUri, Environment, EventInvokeConfig) and,
once every resource exists, their `Events` (SQS sources, DynamoDB streams, EventBridge
rules as shims, schedules and start-up calls: schedules.py)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runhook_dev.devcloud.deployment import SqsSourceSpec, str_value
from runhook_dev.devcloud.event_filters import compile_filter_criteria
from runhook_dev.devcloud.registry import AsyncConfig, LocalFunction, function_arn
from runhook_dev.devcloud.resources.dynamodb import table_of_stream
from runhook_dev.devcloud.resources.events import bus_name, put_rule, shim
from runhook_dev.devcloud.schedules import SCHEDULE_EVENTS, wire_schedule, wire_startup
from runhook_dev.devcloud.streams import StreamSourceSpec

if TYPE_CHECKING:
    from runhook_dev.devcloud.deployer import Deployer

# Concurrent batches per SQS event source (Lambda starts with five pollers); the
# function's ScalingConfig.MaximumConcurrency caps it when set.
DEFAULT_SQS_CONCURRENCY = 5

RULE_EVENTS = ("EventBridgeRule", "CloudWatchEvent")
API_EVENTS = ("HttpApi", "Api")  # served by uvicorn, not emulated as events


def function_attributes(deployer: Deployer, logical_id: str) -> Mapping[str, Any]:
    return {"Arn": function_arn(deployer.ref(logical_id))}


def create_function(deployer: Deployer, logical_id: str) -> None:
    raw = deployer.props(logical_id)
    glob = deployer.function_globals()
    runtime = str(raw.get("Runtime", glob.get("Runtime", "python3.12")))
    if not runtime.startswith("python"):
        deployer.warn(f"function {logical_id}: runtime {runtime} cannot run locally (skipped)")
        return
    code_uri, handler = _code_location(deployer, logical_id, raw, glob)
    if not isinstance(code_uri, str):
        deployer.warn(f"function {logical_id}: CodeUri must be a local path (skipped)")
        return
    function = LocalFunction(
        name=deployer.name(logical_id, "FunctionName"),
        handler=str(handler),
        logical_id=logical_id,
        code_dir=(deployer.template_dir / code_uri).resolve(),
        timeout_seconds=float(raw.get("Timeout", glob.get("Timeout", 3))),
        memory_mb=int(raw.get("MemorySize", glob.get("MemorySize", 128))),
        environment=_environment(deployer, raw, glob),
        async_config=_async_config(deployer, raw, glob),
    )
    module = function.handler.rpartition(".")[0]
    source = (function.code_dir or Path()).joinpath(*module.split(".")).with_suffix(".py")
    if not module or not source.is_file():
        # Imported on first invoke, as Lambda does; say now that it will fail.
        deployer.warn(f"function {logical_id}: handler {function.handler} not found ({source})")
    deployer.registry.add(function)
    deployer.out.functions[logical_id] = function


def _code_location(
    deployer: Deployer, logical_id: str, raw: Mapping[str, Any], glob: Mapping[str, Any]
) -> tuple[Any, Any]:
    """(CodeUri, Handler); a container image runs in-process too: its handler is
    ImageConfig.Command[0] in the Dockerfile's folder (the image copies that folder)."""
    if raw.get("PackageType") != "Image":
        return raw.get("CodeUri", glob.get("CodeUri")), raw.get(
            "Handler", glob.get("Handler", "app.handler")
        )
    metadata = deployer.resource(logical_id).get("Metadata") or {}
    dockerfile = Path(str(metadata.get("DockerContext", "."))) / str(
        metadata.get("Dockerfile", "Dockerfile")
    )
    command = (raw.get("ImageConfig") or {}).get("Command") or ["app.handler"]
    return str(dockerfile.parent), command[0]


def _environment(
    deployer: Deployer, raw: Mapping[str, Any], glob: Mapping[str, Any]
) -> dict[str, str]:
    variables: dict[str, Any] = {}
    variables.update((glob.get("Environment") or {}).get("Variables") or {})
    variables.update((raw.get("Environment") or {}).get("Variables") or {})
    return {k: str_value(v) for k, v in deployer.resolver.resolve(variables).items()}


def _async_config(
    deployer: Deployer, raw: Mapping[str, Any], glob: Mapping[str, Any]
) -> AsyncConfig:
    config = deployer.resolver.resolve(
        raw.get("EventInvokeConfig") or glob.get("EventInvokeConfig") or {}
    )
    destinations = config.get("DestinationConfig") or {}
    return AsyncConfig(
        maximum_retry_attempts=int(config.get("MaximumRetryAttempts", 2)),
        on_failure_arn=(destinations.get("OnFailure") or {}).get("Destination"),
        on_success_arn=(destinations.get("OnSuccess") or {}).get("Destination"),
    )


def wire_events(deployer: Deployer, logical_id: str) -> None:
    """The function's `Events`: SQS sources, rules (through shims), the API."""
    function = deployer.out.functions.get(logical_id)
    if function is None:
        return
    wire_startup(deployer, function, logical_id)
    for event_name, spec in (deployer.props(logical_id).get("Events") or {}).items():
        kind = str(spec.get("Type", ""))
        props = deployer.resolver.resolve(spec.get("Properties") or {})
        if kind == "SQS":
            _sqs_source(deployer, function, event_name, props)
        elif kind == "DynamoDB":
            _stream_source(deployer, function, event_name, props)
        elif kind in RULE_EVENTS:
            name = str(
                props.get("RuleName") or f"{deployer.stack_name}-{logical_id}-{event_name}"[:64]
            )
            bus = bus_name(props.get("EventBusName"))
            put_rule(deployer, name, bus, props.get("Pattern"))
            shim(deployer, function, name, bus, f"{logical_id}-{event_name}", props)
            deployer.out.rules[f"{logical_id}.{event_name}"] = name
        elif kind in SCHEDULE_EVENTS:
            wire_schedule(deployer, function, logical_id, event_name, props)
        elif kind in API_EVENTS:
            if logical_id not in deployer.out.api_functions:
                deployer.out.api_functions.append(logical_id)
        else:
            deployer.warn(f"function {logical_id}: event {event_name} ({kind}) is not emulated")


def _stream_source(
    deployer: Deployer, function: LocalFunction, event_name: str, props: Mapping[str, Any]
) -> None:
    """A DynamoDB stream mapping (read by devcloud/streams.py, FilterCriteria applied)."""
    if props.get("Enabled") in (False, "false"):
        return
    table = table_of_stream(str(props["Stream"]))
    if table not in deployer.out.tables.values():
        deployer.warn(f"function {function.name}: event {event_name}: unknown table {table}")
        return
    deployer.out.stream_sources.append(
        StreamSourceSpec(
            function=function.name,
            event_name=event_name,
            table_name=table,
            batch_size=int(props.get("BatchSize", 100)),
            report_batch_item_failures="ReportBatchItemFailures"
            in (props.get("FunctionResponseTypes") or []),
            record_filter=compile_filter_criteria(props.get("FilterCriteria")),
        )
    )


def _sqs_source(
    deployer: Deployer, function: LocalFunction, event_name: str, props: Mapping[str, Any]
) -> None:
    if props.get("Enabled") in (False, "false"):
        return
    arn = str(props["Queue"])
    queue = next((q for q in deployer.out.queues.values() if q.arn == arn), None)
    if queue is None:
        deployer.warn(f"function {function.name}: event {event_name}: unknown queue {arn}")
        return
    scaling = props.get("ScalingConfig") or {}
    deployer.out.sqs_sources.append(
        SqsSourceSpec(
            function=function.name,
            event_name=event_name,
            queue_url=queue.url,
            queue_arn=queue.arn,
            batch_size=int(props.get("BatchSize", 10)),
            report_batch_item_failures="ReportBatchItemFailures"
            in (props.get("FunctionResponseTypes") or []),
            maximum_concurrency=int(scaling.get("MaximumConcurrency", DEFAULT_SQS_CONCURRENCY)),
        )
    )
