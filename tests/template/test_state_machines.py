"""The state machine definitions (statemachines/*.asl.json) as AWS would take them.

cfn-lint and `sam validate --lint` do not read ASL loaded through DefinitionUri, so here each
definition gets its DefinitionSubstitutions resolved and is created in moto's Step Functions
(whose ASL parser, the one that executes locally, rejects bad ASL), plus the graph checks
AWS's validator makes and moto's parser does not (every transition lands on a state of its
scope, every state is reachable, every non-terminal state goes somewhere).

moto runs in a fresh interpreter under `mock_aws`: mock_aws resets every moto backend of its
process, which would wipe a local cloud running in the test process.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.template.conftest import Stand_ins

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_.:]+)\}")

# One moto for every definition (`moto_answers`) for the whole module, on one worker.
pytestmark = pytest.mark.xdist_group("state_machines")

_CREATE = r"""
import json, sys
import boto3
from moto import mock_aws

answers = {}
with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    for name, definition in json.load(sys.stdin).items():
        try:
            arn = sfn.create_state_machine(
                name=name,
                definition=definition,
                roleArn="arn:aws:iam::123456789012:role/runhook-test-states",
                type="STANDARD",
            )["stateMachineArn"]
            described = sfn.describe_state_machine(stateMachineArn=arn)
            answers[name] = {"ok": True, "definition": described["definition"]}
        except Exception as exc:
            answers[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
print(json.dumps(answers))
"""


def create_in_moto(definitions: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Create each named definition in moto (one fresh interpreter); moto's answer for each."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")  # noqa: S106
    result = subprocess.run(
        [sys.executable, "-c", _CREATE],
        input=json.dumps(definitions),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    answers: dict[str, dict[str, Any]] = json.loads(result.stdout.strip().splitlines()[-1])
    return answers


def graph_problems(scope: dict[str, Any], where: str = "") -> list[str]:
    """Transitions, reachability and terminals of one States scope (and nested ones)."""
    states: dict[str, Any] = scope.get("States", {})
    problems: list[str] = []
    start = scope.get("StartAt")
    if start not in states:
        return [f"{where}StartAt {start!r} is not a state"]
    edges: dict[str, list[str]] = {}
    for name, state in states.items():
        targets = [state["Next"]] if "Next" in state else []
        targets += [c["Next"] for c in state.get("Choices", []) if "Next" in c]
        targets += [state["Default"]] if "Default" in state else []
        targets += [c["Next"] for c in state.get("Catch", []) if "Next" in c]
        edges[name] = targets
        for target in targets:
            if target not in states:
                problems.append(f"{where}{name} -> {target!r}: no such state")
        terminal = state.get("Type") in {"Choice", "Succeed", "Fail"} or state.get("End")
        if not terminal and "Next" not in state:
            problems.append(f"{where}{name} has neither Next nor End")
        for index, branch in enumerate(state.get("Branches", [])):
            problems += graph_problems(branch, f"{where}{name}.Branches[{index}].")
        for key in ("ItemProcessor", "Iterator"):
            if key in state:
                problems += graph_problems(state[key], f"{where}{name}.{key}.")
    seen, todo = set(), [start]
    while todo:
        name = todo.pop()
        if name in seen or name not in states:
            continue
        seen.add(name)
        todo += edges.get(name, [])
    problems += [f"{where}{name} is unreachable" for name in states if name not in seen]
    return problems


def state_machines(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource["Properties"]
        for logical_id, resource in template["Resources"].items()
        if resource.get("Type") == "AWS::Serverless::StateMachine"
    }


def resolved_definition(props: dict[str, Any], stand_ins: Stand_ins) -> tuple[str, set[str]]:
    """The definition text with its substitutions applied, and the placeholders left over."""
    text = (ROOT / props["DefinitionUri"]).read_text()
    subs = {k: stand_ins.text(v) for k, v in (props.get("DefinitionSubstitutions") or {}).items()}
    missing = {m for m in PLACEHOLDER.findall(text) if m not in subs}
    return PLACEHOLDER.sub(lambda m: subs.get(m.group(1), m.group(0)), text), missing


def test_every_asl_file_belongs_to_a_state_machine(template: dict[str, Any]) -> None:
    files = sorted((ROOT / "statemachines").glob("*.asl.json"))
    assert files, "no statemachines/*.asl.json"
    used = {
        (ROOT / p["DefinitionUri"]).resolve()
        for p in state_machines(template).values()
        if isinstance(p.get("DefinitionUri"), str)
    }
    orphans = [f.name for f in files if f.resolve() not in used]
    assert not orphans, f"not used by template.yaml: {orphans}"


BAD_ASL = {
    "runhook-test-no-start-at": {"States": {"A": {"Type": "Pass", "End": True}}},
    "runhook-test-bad-type": {"StartAt": "A", "States": {"A": {"Type": "Banana", "End": True}}},
}


@pytest.fixture(scope="module")
def resolved(template: dict[str, Any], stand_ins: Stand_ins) -> dict[str, tuple[str, set[str]]]:
    """logical id -> (definition with substitutions applied, placeholders without one)."""
    machines = state_machines(template)
    assert machines, "template.yaml declares no AWS::Serverless::StateMachine"
    out = {}
    for logical_id, props in machines.items():
        assert isinstance(props.get("DefinitionUri"), str), f"{logical_id}: DefinitionUri"
        out[logical_id] = resolved_definition(props, stand_ins)
    return out


@pytest.fixture(scope="module")
def moto_answers(resolved: dict[str, tuple[str, set[str]]]) -> dict[str, dict[str, Any]]:
    """Every definition of the template, and the known-bad ones, created in one moto."""
    definitions = {f"runhook-test-{lid.lower()}": text for lid, (text, _) in resolved.items()}
    definitions.update({name: json.dumps(d) for name, d in BAD_ASL.items()})
    return create_in_moto(definitions)


def test_every_placeholder_has_a_substitution(resolved: dict[str, tuple[str, set[str]]]) -> None:
    for logical_id, (_, missing) in resolved.items():
        assert not missing, f"{logical_id}: no DefinitionSubstitutions for {sorted(missing)}"


def test_state_machine_graphs(resolved: dict[str, tuple[str, set[str]]]) -> None:
    for logical_id, (definition, _) in resolved.items():
        problems = graph_problems(json.loads(definition))
        assert not problems, f"{logical_id}: " + "; ".join(problems)


def test_state_machines_are_created_in_moto(
    resolved: dict[str, tuple[str, set[str]]], moto_answers: dict[str, dict[str, Any]]
) -> None:
    for logical_id, (definition, _) in resolved.items():
        out = moto_answers[f"runhook-test-{logical_id.lower()}"]
        assert out["ok"], f"{logical_id}: moto rejected the definition: {out.get('error')}"
        assert json.loads(out["definition"]) == json.loads(definition)


def test_moto_rejects_bad_asl(moto_answers: dict[str, dict[str, Any]]) -> None:
    """The emulator check can fail: moto's parser refuses what AWS would refuse."""
    for name in BAD_ASL:
        assert not moto_answers[name]["ok"], f"moto accepted {name}"


@pytest.mark.parametrize(
    ("definition", "problem"),
    [
        ({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Gone"}}}, "no such state"),
        (
            {
                "StartAt": "A",
                "States": {"A": {"Type": "Pass", "End": True}, "B": {"Type": "Pass", "End": True}},
            },
            "unreachable",
        ),
        ({"StartAt": "A", "States": {"A": {"Type": "Pass"}}}, "neither Next nor End"),
        ({"StartAt": "Z", "States": {"A": {"Type": "Pass", "End": True}}}, "StartAt"),
        (
            {
                "StartAt": "M",
                "States": {
                    "M": {
                        "Type": "Map",
                        "ItemProcessor": {"StartAt": "X", "States": {"X": {"Type": "Pass"}}},
                        "End": True,
                    }
                },
            },
            "M.ItemProcessor.X has neither Next nor End",
        ),
    ],
    ids=["dangling-Next", "unreachable", "no-End", "bad-StartAt", "nested-Map"],
)
def test_graph_checks_catch(definition: dict[str, Any], problem: str) -> None:
    """What moto's parser lets through (AWS does not): each graph check can fail."""
    problems = graph_problems(definition)
    assert any(problem in p for p in problems), problems
