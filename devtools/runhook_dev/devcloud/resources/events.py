"""EventBridge buses and rules; a rule's Lambda targets become SQS shims.

moto's PutEvents answers HTTP 500 for the whole call when a matching rule has a Lambda
target, so a Lambda target is replaced by an SQS queue the deployer creates (the shim)
and recorded as a `RuleShimSpec`: the local cloud drains it into the function with
Lambda's async-invoke semantics. Other targets (SQS, log groups, buses) are put as
they are; state machine targets are not delivered locally.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from runhook_dev.devcloud.deployment import RuleShimSpec
from runhook_dev.devcloud.resources.sqs import ensure_queue

if TYPE_CHECKING:
    from runhook_dev.devcloud.deployer import Deployer
    from runhook_dev.devcloud.registry import LocalFunction

log = logging.getLogger("devcloud.deployer")

SHIM_TARGET_ID = "local-shim"
_TARGET_INPUT_KEYS = ("Input", "InputPath", "InputTransformer")


def create_bus(deployer: Deployer, logical_id: str) -> None:
    name = deployer.name(logical_id, "Name")
    events = deployer.client("events")
    try:
        events.create_event_bus(Name=name)
        log.info("created event bus %s", name)
    except events.exceptions.ResourceAlreadyExistsException:
        pass
    deployer.out.buses[logical_id] = name


def bus_name(value: Any) -> str:
    """A bus name from a name or an ARN (default: the default bus)."""
    return str(value or "default").rsplit("/", 1)[-1]


def create_rule(deployer: Deployer, logical_id: str) -> None:
    props = deployer.resolved_props(logical_id)
    name = deployer.name(logical_id, "Name")
    bus = bus_name(props.get("EventBusName"))
    put_rule(deployer, name, bus, props.get("EventPattern"), props.get("ScheduleExpression"))
    native: list[dict[str, Any]] = []
    for target in props.get("Targets") or []:
        arn = str(target["Arn"])
        if arn.startswith("arn:aws:lambda:"):
            function = deployer.registry.get(arn)
            if function is None:
                deployer.warn(f"rule {name}: target {arn} is not a known function (skipped)")
                continue
            label = f"{logical_id}-{target.get('Id', 'lambda')}"
            shim(deployer, function, name, bus, label, target)
        elif arn.startswith("arn:aws:states:"):
            deployer.warn(f"rule {name}: state machine targets are not delivered locally")
        else:
            native.append({k: v for k, v in target.items() if k != "RoleArn"})
    if native:
        deployer.client("events").put_targets(Rule=name, EventBusName=bus, Targets=native)
    deployer.out.rules[logical_id] = name


def put_rule(deployer: Deployer, name: str, bus: str, pattern: Any, schedule: Any = None) -> None:
    request: dict[str, Any] = {"Name": name, "EventBusName": bus, "State": "ENABLED"}
    if pattern is not None:
        request["EventPattern"] = json.dumps(pattern)
    if schedule:
        request["ScheduleExpression"] = str(schedule)
        deployer.warn(f"rule {name}: schedules do not fire locally")
    deployer.client("events").put_rule(**request)


def shim(
    deployer: Deployer,
    function: LocalFunction,
    rule_name: str,
    bus: str,
    label: str,
    target: Mapping[str, Any],
) -> None:
    """Deliver the rule's events for `function` through a queue of its own."""
    safe = re.sub(r"[^A-Za-z0-9_-]", "-", f"{deployer.stack_name}-shim-{label}")[:80]
    queue = ensure_queue(deployer.client("sqs"), safe, {"VisibilityTimeout": "30"})
    shim_target: dict[str, Any] = {"Id": SHIM_TARGET_ID, "Arn": queue.arn}
    for key in _TARGET_INPUT_KEYS:
        if key in target:
            shim_target[key] = target[key]
    deployer.client("events").put_targets(Rule=rule_name, EventBusName=bus, Targets=[shim_target])
    deployer.out.rule_shims.append(
        RuleShimSpec(function.name, rule_name, bus, queue.url, queue.arn)
    )
