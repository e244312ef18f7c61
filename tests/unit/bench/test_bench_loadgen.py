"""The raw-DynamoDB baseline replays the API's own create-run transactions with fresh ids."""

from __future__ import annotations

import json

from benchmarks.loadgen import REQUEST_ID, RUN_ID, fill, make_template

RUN = "0b7d2c55-0f5e-4c1e-9b2a-2f6f1f1a0c01"
TASK = "5a0f6a7e-7b7c-4d55-8f43-6b2b0c0e9d11"
CRID = "c1d2e3f4-0000-4000-8000-000000000001"


def _create_run() -> dict[str, object]:
    return {
        "TransactItems": [
            {"Put": {"TableName": "t", "Item": {"pk": {"S": f"RUN#{RUN}"}, "id": {"S": RUN}}}},
            {
                "Put": {
                    "TableName": "t",
                    "Item": {"pk": {"S": f"IDEMP#{TASK}#{CRID}"}, "runId": {"S": RUN}},
                }
            },
            {"Update": {"TableName": "t", "Key": {"pk": {"S": "ORG#o"}, "sk": {"S": "USAGE#x"}}}},
        ],
        "ClientRequestToken": "captured-token",
        "ReturnConsumedCapacity": "INDEXES",
    }


def test_template_replaces_ids_and_drops_the_captured_token() -> None:
    template = make_template(_create_run())
    assert template is not None
    assert RUN not in template and CRID not in template
    assert RUN_ID in template and REQUEST_ID in template
    assert "captured-token" not in template and "ReturnConsumedCapacity" not in template
    first, second = fill(template), fill(template)
    assert first != second  # fresh ids each time
    items = first["TransactItems"]
    run_id = items[0]["Put"]["Item"]["id"]["S"]
    assert items[0]["Put"]["Item"]["pk"]["S"] == f"RUN#{run_id}"
    assert items[1]["Put"]["Item"]["runId"]["S"] == run_id
    assert items[1]["Put"]["Item"]["pk"]["S"].startswith(f"IDEMP#{TASK}#")
    assert items[2] == _create_run()["TransactItems"][2]  # type: ignore[index]
    json.dumps(first)


def test_other_transactions_are_not_templates() -> None:
    other = {"TransactItems": [{"Put": {"Item": {"pk": {"S": "KEY#abc"}}}}]}
    assert make_template(other) is None
