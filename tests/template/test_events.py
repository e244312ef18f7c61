"""Every events/<function_dir>/*.json runs through its function, in-process, on the local cloud.

The convention (events/README.md): a sample lives in the folder named like the function's
folder under functions/, and is exactly what the trigger sends in AWS.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.template.conftest import FunctionSpec

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"

# What particular samples must answer, beyond the checks every sample of its kind gets.
EXPECTED_STATUS = {
    "api/health.json": 200,
    "api/list_tasks_without_key.json": 401,
}


def _spec_for(event_file: Path, functions: list[FunctionSpec]) -> FunctionSpec:
    dir_name = event_file.parent.name
    for spec in functions:
        if spec.dir_name == dir_name:
            return spec
    raise AssertionError(f"events/{dir_name}/ names no function folder of template.yaml")


def test_every_function_has_a_sample_and_every_sample_a_function(
    functions: list[FunctionSpec],
) -> None:
    folders = {p.name for p in EVENTS.iterdir() if p.is_dir()}
    names = {spec.dir_name for spec in functions}
    assert not folders - names, f"events/ folders with no function: {sorted(folders - names)}"
    empty = sorted(n for n in names if not list((EVENTS / n).glob("*.json")))
    assert not empty, f"functions without a sample event in events/<dir>/: {empty}"
    for file in EVENTS.glob("*/*.json"):
        assert isinstance(json.loads(file.read_text()), dict), f"{file} is not a JSON object"


def test_event_runs_through_its_function(
    event_file: Path, functions: list[FunctionSpec], local_cloud: Any
) -> None:
    spec = _spec_for(event_file, functions)
    function = local_cloud.registry.get(spec.logical_id)
    assert function is not None, f"the local cloud has no {spec.logical_id}"
    event = json.loads(event_file.read_text())
    result = local_cloud.registry.invoke(function, event)
    assert not result.error, f"{spec.logical_id} raised on {event_file.name}: {result.payload}"
    answer = result.payload
    key = event_file.relative_to(EVENTS).as_posix()
    if spec.is_api:
        assert isinstance(answer, dict) and "statusCode" in answer, answer
        assert answer["statusCode"] < 500, answer
        if key in EXPECTED_STATUS:
            assert answer["statusCode"] == EXPECTED_STATUS[key], answer
        json.loads(answer["body"])  # the API always answers JSON
    if "SQS" in spec.event_types:
        assert isinstance(answer, dict), answer
        assert isinstance(answer.get("batchItemFailures"), list), answer
    json.dumps(answer)  # Lambda serializes the answer: it must be JSON-able
