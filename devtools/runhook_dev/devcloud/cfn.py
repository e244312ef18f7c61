"""Read a CloudFormation/SAM template and resolve its intrinsic functions locally.

The loader understands the short tags (`!Ref`, `!Sub`, `!GetAtt`, `!If`, ...). The
resolver evaluates intrinsics against parameter values, pseudo parameters and a
callback that gives the local physical value of a resource (`Ref` / `Fn::GetAtt`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
PARTITION = "aws"

# `!Tag value` → {"Fn::Tag": value} (Ref and Condition keep their long names).
_SHORT_TAGS = {
    "Ref": "Ref",
    "Condition": "Condition",
    "Sub": "Fn::Sub",
    "GetAtt": "Fn::GetAtt",
    "If": "Fn::If",
    "Not": "Fn::Not",
    "Equals": "Fn::Equals",
    "And": "Fn::And",
    "Or": "Fn::Or",
    "Join": "Fn::Join",
    "Select": "Fn::Select",
    "Split": "Fn::Split",
    "FindInMap": "Fn::FindInMap",
    "GetAZs": "Fn::GetAZs",
    "ImportValue": "Fn::ImportValue",
    "Base64": "Fn::Base64",
    "Cidr": "Fn::Cidr",
    "ToJsonString": "Fn::ToJsonString",
    "Length": "Fn::Length",
}

# A resolver returns this for AWS::NoValue; containers drop it.
NO_VALUE: Any = object()


class TemplateError(Exception):
    """The template uses something the local deployer cannot resolve."""


class _CfnLoader(yaml.SafeLoader):
    """A safe YAML loader that turns CloudFormation short tags into long-form dicts."""


def _make_constructor(name: str) -> Callable[[yaml.Loader, yaml.Node], dict[str, Any]]:
    def construct(loader: yaml.Loader, node: yaml.Node) -> dict[str, Any]:
        value: Any
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
            if name == "Fn::GetAtt" and isinstance(value, str):
                logical, _, attribute = value.partition(".")
                value = [logical, attribute]
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        elif isinstance(node, yaml.MappingNode):
            value = loader.construct_mapping(node, deep=True)
        else:  # pragma: no cover - yaml has no other node kinds
            raise TemplateError(f"unsupported node for !{name}")
        return {name: value}

    return construct


for _tag, _long in _SHORT_TAGS.items():
    _CfnLoader.add_constructor(f"!{_tag}", _make_constructor(_long))


def load_template(path: Path) -> dict[str, Any]:
    """Parse a template file (YAML or JSON) with the short intrinsic tags."""
    with path.open(encoding="utf-8") as handle:
        data = yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 - a SafeLoader subclass
    if not isinstance(data, dict) or "Resources" not in data:
        raise TemplateError(f"{path} is not a CloudFormation template (no Resources)")
    return data


def parameter_defaults(template: Mapping[str, Any]) -> dict[str, str]:
    """The template's parameter defaults, as strings (CloudFormation passes strings)."""
    values: dict[str, str] = {}
    for name, spec in (template.get("Parameters") or {}).items():
        if isinstance(spec, dict) and "Default" in spec:
            values[name] = str(spec["Default"])
    return values


_SUB_VAR = re.compile(r"\$\{([^}!][^}]*)\}")


