"""S3 buckets (moto's S3, private) and CloudWatch log groups (moto's Logs)."""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runhook_dev.devcloud.deployer import Deployer

log = logging.getLogger("devcloud.deployer")


def bucket_name(deployer: Deployer, logical_id: str) -> Any:
    name = deployer.props(logical_id).get("BucketName")
    if name is not None:
        return str(deployer.resolver.resolve(name))
    return re.sub(r"[^a-z0-9-]", "-", f"{deployer.stack_name}-{logical_id}".lower())[:63]


def bucket_attributes(deployer: Deployer, logical_id: str) -> Mapping[str, Any]:
    name = bucket_name(deployer, logical_id)
    return {"Arn": f"arn:aws:s3:::{name}", "DomainName": f"{name}.s3.amazonaws.com"}


def create_bucket(deployer: Deployer, logical_id: str) -> None:
    """A private bucket; lifecycle rules and encryption are AWS's business."""
    s3 = deployer.client("s3")
    name = bucket_name(deployer, logical_id)
    try:
        s3.create_bucket(Bucket=name)
        log.info("created bucket %s", name)
    except (s3.exceptions.BucketAlreadyOwnedByYou, s3.exceptions.BucketAlreadyExists):
        pass


def create_log_group(deployer: Deployer, logical_id: str) -> None:
    logs = deployer.client("logs")
    name = deployer.name(logical_id, "LogGroupName")
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_group(logGroupName=name)
