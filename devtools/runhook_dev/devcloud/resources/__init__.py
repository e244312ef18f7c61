"""The resource types the local deployer knows: one table, type → `ResourceKind`.

Each entry says when the type is deployed (`order`: buses and queues first, tables
last because DynamoDB Local may still be booting), how it is created, what `Ref` and
`Fn::GetAtt` give for it, and (functions) what is wired once everything exists. A type
missing from the table is left alone (a debug line), `Ref` gives its logical id, and
`Fn::GetAtt` on it is an error. Add a type: write its create function in a module here
and add one line.
"""

from __future__ import annotations

from runhook_dev.devcloud.cfn import ACCOUNT_ID, REGION
from runhook_dev.devcloud.resources import (
    dynamodb,
    events,
    functions,
    kms,
    scheduler,
    sqs,
    stepfunctions,
    storage,
)
from runhook_dev.devcloud.resources.kind import ResourceKind, arn_attributes, named

_FUNCTION_REF = named("FunctionName")
_STATE_MACHINE = ResourceKind(
    order=5,
    create=stepfunctions.create_state_machine,
    ref=stepfunctions.machine_arn,
    attributes=stepfunctions.machine_attributes,
)
_API = ResourceKind(ref=lambda deployer, logical_id: "local")  # uvicorn serves the API

RESOURCE_KINDS: dict[str, ResourceKind] = {
    "AWS::Events::EventBus": ResourceKind(
        order=1,
        create=events.create_bus,
        ref=named("Name"),
        attributes=arn_attributes(
            "arn:aws:events:{region}:{account}:event-bus/{name}", with_name=True
        ),
    ),
    "AWS::SQS::Queue": ResourceKind(
        order=2, create=sqs.create_queue, ref=sqs.queue_url, attributes=sqs.queue_attributes
    ),
    "AWS::S3::Bucket": ResourceKind(
        order=2,
        create=storage.create_bucket,
        ref=storage.bucket_name,
        attributes=storage.bucket_attributes,
    ),
    "AWS::KMS::Key": ResourceKind(
        order=1, create=kms.create_key, ref=kms.key_ref, attributes=kms.key_attributes
    ),
    "AWS::Logs::LogGroup": ResourceKind(
        order=3,
        create=storage.create_log_group,
        ref=named("LogGroupName"),
        attributes=arn_attributes("arn:aws:logs:{region}:{account}:log-group:{name}:*"),
    ),
    "AWS::Serverless::Function": ResourceKind(
        order=4,
        create=functions.create_function,
        ref=_FUNCTION_REF,
        attributes=functions.function_attributes,
        wire=functions.wire_events,
    ),
    "AWS::Lambda::Function": ResourceKind(
        ref=_FUNCTION_REF, attributes=functions.function_attributes
    ),
    "AWS::Serverless::StateMachine": _STATE_MACHINE,
    "AWS::StepFunctions::StateMachine": _STATE_MACHINE,
    "AWS::Events::Rule": ResourceKind(
        order=6,
        create=events.create_rule,
        ref=named("Name"),
        attributes=arn_attributes("arn:aws:events:{region}:{account}:rule/{name}"),
    ),
    "AWS::DynamoDB::Table": ResourceKind(
        order=7,
        create=dynamodb.create_table,
        ref=named("TableName"),
        attributes=dynamodb.table_attributes,
    ),
    "AWS::Serverless::LayerVersion": ResourceKind(
        ref=lambda deployer, logical_id: (
            f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:layer:{deployer.name(logical_id, 'LayerName')}:1"
        )
    ),
    "AWS::Serverless::HttpApi": _API,
    "AWS::Serverless::Api": _API,
    # Task schedules (docs/schedules.md): the group in moto; fired by task_schedules.py.
    "AWS::Scheduler::ScheduleGroup": ResourceKind(
        order=1,
        create=scheduler.create_schedule_group,
        ref=scheduler.group_name,
        attributes=scheduler.group_attributes,
    ),
    "AWS::IAM::Role": ResourceKind(ref=scheduler.role_name, attributes=scheduler.role_attributes),
}

UNKNOWN = ResourceKind()

__all__ = ["RESOURCE_KINDS", "UNKNOWN", "ResourceKind"]
