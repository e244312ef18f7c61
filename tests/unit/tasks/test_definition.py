"""Task definitions are validated on save with every problem listed."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from runhook.tasks.definition import input_defaults, validate_definition, validate_inputs
from tests.support.examples import load_example

# The task example of the public API contract (docs/api-contract.md), from examples/tasks/.
CONTRACT_EXAMPLE: dict[str, Any] = load_example()


def test_the_contract_example_is_valid() -> None:
    definition, errors = validate_definition(copy.deepcopy(CONTRACT_EXAMPLE))
    assert errors == []
    assert definition is not None
    steps = definition.document()["steps"]  # the JSON the API shows and the table stores
    assert [s["id"] for s in steps] == ["fetch", "total", "cool_down", "approve"]
    assert steps[0]["retry"]["maxAttempts"] == 3


def test_every_problem_is_listed() -> None:
    bad = copy.deepcopy(CONTRACT_EXAMPLE)
    bad["inputs"] = {"type": "object", "properties": {"x": {"type": "no-such-type"}}}
    bad["steps"] = [
        {"id": "Fetch", "type": "http", "url": "https://x/{{ inputs.a "},
        {"id": "t", "type": "transform", "values": {"a": "steps.[["}},
        {"id": "t", "type": "log", "message": "ok"},
        {"id": "k", "type": "teleport"},
        {"id": "w", "type": "wait"},
    ]
    bad["outputs"] = {"o": "a..b"}
    definition, errors = validate_definition(bad)
    assert definition is None
    paths = {e["path"] for e in errors}
    assert "inputs" in paths
    assert "steps[0].id" in paths  # not snake_case
    assert "steps[0].url" in paths  # template syntax
    assert "steps[1].values.a" in paths  # JMESPath
    assert "steps[2].id" in paths  # duplicate
    assert "steps[3].type" in paths  # unknown kind
    assert any(p.startswith("steps[4]") for p in paths)  # wait needs seconds or until
    assert "outputs.o" in paths


@pytest.mark.parametrize(
    "raw",
    [
        None,
        [],
        "task",
        {"steps": []},
        {"name": "x", "steps": [{"id": "a", "type": "log", "message": "m", "extra": 1}]},
    ],
)
def test_malformed_definitions_are_refused(raw: Any) -> None:
    definition, errors = validate_definition(raw)
    assert definition is None and errors


def test_defaults_merge_and_inputs_validate() -> None:
    schema = CONTRACT_EXAMPLE["inputs"]
    assert input_defaults(schema) == {"currency": "EUR"}
    assert validate_inputs(schema, {"orderId": "48219", "currency": "EUR"}) == []
    problems = validate_inputs(schema, {"currency": 5})
    assert {p["message"] for p in problems} == {
        "'orderId' is a required property",
        "5 is not of type 'string'",
    }
