"""EventBridge Scheduler's schedule groups (moto) and the IAM roles they name, locally.

The group is created in moto so the API's CreateSchedule calls land somewhere real; the
role exists only as an ARN (moto's scheduler does not check it, and nothing local enforces
IAM). The local cloud fires the group's schedules itself (devcloud/task_schedules.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from runhook_dev.devcloud.cfn import ACCOUNT_ID, REGION

if TYPE_CHECKING:
    from runhook_dev.devcloud.deployer import Deployer


def group_name(deployer: Deployer, logical_id: str) -> Any:
    return deployer.name(logical_id, "Name")


def create_schedule_group(deployer: Deployer, logical_id: str) -> None:
    try:
        deployer.client("scheduler").create_schedule_group(Name=group_name(deployer, logical_id))
    except ClientError as exc:  # a redeploy in the same process: it exists
        if exc.response.get("Error", {}).get("Code") != "ConflictException":
            raise


def group_attributes(deployer: Deployer, logical_id: str) -> Mapping[str, Any]:
    name = group_name(deployer, logical_id)
    return {"Arn": f"arn:aws:scheduler:{REGION}:{ACCOUNT_ID}:schedule-group/{name}"}


def role_name(deployer: Deployer, logical_id: str) -> Any:
    return deployer.name(logical_id, "RoleName")


def role_attributes(deployer: Deployer, logical_id: str) -> Mapping[str, Any]:
    name = role_name(deployer, logical_id)
    return {"Arn": f"arn:aws:iam::{ACCOUNT_ID}:role/{name}", "RoleId": name}
