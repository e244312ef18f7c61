"""The local cloud's Lambda event filtering (FilterCriteria): moto's EventBridge pattern
matching applied to stream records in Lambda's event shape; ANY filter passes a record."""

from __future__ import annotations

import json
from typing import Any

import pytest

from runhook_dev.devcloud.event_filters import (
    FilterCriteriaError,
    RecordFilter,
    compile_filter_criteria,
)
from runhook_dev.devcloud.registry import FunctionRegistry
from runhook_dev.devcloud.streams import Checkpoints, StreamEventSource, StreamSourceSpec


def criteria(*patterns: dict[str, Any]) -> dict[str, Any]:
    return {"Filters": [{"Pattern": json.dumps(p)} for p in patterns]}


def record(name: str, number: str = "1", **image: str) -> dict[str, Any]:
    new = {attr: {"S": value} for attr, value in image.items()}
    return {"eventName": name, "dynamodb": {"SequenceNumber": number, "NewImage": new}}


def test_no_criteria_passes_every_record() -> None:
    assert compile_filter_criteria(None) == RecordFilter()
    assert RecordFilter().passes(record("REMOVE"))


def test_exact_values_and_exists_on_a_nested_attribute() -> None:
    only = compile_filter_criteria(
        criteria(
            {"dynamodb": {"NewImage": {"type": {"S": ["run"]}, "ev": {"S": [{"exists": True}]}}}}
        )
    )
    assert only.passes(record("MODIFY", type="run", ev="task-run.started"))
    assert not only.passes(record("MODIFY", type="run"))  # no `ev`
    assert not only.passes(record("MODIFY", type="delivery", ev="x"))  # wrong value
    assert not only.passes({"eventName": "REMOVE", "dynamodb": {"OldImage": {}}})


def test_exists_false_prefix_and_anything_but() -> None:
    absent = compile_filter_criteria(
        criteria({"dynamodb": {"NewImage": {"ev": {"S": [{"exists": False}]}}}})
    )
    assert absent.passes(record("INSERT", type="run"))
    assert not absent.passes(record("INSERT", ev="x"))
    prefix = compile_filter_criteria(
        criteria({"dynamodb": {"Keys": {"pk": {"S": [{"prefix": "RUN#"}]}}}})
    )
    keyed = {"eventName": "INSERT", "dynamodb": {"Keys": {"pk": {"S": "RUN#1"}}}}
    assert prefix.passes(keyed)
    assert not prefix.passes({"eventName": "INSERT", "dynamodb": {"Keys": {"pk": {"S": "ORG#1"}}}})
    but = compile_filter_criteria(criteria({"eventName": [{"anything-but": ["REMOVE"]}]}))
    assert but.passes(record("INSERT")) and not but.passes(record("REMOVE"))


def test_a_record_passes_when_any_filter_matches() -> None:
    either = compile_filter_criteria(
        criteria(
            {"dynamodb": {"NewImage": {"type": {"S": ["run"]}}}},
            {"eventName": ["INSERT"], "dynamodb": {"NewImage": {"type": {"S": ["log"]}}}},
        )
    )
    assert either.passes(record("MODIFY", type="run"))
    assert either.passes(record("INSERT", type="log"))
    assert not either.passes(record("MODIFY", type="log"))  # the second filter wants INSERT
    assert not either.passes(record("INSERT", type="attempt"))


@pytest.mark.parametrize(
    "bad",
    [
        {"Filters": [{"Pattern": "{}"}] * 6},  # Lambda allows 5
        {"Filters": [{"Pattern": "not json"}]},
        {"Filters": [{"Pattern": "[1]"}]},
        {"Filters": [{"Pattern": {"eventName": ["INSERT"]}}]},  # an object, not JSON text
        {"Filters": [{"Pattern": '{"eventName": "INSERT"}'}]},  # values must be lists
        ["INSERT"],
    ],
)
def test_criteria_lambda_would_reject_fail_the_deploy(bad: Any) -> None:
    with pytest.raises(FilterCriteriaError):
        compile_filter_criteria(bad)


def test_the_stream_source_sends_only_passing_records_and_skips_empty_batches() -> None:
    """What a mapping with FilterCriteria does with a batch (streams.py): dropped records
    are not sent; a batch with nothing left invokes nothing and counts as handled."""
    registry = FunctionRegistry()
    batches: list[list[str]] = []

    def handler(event: Any, context: Any) -> Any:
        batches.append([r["dynamodb"]["SequenceNumber"] for r in event["Records"]])
        return {"batchItemFailures": []}

    spec = StreamSourceSpec(
        function="fn",
        event_name="Stream",
        table_name="t",
        batch_size=100,
        report_batch_item_failures=True,
        record_filter=compile_filter_criteria(
            criteria({"dynamodb": {"NewImage": {"type": {"S": ["run"]}}}})
        ),
    )
    source = StreamEventSource(
        client=lambda service: None,
        registry=registry,
        function=registry.register("fn", handler),
        spec=spec,
        checkpoints=Checkpoints(None),
    )

    def numbered(number: str, kind: str) -> dict[str, Any]:
        return record("INSERT", number, type=kind)

    assert source.invoke([numbered("1", "delivery"), numbered("2", "run")], "arn") is True
    assert source.invoke([numbered("3", "attempt"), numbered("4", "step")], "arn") is True
    assert batches == [["2"]]
