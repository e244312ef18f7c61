"""The parts of the local cloud that carry logic of their own, without booting one.

The deployer's resource table (order, create, Ref/GetAtt), the container seam that hands
each function its own dependencies (and falls back to the module's `handler`), the
environment plan and its os.environ writes, the options and the status-change events.
"""

from __future__ import annotations

import json
import os
import sys
import types
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from runhook_dev.devcloud.cfn import TemplateError, load_template
from runhook_dev.devcloud.containers import HandlerWiring, bootstrap_container
from runhook_dev.devcloud.deployer import Deployer
from runhook_dev.devcloud.environment import (
    EnvironmentPlan,
    ProcessEnvironment,
    local_variables,
)
from runhook_dev.devcloud.registry import FunctionRegistry, LocalFunction
from runhook_dev.devcloud.resources import RESOURCE_KINDS

# -- a boto3 stand-in that records every call ------------------------------------------


class _Missing(Exception):
    pass


class _Exceptions:
    ResourceNotFoundException = _Missing
    StateMachineDoesNotExist = _Missing
    QueueNameExists = type("QueueNameExists", (Exception,), {})
    ResourceAlreadyExistsException = type("ResourceAlreadyExists", (Exception,), {})
    BucketAlreadyOwnedByYou = type("BucketAlreadyOwnedByYou", (Exception,), {})
    BucketAlreadyExists = type("BucketAlreadyExists", (Exception,), {})


def _missing(**kwargs: Any) -> Any:
    raise _Missing


_ANSWERS: dict[str, Callable[..., Any]] = {
    "create_queue": lambda **kw: {"QueueUrl": f"https://local/{kw['QueueName']}"},
    "describe_table": _missing,
    "describe_time_to_live": lambda **kw: {},
    "describe_state_machine": _missing,
    "create_state_machine": lambda **kw: {"stateMachineArn": f"arn:sm:{kw['name']}"},
}


class RecordingAws:
    """`client(service)` for the deployer: records (service, operation, arguments)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    def __call__(self, service: str) -> Any:
        recording = self

        class Client:
            exceptions = _Exceptions

            def __getattr__(self, operation: str) -> Callable[..., Any]:
                def call(**kwargs: Any) -> Any:
                    recording.calls.append((service, operation, kwargs))
                    answer = _ANSWERS.get(operation)
                    return answer(**kwargs) if answer else {}

                return call

        return Client()

    def operations(self) -> list[str]:
        return [f"{service}.{operation}" for service, operation, _ in self.calls]


def _deployer(
    tmp_path: Path,
    resources: str,
    aws: RecordingAws | None = None,
    wait_dynamodb: Callable[[], None] | None = None,
) -> Deployer:
    (tmp_path / "template.yaml").write_text(resources)
    return Deployer(
        load_template(tmp_path / "template.yaml"),
        tmp_path,
        aws or RecordingAws(),
        FunctionRegistry(),
        wait_dynamodb=wait_dynamodb,
    )


MIXED = """
Resources:
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: things
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
      KeySchema: [{AttributeName: pk, KeyType: HASH}]
  Rule:
    Type: AWS::Events::Rule
    Properties:
      Name: on-things
      EventBusName: !Ref Bus
      EventPattern: {source: [things]}
      Targets: [{Id: q, Arn: !GetAtt Queue.Arn}]
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: things-q
      RedrivePolicy: {deadLetterTargetArn: !GetAtt Dlq.Arn, maxReceiveCount: 3}
  Dlq:
    Type: AWS::SQS::Queue
    Properties: {QueueName: things-dlq}
  Bus:
    Type: AWS::Events::EventBus
    Properties: {Name: things-bus}
  Api:
    Type: AWS::Serverless::HttpApi
  Layer:
    Type: AWS::Serverless::LayerVersion
    Properties: {LayerName: deps}
  Other:
    Type: AWS::SNS::Topic
