"""Deploy template.yaml into the local cloud through the normal AWS APIs.

Creates, with boto3 pointed at the dispatcher: DynamoDB tables (the template's own
key schema, indexes and TTL), SQS queues (with redrive policies), EventBridge buses
and rules, log groups, S3 buckets, state machines (DefinitionUri +
DefinitionSubstitutions resolved to local ARNs) and the function registry (Handler +
CodeUri, Environment, EventInvokeConfig). Function ``Events`` become event source specs
that the local cloud turns into pollers: SQS → `SqsEventSource`, EventBridgeRule → an
SQS shim queue as the rule's target + `RuleShim`.

What each resource type needs lives in one table, `resources.RESOURCE_KINDS`; the
`Deployer` walks the template in the table's order and is the context the kinds work
with (names, resolved properties, clients, the deployment so far, warnings).

Deploying again is idempotent: existing tables are kept (missing GSIs are added),
queues and buses are reused, state machines are updated.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from runhook_dev.devcloud.cfn import Resolver, TemplateError, parameter_defaults
from runhook_dev.devcloud.deployment import Deployment, Queue, RuleShimSpec, SqsSourceSpec
from runhook_dev.devcloud.registry import FunctionRegistry, LocalFunction
from runhook_dev.devcloud.resources import RESOURCE_KINDS, UNKNOWN, ResourceKind

log = logging.getLogger("devcloud.deployer")

ClientFactory = Callable[[str], Any]

__all__ = ["Deployer", "Deployment", "Queue", "RuleShimSpec", "SqsSourceSpec"]


class Deployer:
    """Creates the resources of one template in the local cloud."""

    def __init__(
        self,
        template: Mapping[str, Any],
        template_dir: Path,
        client: ClientFactory,
        registry: FunctionRegistry,
        parameters: Mapping[str, str] | None = None,
        stack_name: str = "runhook-local",
        wait_dynamodb: Callable[[], None] | None = None,
    ) -> None:
        self.template = template
        self.template_dir = template_dir
        self.client = client
        self.registry = registry
        self.stack_name = stack_name
        self._wait_dynamodb = wait_dynamodb
        self.resources: dict[str, dict[str, Any]] = dict(template.get("Resources") or {})
        params = parameter_defaults(template)
        params.update(parameters or {})
        unknown = set(parameters or {}) - set((template.get("Parameters") or {}).keys())
        for name in sorted(unknown):
            log.debug("parameter %s is not declared by the template (ignored)", name)
            params.pop(name, None)
        self.resolver = Resolver(template, params, self.ref, self.get_att, stack_name)
        self.out = Deployment()
        self._creating: set[str] = set()
        self._done: set[str] = set()

    def deploy(self) -> Deployment:
        logical_ids = sorted(
            (lid for lid in self.resources if not self._condition_false(lid)),
            key=lambda lid: self.kind(lid).order,
        )
        for logical_id in logical_ids:
            self.ensure(logical_id)
        for logical_id in logical_ids:
            wire = self.kind(logical_id).wire
            if wire is not None:
                wire(self, logical_id)
        self.wait_for_dynamodb()
        self.out.environment = union_environment(self.out.functions)
        return self.out

    # -- what the resource kinds work with ------------------------------------------
    def resource(self, logical_id: str) -> dict[str, Any]:
        return self.resources[logical_id]

    def type_of(self, logical_id: str) -> str:
        return str(self.resources[logical_id].get("Type", ""))

    def kind(self, logical_id: str) -> ResourceKind:
        return RESOURCE_KINDS.get(self.type_of(logical_id), UNKNOWN)

    def props(self, logical_id: str) -> dict[str, Any]:
        """The resource's Properties as written (intrinsics unresolved)."""
        return dict(self.resources[logical_id].get("Properties") or {})

    def resolved_props(self, logical_id: str) -> dict[str, Any]:
        return dict(self.resolver.resolve(self.props(logical_id)))

    def function_globals(self) -> dict[str, Any]:
        return dict((self.template.get("Globals") or {}).get("Function") or {})

    def name(self, logical_id: str, prop: str) -> str:
        """The name in `prop`, or `<stack>-<logical id>` when the template gives none."""
        value = self.props(logical_id).get(prop)
        if value is None:
            return f"{self.stack_name}-{logical_id}"
        return str(self.resolver.resolve(value))

    def ensure(self, logical_id: str) -> None:
        """Create the resource unless it exists or is being created (a reference cycle)."""
        if logical_id in self._done or logical_id in self._creating:
            return
        self._creating.add(logical_id)
        try:
            create = self.kind(logical_id).create
            if create is None:
                log.debug(
                    "%s (%s): nothing to create locally", logical_id, self.type_of(logical_id)
                )
            else:
                create(self, logical_id)
            self._done.add(logical_id)
        finally:
            self._creating.discard(logical_id)

    def creating(self, logical_id: str) -> bool:
        return logical_id in self._creating

    def wait_for_dynamodb(self) -> None:
        """Block until DynamoDB Local answers (Java boots while moto's part is deployed)."""
        if self._wait_dynamodb is not None:
            self._wait_dynamodb()

    def warn(self, message: str) -> None:
        log.warning("%s", message)
        self.out.warnings.append(message)

    # -- Ref / Fn::GetAtt (the resolver's callbacks) --------------------------------------
    def ref(self, logical_id: str) -> Any:
        return self.kind(logical_id).ref(self, logical_id)

    def get_att(self, logical_id: str, attribute: str) -> Any:
        if logical_id not in self.resources:
            raise TemplateError(f"!GetAtt on unknown resource {logical_id!r}")
        values = self.kind(logical_id).attributes(self, logical_id)
        if attribute not in values:
            raise TemplateError(f"!GetAtt {logical_id}.{attribute} is not supported locally")
        return values[attribute]

    def _condition_false(self, logical_id: str) -> bool:
        condition = self.resources[logical_id].get("Condition")
        return bool(condition) and not self.resolver.condition(str(condition))


def union_environment(functions: Mapping[str, LocalFunction]) -> dict[str, str]:
    """Every function's variables together; a variable two functions set differently is an
    error while handlers are configured through os.environ (they share one process)."""
    union: dict[str, str] = {}
    owner: dict[str, str] = {}
    for logical_id, function in functions.items():
        for key, value in function.environment.items():
            if key in union and union[key] != value:
                raise TemplateError(
                    f"environment variable {key} differs between {owner[key]} "
                    f"({union[key]!r}) and {logical_id} ({value!r}); all handlers share "
                    "one process in the local cloud"
                )
            union[key] = value
            owner[key] = logical_id
    return union
