"""The outbox as deployed: the table streams, one function publishes run events, and no
run-writing function may call PutEvents (docs/outbox.md)."""

from __future__ import annotations

import json
from typing import Any

# Who may put events on the bus: the outbox publisher (run events) and the webhook
# sender (its `webhook-endpoint.disabled` notice, not a run event).
MAY_PUT_EVENTS = {"PublisherFunction", "WebhookSendFunction"}


def _may_put_events(policies: Any) -> bool:
    """Whether a function's Policies name events:PutEvents (in any statement)."""
    return "events:PutEvents" in json.dumps(policies)


def test_only_the_publisher_and_the_sender_may_put_events(template: dict[str, Any]) -> None:
    functions = {
        lid: res
        for lid, res in template["Resources"].items()
        if res["Type"] == "AWS::Serverless::Function"
    }
    putting = {
        lid for lid, res in functions.items() if _may_put_events(res["Properties"].get("Policies"))
    }
    assert putting == MAY_PUT_EVENTS
    assert "StepFunction" in functions and "ApiFunction" in functions  # the check saw them


def test_the_publisher_reads_the_tables_stream_with_partial_failures(
    template: dict[str, Any],
) -> None:
    table = template["Resources"]["Table"]["Properties"]
    assert table["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    events = template["Resources"]["PublisherFunction"]["Properties"]["Events"]
    [source] = [e["Properties"] for e in events.values() if e["Type"] == "DynamoDB"]
    assert source["Stream"] == {"Fn::GetAtt": ["Table", "StreamArn"]}
    assert source["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert source["BisectBatchOnFunctionError"] is True
    # Retried while the bus is down, for as long as the stream keeps records (24 h).
    assert (source["MaximumRetryAttempts"], source["MaximumRecordAgeInSeconds"]) == (-1, 86400)
    assert source["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": ["AsyncFailuresQueue", "Arn"]
    }
    patterns = [json.loads(f["Pattern"]) for f in source["FilterCriteria"]["Filters"]]
    assert {p["dynamodb"]["NewImage"]["type"]["S"][0] for p in patterns} == {"run", "log"}
