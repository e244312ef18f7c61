"""`ResourceKind`: everything the deployer knows about one CloudFormation resource type."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from runhook_dev.devcloud.cfn import ACCOUNT_ID, REGION

if TYPE_CHECKING:
    from runhook_dev.devcloud.deployer import Deployer

Step = Callable[["Deployer", str], None]
Ref = Callable[["Deployer", str], Any]
Attributes = Callable[["Deployer", str], Mapping[str, Any]]

LAST = 99  # the deploy position of kinds with nothing to create


def logical_id_ref(deployer: Deployer, logical_id: str) -> Any:
    return logical_id


def no_attributes(deployer: Deployer, logical_id: str) -> Mapping[str, Any]:
    return {}


@dataclass(frozen=True)
class ResourceKind:
    """How one resource type is deployed locally, and what `Ref`/`Fn::GetAtt` give for it."""

    order: int = LAST  # deploy position: lower first (tables last, DynamoDB Local boots)
    create: Step | None = None  # None: nothing to create locally
    ref: Ref = logical_id_ref
    attributes: Attributes = no_attributes  # Fn::GetAtt names → values
    wire: Step | None = None  # a second pass once every resource exists (function events)


def named(prop: str) -> Ref:
    """`Ref` is the name in `prop`, or `<stack>-<logical id>` when the template gives none."""

    def ref(deployer: Deployer, logical_id: str) -> Any:
        return deployer.name(logical_id, prop)

    return ref


def arn_attributes(pattern: str, *, with_name: bool = False) -> Attributes:
    """`Fn::GetAtt X.Arn` from the `Ref` name: `pattern` has {region}, {account}, {name}."""

    def attributes(deployer: Deployer, logical_id: str) -> Mapping[str, Any]:
        name = deployer.ref(logical_id)
        values = {"Arn": pattern.format(region=REGION, account=ACCOUNT_ID, name=name)}
        if with_name:
            values["Name"] = name
        return values

    return attributes
