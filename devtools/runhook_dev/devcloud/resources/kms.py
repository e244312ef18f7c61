"""KMS keys (moto's KMS): the secrets key (template.yaml `SecretsKey`).

moto gives a new key a random id, and `Ref`/`Fn::GetAtt` must be known before (and
without) asking moto, so the local key is reached through an alias named after the
stack and the logical id: both `Ref` and `Arn` give the alias ARN, which KMS (and S3's
SSE-KMS) accept wherever a key id is expected. A restarted local cloud finds the alias
and makes no second key.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from runhook_dev.devcloud.cfn import ACCOUNT_ID, REGION

if TYPE_CHECKING:
    from runhook_dev.devcloud.deployer import Deployer

log = logging.getLogger("devcloud.deployer")


def alias_name(deployer: Deployer, logical_id: str) -> str:
    return "alias/" + re.sub(r"[^A-Za-z0-9/_-]", "-", f"{deployer.stack_name}-{logical_id}")


def key_ref(deployer: Deployer, logical_id: str) -> Any:
    return f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:{alias_name(deployer, logical_id)}"


def key_attributes(deployer: Deployer, logical_id: str) -> Mapping[str, Any]:
    ref = key_ref(deployer, logical_id)
    return {"Arn": ref, "KeyId": ref}


def create_key(deployer: Deployer, logical_id: str) -> None:
    kms = deployer.client("kms")
    alias = alias_name(deployer, logical_id)
    known = {a["AliasName"] for a in kms.list_aliases().get("Aliases", [])}
    if alias in known:
        return
    props = deployer.resolved_props(logical_id)
    key_id = kms.create_key(Description=str(props.get("Description", logical_id)))["KeyMetadata"][
        "KeyId"
    ]
    kms.create_alias(AliasName=alias, TargetKeyId=key_id)
    log.info("created KMS key %s (%s)", key_id, alias)
