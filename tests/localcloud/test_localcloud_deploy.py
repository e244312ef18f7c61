"""What the deployer created from template.yaml, and the environment the handlers get."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import httpx
import pytest

from runhook_dev.devcloud.cfn import load_template
from runhook_dev.devcloud.deployer import Deployer
from runhook_dev.devcloud.registry import FunctionRegistry

pytestmark = pytest.mark.localcloud

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(ROOT / "template.yaml")


def _resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def test_table_has_the_template_schema(
    local_cloud: Any, aws: Any, template: dict[str, Any]
) -> None:
    (spec,) = _resources(template, "AWS::DynamoDB::Table").values()
    props = spec["Properties"]
    table = aws.dynamodb.describe_table(TableName=local_cloud.table_name)["Table"]
    assert table["KeySchema"] == props["KeySchema"]
    assert sorted(table["AttributeDefinitions"], key=lambda a: a["AttributeName"]) == sorted(
        props["AttributeDefinitions"], key=lambda a: a["AttributeName"]
    )
    indexes = {g["IndexName"]: g for g in table.get("GlobalSecondaryIndexes", [])}
    for gsi in props.get("GlobalSecondaryIndexes", []):
        assert indexes[gsi["IndexName"]]["KeySchema"] == gsi["KeySchema"]
        assert (
            indexes[gsi["IndexName"]]["Projection"]["ProjectionType"]
            == (gsi["Projection"]["ProjectionType"])
        )
    assert set(indexes) == {g["IndexName"] for g in props.get("GlobalSecondaryIndexes", [])}
    ttl = aws.dynamodb.describe_time_to_live(TableName=local_cloud.table_name)
    assert (
        ttl["TimeToLiveDescription"]["AttributeName"]
        == (props["TimeToLiveSpecification"]["AttributeName"])
    )


def test_queues_have_their_redrive_policies(
    local_cloud: Any, aws: Any, template: dict[str, Any]
) -> None:
    queues = _resources(template, "AWS::SQS::Queue")
    assert set(local_cloud.queue_urls) == set(queues)
    for logical_id, spec in queues.items():
        attributes = aws.sqs.get_queue_attributes(
            QueueUrl=local_cloud.queue_urls[logical_id], AttributeNames=["All"]
        )["Attributes"]
        props = spec["Properties"]
        if "VisibilityTimeout" in props:
            assert attributes["VisibilityTimeout"] == str(props["VisibilityTimeout"])
        if "RedrivePolicy" in props:
            policy = json.loads(attributes["RedrivePolicy"])
            dlq_logical = props["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
            assert policy["deadLetterTargetArn"] == local_cloud.deployment.queues[dlq_logical].arn
            assert int(policy["maxReceiveCount"]) == props["RedrivePolicy"]["maxReceiveCount"]


def test_bus_and_rules_with_shims(local_cloud: Any, aws: Any) -> None:
    assert aws.events.describe_event_bus(Name=local_cloud.bus_name)["Name"] == local_cloud.bus_name
    deployment = local_cloud.deployment
    assert deployment.rule_shims, "the template's EventBridgeRule events become shims"
    for shim in deployment.rule_shims:
        rule = aws.events.describe_rule(Name=shim.rule_name, EventBusName=shim.bus_name)
        assert json.loads(rule["EventPattern"])
        targets = aws.events.list_targets_by_rule(Rule=shim.rule_name, EventBusName=shim.bus_name)
        arns = [t["Arn"] for t in targets["Targets"]]
        assert arns == [shim.queue_arn]  # never a Lambda target: moto's PutEvents would 500


def test_state_machine_with_local_substitutions(
    local_cloud: Any, aws: Any, template: dict[str, Any]
) -> None:
    machines = _resources(template, "AWS::Serverless::StateMachine")
    if not machines:
        pytest.skip("the template declares no state machine")
    assert local_cloud.state_machine_arn
    definition = aws.sfn.describe_state_machine(stateMachineArn=local_cloud.state_machine_arn)[
        "definition"
    ]
    assert "${" not in definition
    for spec in machines.values():
        props = spec["Properties"]
        raw = (ROOT / props["DefinitionUri"]).read_text() if "DefinitionUri" in props else ""
        for key, value in (props.get("DefinitionSubstitutions") or {}).items():
            if "${" + key + "}" not in raw:
                continue  # declared but not used by the ASL
            logical = value["Fn::GetAtt"][0] if "Fn::GetAtt" in value else value.get("Ref")
            function = local_cloud.deployment.functions.get(logical)
            if function is not None:
                assert function.arn in definition


def test_handlers_environment(local_cloud: Any) -> None:
    from runhook.settings import Settings

    env = os.environ
    assert env["TABLE_NAME"] == local_cloud.table_name
    assert env["EVENT_BUS_NAME"] == local_cloud.bus_name
    assert env["DELIVERIES_QUEUE_URL"] == local_cloud.queue_urls["DeliveriesQueue"]
    assert env["DELIVERIES_DLQ_URL"] == local_cloud.queue_urls["DeliveriesDLQ"]
    if local_cloud.state_machine_arn:
        assert env["STATE_MACHINE_ARN"] == local_cloud.state_machine_arn
    assert env["AWS_ENDPOINT_URL"] == local_cloud.aws_endpoint_url
    assert env["MOTO_PORT"] == str(local_cloud.aws_port)
    assert env["PUBLIC_BASE_URL"] == local_cloud.api_url
    assert env["ALLOW_PRIVATE_TARGETS"] == "true"
    assert env["STAGE"] == "local"
    assert env["WEBHOOK_RETRY_SCHEDULE"] == "1,1,1,1,1,1,1"  # the fixture's override
    settings = Settings.from_environment()
    assert settings.table_name == local_cloud.table_name
    assert settings.retry_schedule == [1.0] * 7
    assert settings.allow_private_targets


def test_every_template_function_is_registered(local_cloud: Any, template: dict[str, Any]) -> None:
    functions = _resources(template, "AWS::Serverless::Function")
    assert set(local_cloud.deployment.functions) == set(functions)
    for logical_id, function in local_cloud.deployment.functions.items():
        assert local_cloud.registry.get(function.arn) is function
        assert local_cloud.registry.get(logical_id) is function
        code_uri = functions[logical_id]["Properties"].get("CodeUri")
        if code_uri:  # (a container image function runs from its Dockerfile's folder)
            assert function.code_dir == (ROOT / code_uri).resolve()


def test_health_through_the_stack(local_cloud: Any) -> None:
    if local_cloud.api_error:
        pytest.fail(f"the API is unavailable: {local_cloud.api_error}")
    answer = httpx.get(f"{local_cloud.api_url}/public/v1/health", timeout=10)
    assert answer.status_code == 200
    assert answer.json()["status"] == "ok"


def test_health_fails_when_dynamodb_is_unreachable(local_cloud: Any, aws: Any) -> None:
    with local_cloud.dynamodb_outage():
        with pytest.raises(aws.dynamodb.exceptions.ClientError) as info:
            aws.dynamodb.describe_table(TableName=local_cloud.table_name)
        assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
        if local_cloud.api_error is None:
            answer = httpx.get(f"{local_cloud.api_url}/public/v1/health", timeout=30)
            assert answer.status_code == 503, answer.text
    assert aws.dynamodb.describe_table(TableName=local_cloud.table_name)["Table"]


def test_seeded_demo_data(local_cloud: Any, aws: Any) -> None:
    if local_cloud.org_id is None:
        pytest.skip("runhook_dev.admin.bootstrap_demo is not available")
    assert local_cloud.admin_api_key  # in memory: always a fresh key
    assert local_cloud.demo_task_id
    answer = httpx.get(
        f"{local_cloud.api_url}/public/v1/tasks/{local_cloud.demo_task_id}",
        headers={"Authorization": f"Bearer {local_cloud.admin_api_key}"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text


def test_deploying_again_is_idempotent(local_cloud: Any, aws: Any) -> None:
    key = {"pk": {"S": "LOCALCLOUD#idempotent"}, "sk": {"S": "X"}}
    aws.dynamodb.put_item(TableName=local_cloud.table_name, Item={**key, "v": {"S": "kept"}})
    again = Deployer(
        load_template(ROOT / "template.yaml"),
        ROOT,
        local_cloud.client,
        FunctionRegistry(),  # leave the running registry alone
        {"Stage": "local", "PublicBaseUrl": local_cloud.api_url},
    ).deploy()
    assert {k: q.url for k, q in again.queues.items()} == local_cloud.queue_urls
    assert list(again.tables.values()) == [local_cloud.table_name]
    # Both run machines (Standard, and Express for short runs: issue 16), the same ARNs.
    assert again.state_machines == local_cloud.deployment.state_machines
    assert local_cloud.state_machine_arn == again.state_machines.get("RunStateMachine", "")
    item = aws.dynamodb.get_item(TableName=local_cloud.table_name, Key=key)["Item"]
    assert item["v"]["S"] == "kept"


def test_sessions_reach_the_cloud_without_the_environment(local_cloud: Any) -> None:
    """`cloud.session()` clients default to the AWS endpoint: no AWS_ENDPOINT_URL needed."""
    sqs = local_cloud.session().client("sqs")
    assert sqs.meta.endpoint_url == local_cloud.aws_endpoint_url
    urls = sqs.list_queues(QueueNamePrefix="runhook-local")["QueueUrls"]
    assert local_cloud.queue_urls["DeliveriesQueue"] in urls
