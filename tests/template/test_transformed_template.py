"""template.yaml after the SAM transform: the CloudFormation that a deploy really submits.

cfn-lint 1.x lints SAM resources by schema without expanding them, and `sam validate` does not
look at dependencies, so neither sees a dependency cycle that only exists between the
generated resources (functions' roles, the API's body, permissions), which CloudFormation
refuses at deploy time. Here the template is expanded by the SAM translator (from the SAM CLI's
own virtual environment, offline) and the result is linted and searched for cycles.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
SAM_PYTHON = ROOT / ".cache" / "sam-venv" / "bin" / "python"

# One SAM transform (`transformed`) for the whole module, on one worker.
pytestmark = pytest.mark.xdist_group("sam_transform")

_TRANSFORM = r"""
import json, sys
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


class NoManagedPolicies:  # the real loader asks IAM; the template names no managed policy
    def load(self):
        return {}


template = yaml_parse(open(sys.argv[1]).read())
for resource in template.get("Resources", {}).values():
    props = resource.get("Properties") or {}
    for key in ("CodeUri", "ContentUri", "DefinitionUri"):  # as `sam validate` does
        if isinstance(props.get(key), str) and not props[key].startswith("s3://"):
            props[key] = "s3://bucket/key"
    if props.get("PackageType") == "Image" and "ImageUri" not in props:  # sam validate too
        props["ImageUri"] = "123456789012.dkr.ecr.us-east-1.amazonaws.com/runhook:latest"
print(json.dumps(transform(template, {}, NoManagedPolicies()), default=str))
"""


@pytest.fixture(scope="module")
def transformed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    if not SAM_PYTHON.exists():
        pytest.fail(f"AWS SAM CLI's environment is missing ({SAM_PYTHON}): run `make install`")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["AWS_DEFAULT_REGION"] = "us-east-1"
    result = subprocess.run(
        [str(SAM_PYTHON), "-c", _TRANSFORM, str(TEMPLATE)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, f"SAM transform failed:\n{result.stderr}"
    cfn: dict[str, Any] = json.loads(result.stdout)
    return cfn


def _references(value: Any) -> set[str]:
    """Logical ids a value refers to (Ref, Fn::GetAtt, ${...} in Fn::Sub)."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= _references(item)
    elif isinstance(value, dict):
        for key, arg in value.items():
            if key == "Ref" and isinstance(arg, str):
                found.add(arg)
            elif key == "Fn::GetAtt":
                found.add(arg[0] if isinstance(arg, list) else str(arg).split(".", 1)[0])
            elif key == "Fn::Sub":
                text, local = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
                names = re.findall(r"\$\{([^}!][^}]*)\}", text)
                found |= {n.split(".", 1)[0] for n in names if n not in local}
                found |= _references(local)
            else:
                found |= _references(arg)
    return found


def dependency_cycles(resources: dict[str, Any]) -> list[list[str]]:
    graph: dict[str, set[str]] = {}
    for name, resource in resources.items():
        depends = resource.get("DependsOn", [])
        edges = _references(resource.get("Properties", {}))
        edges |= {depends} if isinstance(depends, str) else set(depends)
        graph[name] = {e for e in edges if e in resources}
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return cycles


def test_no_dependency_cycle_after_the_transform(transformed: dict[str, Any]) -> None:
    cycles = dependency_cycles(transformed["Resources"])
    assert not cycles, "CloudFormation would refuse: " + "; ".join(" -> ".join(c) for c in cycles)


def test_the_cycle_check_can_fail() -> None:
    resources = {
        "A": {"Properties": {"X": {"Fn::Sub": "${B.Arn}"}}},
        "B": {"Properties": {"Env": {"Ref": "C"}}},
        "C": {"Properties": {}, "DependsOn": "A"},
        "D": {"Properties": {"Fn::GetAtt": ["A", "Arn"]}},
    }
    assert dependency_cycles(resources) == [["A", "B", "C", "A"]]


@pytest.mark.slow
def test_cfn_lint_passes_on_the_transformed_template(
    transformed: dict[str, Any], cfn_lint: str, tmp_path: Path
) -> None:
    """Errors only: the warnings there are about SAM's own generated code."""
    path = tmp_path / "transformed.json"
    path.write_text(json.dumps(transformed))
    result = subprocess.run(
        [cfn_lint, "--format", "parseable", "--non-zero-exit-code", "error", str(path)],
        capture_output=True,
        text=True,
        timeout=180,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_api_route_invokes_api_function(
    template: dict[str, Any], transformed: dict[str, Any]
) -> None:
    """The HTTP API's integration names ApiFunction by name (see template.yaml): the name must
    be ApiFunction's, qualified by its published alias (the one CodeDeploy shifts, so a
    canary really gets a share of the API's traffic), and SAM must still grant API Gateway
    the right to invoke that alias."""
    function = template["Resources"]["ApiFunction"]["Properties"]
    function_name, alias = function["FunctionName"], function["AutoPublishAlias"]
    assert set(function_name) == {"Fn::Sub"}, function_name
    paths = template["Resources"]["HttpApi"]["Properties"]["DefinitionBody"]["paths"]
    uris = [
        op["x-amazon-apigateway-integration"]["uri"]["Fn::Sub"]
        for methods in paths.values()
        for op in methods.values()
        if isinstance(op, dict) and "x-amazon-apigateway-integration" in op
    ]
    assert uris, "the HTTP API has no Lambda integration"
    for uri in uris:
        assert f":function:{function_name['Fn::Sub']}:{alias}/invocations" in uri, uri
    permissions = [
        r["Properties"]
        for r in transformed["Resources"].values()
        if r["Type"] == "AWS::Lambda::Permission"
        and r["Properties"].get("FunctionName") == {"Ref": f"ApiFunctionAlias{alias}"}
    ]
    assert any(p["Principal"] == "apigateway.amazonaws.com" for p in permissions), permissions
