"""The stream reader's unparsed GetRecords (`streams.keep_records_raw`) against DynamoDB
Local: Lambda's event records built from the wire's JSON equal those built from botocore's
parsed answer, for every attribute type runhook writes (strings, numbers, binary, lists,
maps, booleans, null), and an expired iterator is still the modelled error."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from runhook_dev.devcloud.streams import keep_records_raw, lambda_record

pytestmark = pytest.mark.localcloud


def _records(streams: Any, arn: str, shard_id: str) -> list[dict[str, Any]]:
    iterator = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records: list[dict[str, Any]] = []
    for _ in range(20):
        answer = streams.get_records(ShardIterator=iterator, Limit=1000)
        records += answer["Records"]
        iterator = answer.get("NextShardIterator")
        if not iterator or not answer["Records"]:
            return records
    return records


def test_raw_records_make_the_same_lambda_event_as_parsed_ones(local_cloud: Any, aws: Any) -> None:
    ddb = aws.client("dynamodb")
    name = f"raw-records-{uuid.uuid4().hex[:8]}"
    ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    item = {
        "pk": {"S": "RUN#1"},
        "n": {"N": "12.5"},
        "blob": {"B": b"\x00\xffzlib"},
        "entries": {"L": [{"M": {"id": {"S": "a"}, "nodeId": {"NULL": True}}}]},
        "ok": {"BOOL": True},
        "tags": {"SS": ["a", "b"]},
    }
    ddb.put_item(TableName=name, Item=item)
    ddb.update_item(
        TableName=name,
        Key={"pk": {"S": "RUN#1"}},
        UpdateExpression="SET n = :n",
        ExpressionAttributeValues={":n": {"N": "13"}},
    )
    arn = ddb.describe_table(TableName=name)["Table"]["LatestStreamArn"]

    parsed_client, raw_client = (
        local_cloud.new_client("dynamodbstreams"),
        local_cloud.new_client("dynamodbstreams"),
    )
    keep_records_raw(raw_client)
    keep_records_raw(raw_client)  # registered once (unique_id): a second call changes nothing
    shards = parsed_client.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
    parsed = [r for s in shards for r in _records(parsed_client, arn, s["ShardId"])]
    raw = [r for s in shards for r in _records(raw_client, arn, s["ShardId"])]

    assert [r["eventName"] for r in parsed] == ["INSERT", "MODIFY"]
    assert [lambda_record(r, arn) for r in raw] == [lambda_record(r, arn) for r in parsed]
    assert isinstance(raw[0]["dynamodb"]["NewImage"]["blob"]["B"], str)  # never parsed
    assert isinstance(parsed[0]["dynamodb"]["NewImage"]["blob"]["B"], bytes)

    with pytest.raises(raw_client.exceptions.ClientError):
        raw_client.get_records(ShardIterator="not-an-iterator")
    ddb.delete_table(TableName=name)
