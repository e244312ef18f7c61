"""Deploy template.yaml into the local cloud through the normal AWS APIs.

Creates, with boto3 pointed at the dispatcher: DynamoDB tables (the template's own
key schema, indexes and TTL), SQS queues (with redrive policies), EventBridge buses
and rules, log groups, state machines (DefinitionUri + DefinitionSubstitutions
resolved to local ARNs) and the function registry (Handler + CodeUri, Environment,
EventInvokeConfig). Function ``Events`` become event source specs that the local
cloud turns into pollers: SQS → `SqsEventSource`, EventBridgeRule → an SQS shim
queue as the rule's target + `RuleShim`.

Deploying again is idempotent: existing tables are kept (missing GSIs are added),
queues and buses are reused, state machines are updated.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runhook_dev.devcloud.cfn import ACCOUNT_ID, REGION, Resolver, TemplateError, parameter_defaults
from runhook_dev.devcloud.registry import (
    AsyncConfig,
    FunctionRegistry,
    LocalFunction,
    function_arn,
)

log = logging.getLogger("devcloud.deployer")

ClientFactory = Callable[[str], Any]

ROLE_ARN = f"arn:aws:iam::{ACCOUNT_ID}:role/runhook-local"

# Concurrent batches per SQS event source (Lambda starts with five pollers); the
# function's ScalingConfig.MaximumConcurrency caps it when set.
DEFAULT_SQS_CONCURRENCY = 5

_QUEUE_ATTRIBUTES = (
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
    "FifoQueue",
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
)


@dataclass(frozen=True)
class Queue:
    logical_id: str
    name: str
    url: str
    arn: str


@dataclass(frozen=True)
class SqsSourceSpec:
    """An SQS event source mapping of a function."""

    function: str  # function name
    event_name: str
    queue_url: str
    queue_arn: str
    batch_size: int
    report_batch_item_failures: bool
    maximum_concurrency: int


@dataclass(frozen=True)
class RuleShimSpec:
    """An EventBridge rule whose Lambda target is delivered through an SQS queue."""

    function: str
    rule_name: str
    bus_name: str
    queue_url: str
    queue_arn: str


@dataclass
class Deployment:
    tables: dict[str, str] = field(default_factory=dict)  # logical id → table name
    queues: dict[str, Queue] = field(default_factory=dict)  # logical id → queue
    buses: dict[str, str] = field(default_factory=dict)  # logical id → bus name
    rules: dict[str, str] = field(default_factory=dict)  # logical id / fn.event → rule name
    state_machines: dict[str, str] = field(default_factory=dict)  # logical id → ARN
    functions: dict[str, LocalFunction] = field(default_factory=dict)  # logical id → function
    environment: dict[str, str] = field(default_factory=dict)  # union of function variables
    sqs_sources: list[SqsSourceSpec] = field(default_factory=list)
    rule_shims: list[RuleShimSpec] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _str_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


class Deployer:
    """Creates the resources of one template in the local cloud."""

    def __init__(
        self,
        template: Mapping[str, Any],
        template_dir: Path,
        client: ClientFactory,
        registry: FunctionRegistry,
        parameters: Mapping[str, str] | None = None,
        stack_name: str = "runhook-local",
        wait_dynamodb: Callable[[], None] | None = None,
    ) -> None:
        self.template = template
        self._wait_dynamodb = wait_dynamodb
        self.template_dir = template_dir
        self.client = client
        self.registry = registry
        self.stack_name = stack_name
        self.resources: dict[str, dict[str, Any]] = dict(template.get("Resources") or {})
        params = parameter_defaults(template)
        params.update(parameters or {})
        unknown = set(parameters or {}) - set((template.get("Parameters") or {}).keys())
        for name in sorted(unknown):
            log.debug("parameter %s is not declared by the template (ignored)", name)
            params.pop(name, None)
        self.resolver = Resolver(template, params, self._ref, self._get_att, stack_name)
        self.out = Deployment()
        self._creating: set[str] = set()
        self._done: set[str] = set()

    # -- public ---------------------------------------------------------------------
    def deploy(self) -> Deployment:
        # Tables last: DynamoDB Local (Java) may still be starting while moto's part is
        # deployed; `wait_dynamodb` is called before the first DynamoDB request.
        order = {
            "AWS::Events::EventBus": 1,
            "AWS::SQS::Queue": 2,
            "AWS::Logs::LogGroup": 3,
            "AWS::Serverless::Function": 4,
            "AWS::Serverless::StateMachine": 5,
            "AWS::StepFunctions::StateMachine": 5,
            "AWS::Events::Rule": 6,
            "AWS::DynamoDB::Table": 7,
            "AWS::S3::Bucket": 2,
        }
        logical_ids = sorted(self.resources, key=lambda lid: order.get(self._type(lid), 99))
        for logical_id in logical_ids:
            if self._condition_false(logical_id):
                continue
            self._ensure(logical_id)
        for logical_id in logical_ids:
            if self._type(logical_id) == "AWS::Serverless::Function" and not self._condition_false(
                logical_id
            ):
                self._function_events(logical_id)
        if self._wait_dynamodb is not None:
            self._wait_dynamodb()
        self.out.environment = self._union_environment()
        return self.out

    # -- helpers ----------------------------------------------------------------------
    def _type(self, logical_id: str) -> str:
        return str(self.resources[logical_id].get("Type", ""))

    def _props(self, logical_id: str) -> dict[str, Any]:
        return dict(self.resources[logical_id].get("Properties") or {})

    def _condition_false(self, logical_id: str) -> bool:
        condition = self.resources[logical_id].get("Condition")
        return bool(condition) and not self.resolver.condition(str(condition))

    def _name(self, logical_id: str, prop: str) -> str:
        value = self._props(logical_id).get(prop)
        if value is None:
            return f"{self.stack_name}-{logical_id}"
        return str(self.resolver.resolve(value))

    def _ensure(self, logical_id: str) -> None:
        if logical_id in self._done or logical_id in self._creating:
            return
        self._creating.add(logical_id)
        try:
            kind = self._type(logical_id)
            creator = {
                "AWS::DynamoDB::Table": self._table,
                "AWS::Events::EventBus": self._bus,
                "AWS::SQS::Queue": self._queue,
                "AWS::Logs::LogGroup": self._log_group,
                "AWS::Serverless::Function": self._function,
                "AWS::Serverless::StateMachine": self._state_machine,
                "AWS::StepFunctions::StateMachine": self._state_machine,
                "AWS::Events::Rule": self._rule,
                "AWS::S3::Bucket": self._bucket,
            }.get(kind)
            if creator is None:
                log.debug("%s (%s): nothing to create locally", logical_id, kind)
            else:
                creator(logical_id)
            self._done.add(logical_id)
        finally:
            self._creating.discard(logical_id)

    # -- Ref / GetAtt ---------------------------------------------------------------
    def _ref(self, logical_id: str) -> Any:
        kind = self._type(logical_id)
        if kind == "AWS::SQS::Queue":
            return self._queue_info(logical_id).url
        if kind == "AWS::DynamoDB::Table":
            return self._name(logical_id, "TableName")
        if kind == "AWS::Events::EventBus":
            return self._name(logical_id, "Name")
        if kind == "AWS::Events::Rule":
            return self._name(logical_id, "Name")
        if kind == "AWS::Logs::LogGroup":
            return self._name(logical_id, "LogGroupName")
        if kind in ("AWS::Serverless::Function", "AWS::Lambda::Function"):
            return self._name(logical_id, "FunctionName")
        if kind in ("AWS::Serverless::StateMachine", "AWS::StepFunctions::StateMachine"):
            return self._state_machine_arn(logical_id)
        if kind == "AWS::Serverless::LayerVersion":
            name = self._name(logical_id, "LayerName")
            return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:layer:{name}:1"
        if kind in ("AWS::Serverless::HttpApi", "AWS::Serverless::Api"):
            return "local"
        if kind == "AWS::S3::Bucket":
            return self._bucket_name(logical_id)
        return logical_id

    def _get_att(self, logical_id: str, attribute: str) -> Any:
        if logical_id not in self.resources:
            raise TemplateError(f"!GetAtt on unknown resource {logical_id!r}")
        kind = self._type(logical_id)
        if kind == "AWS::SQS::Queue":
            queue = self._queue_info(logical_id)
            values = {"Arn": queue.arn, "QueueName": queue.name, "QueueUrl": queue.url}
        elif kind == "AWS::DynamoDB::Table":
            name = self._ref(logical_id)
            values = {"Arn": f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{name}"}
        elif kind == "AWS::Events::EventBus":
            name = self._ref(logical_id)
            values = {"Arn": f"arn:aws:events:{REGION}:{ACCOUNT_ID}:event-bus/{name}", "Name": name}
        elif kind == "AWS::Events::Rule":
            name = self._ref(logical_id)
            values = {"Arn": f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{name}"}
        elif kind == "AWS::Logs::LogGroup":
            name = self._ref(logical_id)
            values = {"Arn": f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:{name}:*"}
        elif kind in ("AWS::Serverless::Function", "AWS::Lambda::Function"):
            values = {"Arn": function_arn(self._ref(logical_id))}
        elif kind in ("AWS::Serverless::StateMachine", "AWS::StepFunctions::StateMachine"):
            arn = self._state_machine_arn(logical_id)
            values = {"Arn": arn, "Name": arn.rsplit(":", 1)[-1]}
        elif kind == "AWS::S3::Bucket":
            name = self._bucket_name(logical_id)
            values = {"Arn": f"arn:aws:s3:::{name}", "DomainName": f"{name}.s3.amazonaws.com"}
        else:
            values = {}
        if attribute not in values:
            raise TemplateError(f"!GetAtt {logical_id}.{attribute} is not supported locally")
        return values[attribute]

    # -- DynamoDB -----------------------------------------------------------------------
    def _table(self, logical_id: str) -> None:
        props = self.resolver.resolve(self._props(logical_id))
        name = self._name(logical_id, "TableName")
        if self._wait_dynamodb is not None:
            self._wait_dynamodb()
        ddb = self.client("dynamodb")
        provisioned = props.get("BillingMode", "PROVISIONED") == "PROVISIONED"

        def throughput(spec: Mapping[str, Any]) -> dict[str, Any]:
            given = spec.get("ProvisionedThroughput") or {}
            return {
                "ReadCapacityUnits": int(given.get("ReadCapacityUnits", 5)),
                "WriteCapacityUnits": int(given.get("WriteCapacityUnits", 5)),
            }

        gsis = [
            {
                "IndexName": gsi["IndexName"],
                "KeySchema": gsi["KeySchema"],
                "Projection": gsi.get("Projection") or {"ProjectionType": "ALL"},
                **({"ProvisionedThroughput": throughput(gsi)} if provisioned else {}),
            }
            for gsi in props.get("GlobalSecondaryIndexes") or []
        ]
        try:
            existing = ddb.describe_table(TableName=name)["Table"]
        except ddb.exceptions.ResourceNotFoundException:
            existing = None
        if existing is None:
            request: dict[str, Any] = {
                "TableName": name,
                "AttributeDefinitions": props["AttributeDefinitions"],
                "KeySchema": props["KeySchema"],
                "BillingMode": "PROVISIONED" if provisioned else "PAY_PER_REQUEST",
            }
            if provisioned:
                request["ProvisionedThroughput"] = throughput(props)
            if gsis:
                request["GlobalSecondaryIndexes"] = gsis
            if props.get("LocalSecondaryIndexes"):
                request["LocalSecondaryIndexes"] = props["LocalSecondaryIndexes"]
            if props.get("StreamSpecification"):
                stream = props["StreamSpecification"]
                request["StreamSpecification"] = {
                    "StreamEnabled": True,
                    "StreamViewType": stream.get("StreamViewType", "NEW_AND_OLD_IMAGES"),
                }
            ddb.create_table(**request)
            log.info("created table %s", name)
        else:
            have = {g["IndexName"] for g in existing.get("GlobalSecondaryIndexes") or []}
            for gsi in gsis:
                if gsi["IndexName"] not in have:
                    ddb.update_table(
                        TableName=name,
                        AttributeDefinitions=props["AttributeDefinitions"],
                        GlobalSecondaryIndexUpdates=[{"Create": gsi}],
                    )
                    log.info("table %s: added index %s", name, gsi["IndexName"])
            want = {g["IndexName"] for g in gsis}
            for extra in sorted(have - want):
                self._warn(f"table {name} has index {extra} that the template no longer declares")
            log.info("table %s exists (kept)", name)
        ttl = props.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled") in (True, "true", "True"):
            current = ddb.describe_time_to_live(TableName=name).get("TimeToLiveDescription", {})
            if current.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
                ddb.update_time_to_live(
                    TableName=name,
                    TimeToLiveSpecification={
                        "AttributeName": ttl["AttributeName"],
                        "Enabled": True,
                    },
                )
        self.out.tables[logical_id] = name

    # -- EventBridge --------------------------------------------------------------------
    def _bus(self, logical_id: str) -> None:
        name = self._name(logical_id, "Name")
        events = self.client("events")
        try:
            events.create_event_bus(Name=name)
            log.info("created event bus %s", name)
        except events.exceptions.ResourceAlreadyExistsException:
            pass
        self.out.buses[logical_id] = name

    def _rule(self, logical_id: str) -> None:
        props = self.resolver.resolve(self._props(logical_id))
        name = self._name(logical_id, "Name")
        bus = str(props.get("EventBusName") or "default").rsplit("/", 1)[-1]
        self._put_rule(name, bus, props.get("EventPattern"), props.get("ScheduleExpression"))
        native: list[dict[str, Any]] = []
        for target in props.get("Targets") or []:
            arn = str(target["Arn"])
            if arn.startswith("arn:aws:lambda:"):
                function = self.registry.get(arn)
                if function is None:
                    self._warn(f"rule {name}: target {arn} is not a known function (skipped)")
                    continue
                self._shim(
                    function, name, bus, f"{logical_id}-{target.get('Id', 'lambda')}", target
                )
            elif arn.startswith("arn:aws:states:"):
                self._warn(f"rule {name}: state machine targets are not delivered locally")
            else:
                native.append({k: v for k, v in target.items() if k != "RoleArn"})
        if native:
            self.client("events").put_targets(Rule=name, EventBusName=bus, Targets=native)
        self.out.rules[logical_id] = name

    def _put_rule(self, name: str, bus: str, pattern: Any, schedule: Any = None) -> None:
        request: dict[str, Any] = {"Name": name, "EventBusName": bus, "State": "ENABLED"}
        if pattern is not None:
            request["EventPattern"] = json.dumps(pattern)
        if schedule:
            request["ScheduleExpression"] = str(schedule)
            self._warn(f"rule {name}: schedules do not fire locally")
        self.client("events").put_rule(**request)

    def _shim(
        self,
        function: LocalFunction,
        rule_name: str,
        bus: str,
        label: str,
        target: Mapping[str, Any],
    ) -> None:
        safe = re.sub(r"[^A-Za-z0-9_-]", "-", f"{self.stack_name}-shim-{label}")[:80]
        queue = self._create_queue(safe, {"VisibilityTimeout": "30"})
        shim_target: dict[str, Any] = {"Id": "local-shim", "Arn": queue.arn}
        for key in ("Input", "InputPath", "InputTransformer"):
            if key in target:
                shim_target[key] = target[key]
        self.client("events").put_targets(Rule=rule_name, EventBusName=bus, Targets=[shim_target])
        self.out.rule_shims.append(
            RuleShimSpec(function.name, rule_name, bus, queue.url, queue.arn)
        )

    # -- SQS ------------------------------------------------------------------------------
    def _queue_info(self, logical_id: str) -> Queue:
        if logical_id not in self.out.queues:
            self._ensure(logical_id)
        if logical_id not in self.out.queues:
            raise TemplateError(f"queue {logical_id} is part of a reference cycle")
        return self.out.queues[logical_id]

    def _queue(self, logical_id: str) -> None:
        props = self.resolver.resolve(self._props(logical_id))
        fifo = str(props.get("FifoQueue", "")).lower() == "true"
        name = str(props.get("QueueName") or f"{self.stack_name}-{logical_id}")
        if fifo and not name.endswith(".fifo"):
            name += ".fifo"
        attributes = {key: _str_value(props[key]) for key in _QUEUE_ATTRIBUTES if key in props}
        if "RedrivePolicy" in props:
            attributes["RedrivePolicy"] = json.dumps(props["RedrivePolicy"])
        if "RedriveAllowPolicy" in props:
            attributes["RedriveAllowPolicy"] = json.dumps(props["RedriveAllowPolicy"])
        queue = self._create_queue(name, attributes, logical_id)
        self.out.queues[logical_id] = queue

    def _create_queue(self, name: str, attributes: dict[str, str], logical_id: str = "") -> Queue:
        sqs = self.client("sqs")
        try:
            url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
            log.info("created queue %s", name)
        except sqs.exceptions.QueueNameExists:
            url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
            changeable = {k: v for k, v in attributes.items() if k != "FifoQueue"}
            if changeable:
                sqs.set_queue_attributes(QueueUrl=url, Attributes=changeable)
        arn = f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{name}"
        return Queue(logical_id or name, name, url, arn)

    # -- S3 -------------------------------------------------------------------------------
    def _bucket_name(self, logical_id: str) -> str:
        name = self._props(logical_id).get("BucketName")
        if name is not None:
            return str(self.resolver.resolve(name))
        return re.sub(r"[^a-z0-9-]", "-", f"{self.stack_name}-{logical_id}".lower())[:63]

    def _bucket(self, logical_id: str) -> None:
        """A private bucket (moto's S3); lifecycle and encryption are AWS's business."""
        s3 = self.client("s3")
        name = self._bucket_name(logical_id)
        try:
            s3.create_bucket(Bucket=name)
            log.info("created bucket %s", name)
        except (s3.exceptions.BucketAlreadyOwnedByYou, s3.exceptions.BucketAlreadyExists):
            pass

    # -- Logs -----------------------------------------------------------------------------
    def _log_group(self, logical_id: str) -> None:
        logs = self.client("logs")
        name = self._name(logical_id, "LogGroupName")
        with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
            logs.create_log_group(logGroupName=name)

    # -- Step Functions -------------------------------------------------------------------
    def _state_machine_arn(self, logical_id: str) -> str:
        if logical_id in self.out.state_machines:
            return self.out.state_machines[logical_id]
        if logical_id not in self._creating:
            self._ensure(logical_id)
            if logical_id in self.out.state_machines:
                return self.out.state_machines[logical_id]
        name = self._state_machine_name(logical_id)
        return f"arn:aws:states:{REGION}:{ACCOUNT_ID}:stateMachine:{name}"

    def _state_machine_name(self, logical_id: str) -> str:
        key = (
            "Name"
            if self._type(logical_id) == "AWS::Serverless::StateMachine"
            else ("StateMachineName")
        )
        return self._name(logical_id, key)

    def _definition(self, logical_id: str) -> str | None:
        raw = self._props(logical_id)
        substitutions = {
            str(k): _str_value(v)
            for k, v in (self.resolver.resolve(raw.get("DefinitionSubstitutions") or {})).items()
        }
        if "Definition" in raw:
            text = json.dumps(self.resolver.resolve(raw["Definition"]))
        elif "DefinitionString" in raw:
            text = str(self.resolver.resolve(raw["DefinitionString"]))
        elif "DefinitionUri" in raw and isinstance(raw["DefinitionUri"], str):
            path = self.template_dir / raw["DefinitionUri"]
            if not path.is_file():
                self._warn(f"state machine {logical_id}: {path} does not exist (not created)")
                return None
            if path.suffix in (".yaml", ".yml"):
                import yaml

                text = json.dumps(yaml.safe_load(path.read_text(encoding="utf-8")))
            else:
                text = path.read_text(encoding="utf-8")
        else:
            self._warn(f"state machine {logical_id}: no local definition (not created)")
            return None
        for key, value in substitutions.items():
            text = text.replace("${" + key + "}", value)
        leftover = sorted(set(re.findall(r"\$\{([A-Za-z0-9_]+)\}", text)))
        if leftover:
            self._warn(f"state machine {logical_id}: unresolved placeholders {leftover}")
        return text

    def _state_machine(self, logical_id: str) -> None:
        name = self._state_machine_name(logical_id)
        definition = self._definition(logical_id)
        if definition is None:
            return
        props = self.resolver.resolve(
            {k: v for k, v in self._props(logical_id).items() if k == "Type"}
        )
        sfn = self.client("stepfunctions")
        arn = f"arn:aws:states:{REGION}:{ACCOUNT_ID}:stateMachine:{name}"
        try:
            sfn.describe_state_machine(stateMachineArn=arn)
            sfn.update_state_machine(stateMachineArn=arn, definition=definition)
            log.info("updated state machine %s", name)
        except sfn.exceptions.StateMachineDoesNotExist:
            arn = sfn.create_state_machine(
                name=name,
                definition=definition,
                roleArn=ROLE_ARN,
                type=str(props.get("Type", "STANDARD")),
            )["stateMachineArn"]
            log.info("created state machine %s", name)
        self.out.state_machines[logical_id] = arn

    # -- Functions ------------------------------------------------------------------------
    def _globals(self) -> dict[str, Any]:
        return dict((self.template.get("Globals") or {}).get("Function") or {})

    def _function(self, logical_id: str) -> None:
        raw = self._props(logical_id)
        glob = self._globals()
        name = self._name(logical_id, "FunctionName")
        runtime = str(raw.get("Runtime", glob.get("Runtime", "python3.12")))
        if not runtime.startswith("python"):
            self._warn(f"function {logical_id}: runtime {runtime} cannot run locally (skipped)")
            return
        code_uri = raw.get("CodeUri", glob.get("CodeUri"))
        handler = raw.get("Handler", glob.get("Handler", "app.handler"))
        if raw.get("PackageType") == "Image":
            # A container image runs in-process too: its handler is ImageConfig.Command[0]
            # in the Dockerfile's folder (the image copies that folder's app.py).
            metadata = self.resources[logical_id].get("Metadata") or {}
            dockerfile = Path(str(metadata.get("DockerContext", "."))) / str(
                metadata.get("Dockerfile", "Dockerfile")
            )
            code_uri = str(dockerfile.parent)
            handler = ((raw.get("ImageConfig") or {}).get("Command") or ["app.handler"])[0]
        if not isinstance(code_uri, str):
            self._warn(f"function {logical_id}: CodeUri must be a local path (skipped)")
            return
        variables: dict[str, Any] = {}
        variables.update((glob.get("Environment") or {}).get("Variables") or {})
        variables.update((raw.get("Environment") or {}).get("Variables") or {})
        environment = {k: _str_value(v) for k, v in self.resolver.resolve(variables).items()}
        invoke_config = self.resolver.resolve(
            raw.get("EventInvokeConfig") or glob.get("EventInvokeConfig") or {}
        )
        destinations = invoke_config.get("DestinationConfig") or {}
        function = LocalFunction(
            name=name,
            handler=str(handler),
            logical_id=logical_id,
            code_dir=(self.template_dir / code_uri).resolve(),
            timeout_seconds=float(raw.get("Timeout", glob.get("Timeout", 3))),
            memory_mb=int(raw.get("MemorySize", glob.get("MemorySize", 128))),
            environment=environment,
            async_config=AsyncConfig(
                maximum_retry_attempts=int(invoke_config.get("MaximumRetryAttempts", 2)),
                on_failure_arn=(destinations.get("OnFailure") or {}).get("Destination"),
                on_success_arn=(destinations.get("OnSuccess") or {}).get("Destination"),
            ),
        )
        module = function.handler.rpartition(".")[0]
        source = (function.code_dir or Path()).joinpath(*module.split(".")).with_suffix(".py")
        if not module or not source.is_file():
            # Imported on first invoke, as Lambda does; say now that it will fail.
            self._warn(f"function {logical_id}: handler {function.handler} not found ({source})")
        self.registry.add(function)
        self.out.functions[logical_id] = function

    def _function_events(self, logical_id: str) -> None:
        function = self.out.functions.get(logical_id)
        if function is None:
            return
        events = self._props(logical_id).get("Events") or {}
        for event_name, spec in events.items():
            kind = str(spec.get("Type", ""))
            props = self.resolver.resolve(spec.get("Properties") or {})
            if kind == "SQS":
                self._sqs_source(function, event_name, props)
            elif kind in ("EventBridgeRule", "CloudWatchEvent"):
                name = str(
                    props.get("RuleName") or f"{self.stack_name}-{logical_id}-{event_name}"[:64]
                )
                bus = str(props.get("EventBusName") or "default").rsplit("/", 1)[-1]
                self._put_rule(name, bus, props.get("Pattern"))
                self._shim(function, name, bus, f"{logical_id}-{event_name}", props)
                self.out.rules[f"{logical_id}.{event_name}"] = name
            elif kind in ("HttpApi", "Api"):
                continue  # the API is served by uvicorn
            else:
                self._warn(f"function {logical_id}: event {event_name} ({kind}) is not emulated")

    def _sqs_source(
        self, function: LocalFunction, event_name: str, props: Mapping[str, Any]
    ) -> None:
        if props.get("Enabled") in (False, "false"):
            return
        arn = str(props["Queue"])
        queue = next((q for q in self.out.queues.values() if q.arn == arn), None)
        if queue is None:
            self._warn(f"function {function.name}: event {event_name}: unknown queue {arn}")
            return
        scaling = props.get("ScalingConfig") or {}
        self.out.sqs_sources.append(
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

    def _union_environment(self) -> dict[str, str]:
        union: dict[str, str] = {}
        owner: dict[str, str] = {}
        for logical_id, function in self.out.functions.items():
            for key, value in function.environment.items():
                if key in union and union[key] != value:
                    raise TemplateError(
                        f"environment variable {key} differs between {owner[key]} "
                        f"({union[key]!r}) and {logical_id} ({value!r}); all handlers share "
                        "one process in the local cloud"
                    )
                union[key] = value
                owner[key] = logical_id
        return union

    def _warn(self, message: str) -> None:
        log.warning("%s", message)
        self.out.warnings.append(message)