"""


# -- the deployer's resource table -------------------------------------------------------


def test_the_table_orders_buses_first_and_tables_last(tmp_path: Path) -> None:
    aws = RecordingAws()
    waited: list[int] = []
    deployment = _deployer(
        tmp_path, MIXED, aws, wait_dynamodb=lambda: waited.append(len(aws.calls))
    ).deploy()
    ops = aws.operations()
    assert ops[0] == "events.create_event_bus"
    assert ops.index("sqs.create_queue") < ops.index("events.put_rule")
    assert ops.index("events.put_rule") < ops.index("dynamodb.describe_table")
    # DynamoDB Local is waited for right before the first DynamoDB request.
    assert waited[0] == ops.index("dynamodb.describe_table")
    assert deployment.tables == {"Table": "things"}
    assert deployment.buses == {"Bus": "things-bus"}
    assert deployment.rules == {"Rule": "on-things"}
    assert set(deployment.queues) == {"Queue", "Dlq"}
    assert not [op for op in ops if "sns" in op]  # a type missing from the table: left alone


def test_ref_and_getatt_come_from_the_table(tmp_path: Path) -> None:
    aws = RecordingAws()
    deployer = _deployer(tmp_path, MIXED, aws)
    deployer.deploy()
    resolve = deployer.resolver.resolve
    assert resolve({"Ref": "Queue"}) == "https://local/things-q"
    assert resolve({"Fn::GetAtt": ["Queue", "QueueName"]}) == "things-q"
    assert resolve({"Ref": "Table"}) == "things"
    assert resolve({"Fn::GetAtt": ["Table", "Arn"]}) == (
        "arn:aws:dynamodb:us-east-1:123456789012:table/things"
    )
    assert resolve({"Fn::GetAtt": ["Bus", "Name"]}) == "things-bus"
    assert resolve({"Fn::GetAtt": ["Rule", "Arn"]}).endswith(":rule/on-things")
    assert resolve({"Ref": "Api"}) == "local"
    assert resolve({"Ref": "Layer"}) == "arn:aws:lambda:us-east-1:123456789012:layer:deps:1"
    assert resolve({"Ref": "Other"}) == "Other"  # unknown type: its logical id
    with pytest.raises(TemplateError, match="Other.Arn is not supported"):
        resolve({"Fn::GetAtt": ["Other", "Arn"]})
    # The redrive policy points at the DLQ the same table created first.
    queue_call = next(
        kw for _, op, kw in aws.calls if op == "create_queue" and kw["QueueName"] == "things-q"
    )
    policy = json.loads(queue_call["Attributes"]["RedrivePolicy"])
    assert policy["deadLetterTargetArn"] == deployer.out.queues["Dlq"].arn


def test_every_kind_that_creates_has_a_deploy_position() -> None:
    for name, kind in RESOURCE_KINDS.items():
        if kind.create is not None:
            assert kind.order < 99, name
    table = RESOURCE_KINDS["AWS::DynamoDB::Table"].order
    assert all(kind.order <= table for kind in RESOURCE_KINDS.values() if kind.create)


def test_function_events_become_sources_shims_and_the_api(tmp_path: Path) -> None:
    (tmp_path / "fn").mkdir()
    (tmp_path / "fn" / "app.py").write_text("def handler(event, context):\n    return event\n")
    aws = RecordingAws()
    deployment = _deployer(
        tmp_path,
        """
Resources:
  Queue:
    Type: AWS::SQS::Queue
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fn/
      Handler: app.handler
      Events:
        Work: {Type: SQS, Properties: {Queue: !GetAtt Queue.Arn, BatchSize: 3,
               FunctionResponseTypes: [ReportBatchItemFailures]}}
        Things: {Type: EventBridgeRule, Properties: {Pattern: {source: [x]}}}
        Http: {Type: HttpApi}
""",
        aws,
    ).deploy()
    (source,) = deployment.sqs_sources
    assert (source.batch_size, source.report_batch_item_failures) == (3, True)
    assert source.maximum_concurrency == 5
    (shim,) = deployment.rule_shims
    targets = [kw for _, op, kw in aws.calls if op == "put_targets"]
    assert targets[0]["Targets"] == [{"Id": "local-shim", "Arn": shim.queue_arn}]
    assert deployment.api_functions == ["Fn"]


# -- handlers with a Container of their own ------------------------------------------------


class FakeContainer:
    def __init__(self, environment: Mapping[str, str], session: Any) -> None:
        self.environment, self.session = dict(environment), session


def _module(source: str, tmp_path: Path) -> tuple[LocalFunction, FunctionRegistry]:
    (tmp_path / "fn").mkdir(exist_ok=True)
    (tmp_path / "fn" / "app.py").write_text(source)
    registry = FunctionRegistry()
    function = registry.add(
        LocalFunction(
            name=f"fn-{tmp_path.name}",
            handler="app.handler",
            logical_id=f"Fn{tmp_path.name}".replace("-", "_"),
            code_dir=tmp_path / "fn",
            environment={"TABLE_NAME": "own-table"},
        )
    )
    return function, registry


WITH_FACTORY = """
def create_handler(container=None):
    def handler(event, context):
        return {"via": "container", "table": container.environment["TABLE_NAME"],
                "session": container.session}
    return handler

