"""The Express machine's log group in the cost model: only what its log level logs is billed."""

from __future__ import annotations

import pytest

from benchmarks import cost
from benchmarks.calls import Usage

# An Express run of two compute steps that succeeded, as GetExecutionHistory lists it.
SUCCEEDED = [
    "ExecutionStarted",
    "ChoiceStateEntered",
    "ChoiceStateExited",
    "TaskStateEntered",
    "TaskScheduled",
    "TaskStarted",
    "TaskSucceeded",
    "TaskStateExited",
    "TaskStateEntered",
    "LambdaFunctionScheduled",
    "LambdaFunctionStarted",
    "LambdaFunctionSucceeded",
    "TaskStateExited",
    "WaitStateEntered",
    "WaitStateExited",
    "PassStateEntered",
    "PassStateExited",
    "SucceedStateEntered",
    "SucceedStateExited",
    "ExecutionSucceeded",
]
# A step that failed once and was retried (the run still completes), then an execution that failed.
RETRIED = ["TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskFailed", "TaskScheduled"]
FAILED = ["TaskStateEntered", "LambdaFunctionFailed", "FailStateEntered", "ExecutionFailed"]


def _logged(level: str, events: list[str]) -> list[str]:
    return [event for event in events if cost.logs_event(level, event)]


def test_all_logs_every_event_and_off_none() -> None:
    for events in (SUCCEEDED, RETRIED, FAILED, ["SomeFutureEvent"]):
        assert _logged("ALL", events) == events
        assert _logged("OFF", events) == []


def test_error_logs_only_failure_events_so_a_successful_run_logs_nothing() -> None:
    assert _logged("ERROR", SUCCEEDED) == []
    assert _logged("ERROR", RETRIED) == ["TaskFailed"]
    assert _logged("ERROR", FAILED) == FAILED[1:]
    for event in (
        "ExecutionAborted",
        "ExecutionTimedOut",
        "LambdaFunctionScheduleFailed",
        "LambdaFunctionStartFailed",
        "LambdaFunctionTimedOut",
        "TaskStartFailed",
        "TaskSubmitFailed",
        "TaskTimedOut",
        "TaskStateAborted",
        "WaitStateAborted",
        "MapStateFailed",
        "ParallelStateFailed",
    ):
        assert cost.logs_event("ERROR", event), event


def test_fatal_logs_only_the_end_of_an_execution_that_failed_timed_out_or_was_aborted() -> None:
    ends = ["ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted"]
    assert _logged("FATAL", SUCCEEDED + RETRIED + FAILED + ends) == ["ExecutionFailed", *ends]
    assert cost.FATAL_EVENT_TYPES < cost.ERROR_EVENT_TYPES


def test_an_unknown_level_is_refused() -> None:
    with pytest.raises(ValueError, match="INFO"):
        cost.logs_event("INFO", "ExecutionFailed")


def test_the_cost_model_counts_the_level_the_template_deploys_by_default() -> None:
    """template.yaml's ExpressLogLevel default, through the machine's Logging.Level."""
    assert cost.express_log_level() == "ERROR"


def test_an_express_cost_table_says_which_level_its_log_bytes_count() -> None:
    scenario = cost.Scenario("AX", "AX: 5 compute steps, Express", {})
    scenario.usages = [Usage(sfn_express_requests=1, log_bytes=400)] * 2
    scenario.log_level = "ERROR"
    scenario.express_log_events = [(0, 40), (2, 40)]

    notes = cost._cost_table(scenario, "d").notes
    comparison = cost._comparison_table(
        [
            *(cost.Scenario(key, key, {}, usages=[Usage()]) for key in ("A", "B", "BX")),
            scenario,
        ]
    ).notes

    express = [note for note in notes if "Express machine's log group" in note]
    assert len(express) == 1
    assert "at level ERROR" in express[0] and "1 of 40 history events per run" in express[0]
    assert "ALL would log every one, 15.6 KB per run" in express[0]
    assert any("log level, ERROR" in note and "AX 1 of 40" in note for note in comparison)
