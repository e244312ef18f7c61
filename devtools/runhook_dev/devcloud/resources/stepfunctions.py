"""State machines from their ASL (DefinitionUri, Definition or DefinitionString).

DefinitionSubstitutions are resolved to local ARNs here: moto's own CloudFormation
ignores them and creates machines that never execute, so the local cloud never
deploys through it. Deploying again updates the existing machine's definition.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from runhook_dev.devcloud.cfn import ACCOUNT_ID, REGION
from runhook_dev.devcloud.deployment import str_value

if TYPE_CHECKING:
    from runhook_dev.devcloud.deployer import Deployer

log = logging.getLogger("devcloud.deployer")

ROLE_ARN = f"arn:aws:iam::{ACCOUNT_ID}:role/runhook-local"
SERVERLESS = "AWS::Serverless::StateMachine"


def machine_arn(deployer: Deployer, logical_id: str) -> Any:
    """The machine's ARN (creating it first when a reference needs it; a cycle gets the
    ARN its name will have)."""
    created = deployer.out.state_machines
    if logical_id not in created and not deployer.creating(logical_id):
        deployer.ensure(logical_id)
    if logical_id in created:
        return created[logical_id]
    return _arn(_machine_name(deployer, logical_id))


def machine_attributes(deployer: Deployer, logical_id: str) -> Mapping[str, Any]:
    arn = str(machine_arn(deployer, logical_id))
    return {"Arn": arn, "Name": arn.rsplit(":", 1)[-1]}


def create_state_machine(deployer: Deployer, logical_id: str) -> None:
    name = _machine_name(deployer, logical_id)
    definition = _definition(deployer, logical_id)
    if definition is None:
        return
    machine_type = str(
        deployer.resolver.resolve(deployer.props(logical_id).get("Type", "STANDARD"))
    )
    sfn = deployer.client("stepfunctions")
    arn = _arn(name)
    try:
        sfn.describe_state_machine(stateMachineArn=arn)
        sfn.update_state_machine(stateMachineArn=arn, definition=definition)
        log.info("updated state machine %s", name)
    except sfn.exceptions.StateMachineDoesNotExist:
        arn = sfn.create_state_machine(
            name=name, definition=definition, roleArn=ROLE_ARN, type=machine_type
        )["stateMachineArn"]
        log.info("created state machine %s", name)
    deployer.out.state_machines[logical_id] = arn


def _arn(name: str) -> str:
    return f"arn:aws:states:{REGION}:{ACCOUNT_ID}:stateMachine:{name}"


def _machine_name(deployer: Deployer, logical_id: str) -> str:
    key = "Name" if deployer.type_of(logical_id) == SERVERLESS else "StateMachineName"
    return deployer.name(logical_id, key)


def _definition(deployer: Deployer, logical_id: str) -> str | None:
    """The ASL text with the substitutions made; None (and a warning) when there is none."""
    raw = deployer.props(logical_id)
    substitutions = deployer.resolver.resolve(raw.get("DefinitionSubstitutions") or {})
    text = _definition_text(deployer, logical_id, raw)
    if text is None:
        return None
    for key, value in substitutions.items():
        text = text.replace("${" + str(key) + "}", str_value(value))
    leftover = sorted(set(re.findall(r"\$\{([A-Za-z0-9_]+)\}", text)))
    if leftover:
        deployer.warn(f"state machine {logical_id}: unresolved placeholders {leftover}")
    return text


def _definition_text(deployer: Deployer, logical_id: str, raw: Mapping[str, Any]) -> str | None:
    if "Definition" in raw:
        return json.dumps(deployer.resolver.resolve(raw["Definition"]))
    if "DefinitionString" in raw:
        return str(deployer.resolver.resolve(raw["DefinitionString"]))
    uri = raw.get("DefinitionUri")
    if not isinstance(uri, str):
        deployer.warn(f"state machine {logical_id}: no local definition (not created)")
        return None
    path = deployer.template_dir / uri
    if not path.is_file():
        deployer.warn(f"state machine {logical_id}: {path} does not exist (not created)")
        return None
    if path.suffix in (".yaml", ".yml"):
        import yaml

        return json.dumps(yaml.safe_load(path.read_text(encoding="utf-8")))
    return path.read_text(encoding="utf-8")