class Resolver:
    """Evaluates intrinsic functions with local values.

    `ref` and `get_att` are callbacks for resources: `ref(logical_id)` and
    `get_att(logical_id, attribute)`. Parameters and pseudo parameters are handled here.
    """

    def __init__(
        self,
        template: Mapping[str, Any],
        parameters: Mapping[str, str],
        ref: Callable[[str], Any],
        get_att: Callable[[str, str], Any],
        stack_name: str = "runhook-local",
    ) -> None:
        self.template = template
        self.parameters = dict(parameters)
        self._ref = ref
        self._get_att = get_att
        self.pseudo: dict[str, Any] = {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Partition": PARTITION,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": stack_name,
            "AWS::StackId": (
                f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/{stack_name}/local"
            ),
            "AWS::NoValue": NO_VALUE,
            "AWS::NotificationARNs": [],
        }
        self._conditions: dict[str, bool] = {}

    # -- conditions -------------------------------------------------------------
    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            spec = (self.template.get("Conditions") or {}).get(name)
            if spec is None:
                raise TemplateError(f"unknown condition {name!r}")
            self._conditions[name] = bool(self.resolve(spec))
        return self._conditions[name]

    # -- values -----------------------------------------------------------------
    def ref(self, name: str) -> Any:
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        resources = self.template.get("Resources") or {}
        if name in resources:
            return self._ref(name)
        function, _, suffix = name.partition(".")
        if suffix == "Alias" and function in resources:
            return self._alias_arn(function, resources[function])
        raise TemplateError(f"!Ref to unknown name {name!r}")

    def _alias_arn(self, function: str, resource: Mapping[str, Any]) -> str:
        """SAM's `!Ref Function.Alias`: the function's ARN qualified by its AutoPublishAlias
        (the local cloud has no versions; the registry finds a function by qualified ARN)."""
        alias = (resource.get("Properties") or {}).get("AutoPublishAlias")
        if alias is None:
            raise TemplateError(f"!Ref {function}.Alias: {function} has no AutoPublishAlias")
        return f"{self._get_att(function, 'Arn')}:{self.resolve(alias)}"

    def resolve(self, value: Any) -> Any:
        """Resolve every intrinsic inside `value` (recursively)."""
        if isinstance(value, list):
            items = [self.resolve(item) for item in value]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self.ref(str(arg))
            if key == "Condition" and isinstance(arg, str):
                return self.condition(arg)
            if key.startswith("Fn::"):
                return self._function(key, arg)
        resolved = {key: self.resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not NO_VALUE}

    def _function(self, key: str, arg: Any) -> Any:
        if key == "Fn::Sub":
            return self._sub(arg)
        if key == "Fn::GetAtt":
            parts = arg.split(".", 1) if isinstance(arg, str) else list(arg)
            logical = str(self.resolve(parts[0]))
            attribute = str(self.resolve(parts[1]))
            return self._get_att(logical, attribute)
        if key == "Fn::If":
            name, when_true, when_false = arg
            return self.resolve(when_true if self.condition(name) else when_false)
        if key == "Fn::Not":
            return not bool(self.resolve(arg[0]))
        if key == "Fn::Equals":
            left, right = (self.resolve(item) for item in arg)
            return str(left) == str(right)
        if key == "Fn::And":
            return all(bool(self.resolve(item)) for item in arg)
        if key == "Fn::Or":
            return any(bool(self.resolve(item)) for item in arg)
        if key == "Fn::Join":
            sep, items = arg
            return str(sep).join(str(item) for item in self.resolve(items))
        if key == "Fn::Select":
            index, items = arg
            return self.resolve(items)[int(self.resolve(index))]
        if key == "Fn::Split":
            sep, text = arg
            return str(self.resolve(text)).split(str(sep))
        if key == "Fn::FindInMap":
            map_name, top, second = (self.resolve(item) for item in arg)
            return self.template["Mappings"][map_name][top][second]
        if key == "Fn::GetAZs":
            return [f"{REGION}a", f"{REGION}b", f"{REGION}c"]
        if key == "Fn::Base64":
            import base64

            return base64.b64encode(str(self.resolve(arg)).encode()).decode()
        if key == "Fn::ToJsonString":
            import json

            return json.dumps(self.resolve(arg), separators=(",", ":"))
        if key == "Fn::Length":
            return len(self.resolve(arg))
        raise TemplateError(f"{key} is not supported by the local deployer")

    def _sub(self, arg: Any) -> str:
        if isinstance(arg, list):
            text, variables = arg[0], {k: self.resolve(v) for k, v in arg[1].items()}
        else:
            text, variables = arg, {}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(variables[name])
            if "." in name and name.split(".", 1)[0] in (self.template.get("Resources") or {}):
                logical, attribute = name.split(".", 1)
                return str(self._get_att(logical, attribute))
            return str(self.ref(name))

        result = _SUB_VAR.sub(replace, str(text))
        return result.replace("${!", "${")
