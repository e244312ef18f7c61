"""The Express run machine (issue 16): generated from the Standard one, wired like it."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "express_asl", ROOT / "scripts" / "express_asl.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_express_definition_is_generated_from_the_standard_one() -> None:
    """Fails when run.asl.json changed and `python scripts/express_asl.py --write` was not run."""
    script = _script()
    assert script.main(["--check"]) == 0
    committed = (ROOT / "statemachines" / "run-express.asl.json").read_text(encoding="utf-8")
    assert committed == script.rendered()


def test_the_express_definition_is_the_standard_one_minus_the_callback() -> None:
    standard = json.loads((ROOT / "statemachines" / "run.asl.json").read_text(encoding="utf-8"))
    express = _script().express_definition(standard)
    assert set(standard["States"]) - set(express["States"]) == {"Approval"}
    text = json.dumps(express)
    assert "waitForTaskToken" not in text and '"Approval"' not in text
    for name, state in express["States"].items():
        if name != "Route":
            assert state == standard["States"][name]
    kinds = [c.get("StringEquals") for c in express["States"]["Route"]["Choices"]]
    assert "approval" not in kinds and "wait" in kinds and "compute" in kinds


def test_the_template_declares_the_express_machine_its_log_and_its_callers(
    template: dict[str, Any],
) -> None:
    resources = template["Resources"]
    machine = resources["ExpressRunStateMachine"]["Properties"]
    standard = resources["RunStateMachine"]["Properties"]
    assert machine["Type"] == "EXPRESS"
    assert machine["DefinitionUri"] == "statemachines/run-express.asl.json"
    assert machine["DefinitionSubstitutions"] == standard["DefinitionSubstitutions"]
    assert machine["Logging"]["Level"] == {"Ref": "ExpressLogLevel"}
    assert machine["Logging"]["IncludeExecutionData"] is False
    group = machine["Logging"]["Destinations"][0]["CloudWatchLogsLogGroup"]["LogGroupArn"]
    assert group == {"Fn::GetAtt": ["ExpressRunStateMachineLogGroup", "Arn"]}
    for caller in ("ApiFunction", "ScheduledRunFunction", "SweeperFunction"):
        env = resources[caller]["Properties"]["Environment"]["Variables"]
        assert env["EXPRESS_STATE_MACHINE_ARN"] == {"Ref": "ExpressRunStateMachine"}, caller


def test_the_express_log_level_is_a_parameter_that_logs_errors_only_by_default(
    template: dict[str, Any],
) -> None:
    """Every event of every execution (ALL) is CloudWatch Logs ingestion on every run; by
    default only failures are logged, a successful run's history being runhook's own records."""
    parameter = template["Parameters"]["ExpressLogLevel"]
    assert parameter["Type"] == "String"
    assert parameter["Default"] == "ERROR"
    assert parameter["AllowedValues"] == ["ALL", "ERROR", "FATAL", "OFF"]
    assert "ERROR" in parameter["Description"] and "ALL" in parameter["Description"]
    standard = template["Resources"]["RunStateMachine"]["Properties"]["Logging"]
    assert standard["Level"] == "ERROR"  # the Standard machine keeps its history in the service


def test_step_record_packs_are_a_parameter_every_function_gets(template: dict[str, Any]) -> None:
    """Packed step records are on by default and can be turned off for an upgrade from,
    or a rollback to, a release that reads one item per record (docs/operations.md)."""
    parameter = template["Parameters"]["StepRecordPacks"]
    assert (parameter["Default"], parameter["AllowedValues"]) == ("on", ["on", "off"])
    env = template["Globals"]["Function"]["Environment"]["Variables"]
    assert env["STEP_RECORD_PACKS"] == {"Ref": "StepRecordPacks"}


def test_auth_cache_seconds_is_a_parameter_of_the_api(template: dict[str, Any]) -> None:
    """Issue 16: how long an API container remembers a verified key (0: not at all)."""
    parameter = template["Parameters"]["AuthCacheSeconds"]
    assert (parameter["Type"], parameter["Default"]) == ("Number", 5)
    assert (parameter["MinValue"], parameter["MaxValue"]) == (0, 300)
    env = template["Resources"]["ApiFunction"]["Properties"]["Environment"]["Variables"]
    assert env["AUTH_CACHE_SECONDS"] == {"Ref": "AuthCacheSeconds"}