def handler(event, context):
    return {"via": "module"}
"""


def _wiring(factory: Callable[[Mapping[str, str], Any], object | None]) -> HandlerWiring:
    return HandlerWiring(
        factory,
        environment=lambda fn: {**fn.environment, "STAGE": "local"},
        session=lambda: "a-session",
    )


def test_create_handler_gets_a_container_built_for_its_function(tmp_path: Path) -> None:
    function, registry = _module(WITH_FACTORY, tmp_path)
    built: list[dict[str, str]] = []

    def factory(environment: Mapping[str, str], session: Any) -> FakeContainer:
        built.append(dict(environment))
        return FakeContainer(environment, session)

    registry.resolve_handler = _wiring(factory)
    answer = registry.invoke(function, {})
    assert answer.payload == {"via": "container", "table": "own-table", "session": "a-session"}
    assert built == [{"TABLE_NAME": "own-table", "STAGE": "local"}]
    registry.invoke(function, {})
    assert len(built) == 1  # once per cold start


def test_without_containers_the_module_handler_runs(tmp_path: Path) -> None:
    function, registry = _module(WITH_FACTORY, tmp_path)
    assert registry.invoke(function, {}).payload == {"via": "module"}  # no factory: today's way


def test_a_factory_without_containers_falls_back_to_the_module_handler(tmp_path: Path) -> None:
    function, registry = _module(WITH_FACTORY, tmp_path)
    registry.resolve_handler = _wiring(lambda environment, session: None)
    assert registry.invoke(function, {}).payload == {"via": "module"}


def test_a_module_without_create_handler_keeps_its_handler(tmp_path: Path) -> None:
    function, registry = _module("def handler(event, context):\n    return 'plain'\n", tmp_path)
    calls: list[object] = []
    registry.resolve_handler = _wiring(lambda environment, session: calls.append(1))
    assert registry.invoke(function, {}).payload == "plain"
    assert calls == []  # no container built for it


def test_a_missing_handler_is_an_init_error(tmp_path: Path) -> None:
    function, registry = _module("x = 1\n", tmp_path)
    registry.resolve_handler = _wiring(lambda environment, session: FakeContainer({}, None))
    failed = registry.invoke(function, {})
    assert failed.error
    assert failed.payload["errorType"] == "AttributeError"


@pytest.fixture()
def fake_bootstrap(monkeypatch: pytest.MonkeyPatch) -> Iterator[types.ModuleType]:
    module = types.ModuleType("runhook.bootstrap")

    class Container:
        def __init__(self, settings: Any, *, boto3_session: Any = None) -> None:
            self.settings, self.boto3_session = settings, boto3_session

    module.Container = Container  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "runhook.bootstrap", module)
    yield module


def test_bootstrap_container_builds_the_contracts_container(fake_bootstrap: Any) -> None:
    container: Any = bootstrap_container(
        {"TABLE_NAME": "own-table", "WEBHOOK_RETRY_SCHEDULE": "1,2"}, "a-session"
    )
    assert isinstance(container, fake_bootstrap.Container)
    assert container.settings.table_name == "own-table"
    assert container.settings.retry_schedule == [1.0, 2.0]
    assert container.boto3_session == "a-session"


def test_bootstrap_container_is_none_without_runhook_bootstrap(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "runhook.bootstrap", None)  # import fails: not there
    assert bootstrap_container({"TABLE_NAME": "t"}, None) is None


# -- environments ------------------------------------------------------------------------


def _function(name: str, **environment: str) -> LocalFunction:
    return LocalFunction(name=name, handler="app.handler", environment=environment)


def test_environment_plan() -> None:
    api = _function("api", TABLE_NAME="t", STATE_MACHINE_ARN="arn:sm")
    send = _function("send", TABLE_NAME="t", WEBHOOK_RETRY_SCHEDULE="5,300")
    plan = EnvironmentPlan(
        deployed={**api.environment, **send.environment},
        local={"AWS_ENDPOINT_URL": "http://127.0.0.1:1", "STAGE": "local"},
        overrides={"STAGE": "override"},
    )
    assert plan.union == {
        "TABLE_NAME": "t",
        "STATE_MACHINE_ARN": "arn:sm",
        "WEBHOOK_RETRY_SCHEDULE": "5,300",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:1",
        "STAGE": "override",
    }
    assert plan.for_function(send) == {
        "TABLE_NAME": "t",
        "WEBHOOK_RETRY_SCHEDULE": "5,300",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:1",
        "STAGE": "override",
    }
    assert plan.process(containers=False, api_functions=[api]) == plan.union
    # With containers, os.environ carries only the in-process API's environment.
    assert plan.process(containers=True, api_functions=[api]) == {
        "TABLE_NAME": "t",
        "STATE_MACHINE_ARN": "arn:sm",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:1",
        "STAGE": "override",
    }


def test_local_variables_point_every_endpoint_at_the_dispatcher() -> None:
    shell = {"AWS_ACCESS_KEY_ID": "mine", "AWS_ENDPOINT_URL_SQS": "http://elsewhere"}
    values = local_variables("http://127.0.0.1:9", "http://127.0.0.1:3000", shell)
    assert values["AWS_ENDPOINT_URL"] == values["AWS_ENDPOINT_URL_SQS"] == "http://127.0.0.1:9"
    assert "AWS_ACCESS_KEY_ID" not in values  # the shell's own key is kept
    assert values["AWS_SECRET_ACCESS_KEY"] == "test"
    assert values["PUBLIC_BASE_URL"] == "http://127.0.0.1:3000"


def test_process_environment_restores_what_was_there(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNHOOK_PARTS_KEPT", "before")
    monkeypatch.delenv("RUNHOOK_PARTS_NEW", raising=False)
    env = ProcessEnvironment()
    env.apply({"RUNHOOK_PARTS_KEPT": "during", "RUNHOOK_PARTS_NEW": "during"})
    env.apply({"RUNHOOK_PARTS_KEPT": "later"})
    assert os.environ["RUNHOOK_PARTS_KEPT"] == "later"
    env.restore()
    assert os.environ["RUNHOOK_PARTS_KEPT"] == "before"
    assert "RUNHOOK_PARTS_NEW" not in os.environ
    env.restore()  # idempotent
    assert os.environ["RUNHOOK_PARTS_KEPT"] == "before"


# -- options, sessions, status events -------------------------------------------------------


def test_keywords_are_options(tmp_path: Path) -> None:
    from runhook_dev.devcloud import CloudOptions, LocalCloud, LocalCloudError

    cloud = LocalCloud(in_memory=True, api_port=0, state_dir=str(tmp_path))
    assert cloud.options == CloudOptions(in_memory=True, api_port=0, state_dir=tmp_path)
    assert cloud.options.dynamodb_path is None
    on_top = LocalCloud(CloudOptions(api_port=0, state_dir=tmp_path), aws_port=0)
    assert (on_top.options.api_port, on_top.options.aws_port) == (0, 0)
    assert on_top.options.dynamodb_path == tmp_path / "dynamodb"
    with pytest.raises(TypeError):
        LocalCloud(no_such_option=1)
    with pytest.raises(LocalCloudError, match="not running"):
        cloud.client("sqs")
    with pytest.raises(LocalCloudError, match="not running"), cloud.dynamodb_outage():
        pass


def test_local_session_aims_clients_at_the_endpoint() -> None:
    from runhook_dev.devcloud.clients import LocalSession

    session = LocalSession("http://127.0.0.1:9")
    assert session.client("sqs").meta.endpoint_url == "http://127.0.0.1:9"
    explicit = session.client("sqs", endpoint_url="http://127.0.0.1:8")
    assert explicit.meta.endpoint_url == "http://127.0.0.1:8"
    assert session.region_name == "us-east-1"


def test_status_change_entry_has_the_aws_shape() -> None:
    from runhook_dev.devcloud.status_events import status_change_entry

    started = datetime(2025, 1, 1, tzinfo=UTC)
    entry = status_change_entry(
        {
            "executionArn": "arn:exec",
            "stateMachineArn": "arn:sm",
            "name": "run-1",
            "status": "FAILED",
            "startDate": started,
            "error": "States.Timeout",
        }
    )
    assert entry["Source"] == "aws.states"
    assert entry["DetailType"] == "Step Functions Execution Status Change"
    assert entry["Resources"] == ["arn:exec"]
    detail = json.loads(entry["Detail"])
    assert detail["startDate"] == int(started.timestamp() * 1000)
    assert detail["stopDate"] is None
    assert (detail["name"], detail["status"], detail["error"]) == (
        "run-1",
        "FAILED",
        "States.Timeout",
    )
