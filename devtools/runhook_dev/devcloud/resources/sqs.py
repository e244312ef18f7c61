"""SQS queues with their attributes and redrive policies (moto's SQS)."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from runhook_dev.devcloud.cfn import ACCOUNT_ID, REGION, TemplateError
from runhook_dev.devcloud.deployment import Queue, str_value

if TYPE_CHECKING:
    from runhook_dev.devcloud.deployer import Deployer

log = logging.getLogger("devcloud.deployer")

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
_JSON_ATTRIBUTES = ("RedrivePolicy", "RedriveAllowPolicy")


def create_queue(deployer: Deployer, logical_id: str) -> None:
    props = deployer.resolved_props(logical_id)
    fifo = str(props.get("FifoQueue", "")).lower() == "true"
    name = str(props.get("QueueName") or f"{deployer.stack_name}-{logical_id}")
    if fifo and not name.endswith(".fifo"):
        name += ".fifo"
    attributes = {key: str_value(props[key]) for key in _QUEUE_ATTRIBUTES if key in props}
    for key in _JSON_ATTRIBUTES:
        if key in props:
            attributes[key] = json.dumps(props[key])
    deployer.out.queues[logical_id] = ensure_queue(
        deployer.client("sqs"), name, attributes, logical_id
    )


def ensure_queue(sqs: Any, name: str, attributes: Mapping[str, str], logical_id: str = "") -> Queue:
    """Create the queue, or update the attributes of the one that exists."""
    try:
        url = sqs.create_queue(QueueName=name, Attributes=dict(attributes))["QueueUrl"]
        log.info("created queue %s", name)
    except sqs.exceptions.QueueNameExists:
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        changeable = {k: v for k, v in attributes.items() if k != "FifoQueue"}
        if changeable:
            sqs.set_queue_attributes(QueueUrl=url, Attributes=changeable)
    arn = f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{name}"
    return Queue(logical_id or name, name, url, arn)


def queue(deployer: Deployer, logical_id: str) -> Queue:
    """The queue of `logical_id`, created first if a reference needs it early."""
    if logical_id not in deployer.out.queues:
        deployer.ensure(logical_id)
    if logical_id not in deployer.out.queues:
        raise TemplateError(f"queue {logical_id} is part of a reference cycle")
    return deployer.out.queues[logical_id]


def queue_url(deployer: Deployer, logical_id: str) -> Any:
    return queue(deployer, logical_id).url


def queue_attributes(deployer: Deployer, logical_id: str) -> Mapping[str, Any]:
    found = queue(deployer, logical_id)
    return {"Arn": found.arn, "QueueName": found.name, "QueueUrl": found.url}
