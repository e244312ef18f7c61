"""DynamoDB tables with the template's key schema, indexes, TTL and stream (no drift).

Deploying again keeps an existing table (and its data): missing global secondary
indexes are added, indexes the template no longer declares are only warned about, a
stream the template declares is turned on.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from runhook_dev.devcloud.cfn import ACCOUNT_ID, REGION

if TYPE_CHECKING:
    from runhook_dev.devcloud.deployer import Deployer

log = logging.getLogger("devcloud.deployer")


def create_table(deployer: Deployer, logical_id: str) -> None:
    props = deployer.resolved_props(logical_id)
    name = deployer.name(logical_id, "TableName")
    deployer.wait_for_dynamodb()
    ddb = deployer.client("dynamodb")
    provisioned = props.get("BillingMode", "PROVISIONED") == "PROVISIONED"
    indexes = _global_indexes(props, provisioned)
    try:
        existing = ddb.describe_table(TableName=name)["Table"]
    except ddb.exceptions.ResourceNotFoundException:
        existing = None
    if existing is None:
        ddb.create_table(**_create_request(name, props, indexes, provisioned))
        log.info("created table %s", name)
    else:
        _add_missing_indexes(deployer, ddb, name, props, indexes, existing)
        _enable_stream(ddb, name, props.get("StreamSpecification"), existing)
        log.info("table %s exists (kept)", name)
    _enable_ttl(ddb, name, props.get("TimeToLiveSpecification"))
    deployer.out.tables[logical_id] = name


def table_attributes(deployer: Deployer, logical_id: str) -> Mapping[str, Any]:
    """`Arn`, and `StreamArn` (the table's latest stream; looked up only when asked for)."""
    return _TableAttributes(deployer, logical_id)


class _TableAttributes(Mapping[str, Any]):
    """`Fn::GetAtt` of a table: `StreamArn` needs a DescribeTable, the rest does not."""

    def __init__(self, deployer: Deployer, logical_id: str) -> None:
        self._deployer = deployer
        self._logical_id = logical_id
        self._name = str(deployer.ref(logical_id))

    def __getitem__(self, attribute: str) -> Any:
        arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{self._name}"
        if attribute == "Arn":
            return arn
        if attribute == "StreamArn":
            if self._logical_id not in self._deployer.out.tables:
                return f"{arn}/stream/pending"  # referenced before the table was created
            ddb = self._deployer.client("dynamodb")
            table = ddb.describe_table(TableName=self._name)["Table"]
            return str(table.get("LatestStreamArn") or f"{arn}/stream/pending")
        raise KeyError(attribute)

    def __iter__(self) -> Iterator[str]:
        return iter(("Arn", "StreamArn"))

    def __len__(self) -> int:
        return 2


def table_of_stream(stream_arn: str) -> str:
    """The table name in a stream ARN (``…:table/<name>/stream/<label>``)."""
    return stream_arn.split(":table/", 1)[-1].split("/", 1)[0]


def _enable_stream(
    ddb: Any, name: str, stream: Mapping[str, Any] | None, existing: Mapping[str, Any]
) -> None:
    if not stream or (existing.get("StreamSpecification") or {}).get("StreamEnabled"):
        return
    view = stream.get("StreamViewType", "NEW_AND_OLD_IMAGES")
    ddb.update_table(
        TableName=name, StreamSpecification={"StreamEnabled": True, "StreamViewType": view}
    )
    log.info("table %s: stream enabled (%s)", name, view)


def _throughput(spec: Mapping[str, Any]) -> dict[str, Any]:
    given = spec.get("ProvisionedThroughput") or {}
    return {
        "ReadCapacityUnits": int(given.get("ReadCapacityUnits", 5)),
        "WriteCapacityUnits": int(given.get("WriteCapacityUnits", 5)),
    }


def _global_indexes(props: Mapping[str, Any], provisioned: bool) -> list[dict[str, Any]]:
    return [
        {
            "IndexName": gsi["IndexName"],
            "KeySchema": gsi["KeySchema"],
            "Projection": gsi.get("Projection") or {"ProjectionType": "ALL"},
            **({"ProvisionedThroughput": _throughput(gsi)} if provisioned else {}),
        }
        for gsi in props.get("GlobalSecondaryIndexes") or []
    ]


def _create_request(
    name: str, props: Mapping[str, Any], indexes: list[dict[str, Any]], provisioned: bool
) -> dict[str, Any]:
    request: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": "PROVISIONED" if provisioned else "PAY_PER_REQUEST",
    }
    if provisioned:
        request["ProvisionedThroughput"] = _throughput(props)
    if indexes:
        request["GlobalSecondaryIndexes"] = indexes
    if props.get("LocalSecondaryIndexes"):
        request["LocalSecondaryIndexes"] = props["LocalSecondaryIndexes"]
    if props.get("StreamSpecification"):
        stream = props["StreamSpecification"]
        request["StreamSpecification"] = {
            "StreamEnabled": True,
            "StreamViewType": stream.get("StreamViewType", "NEW_AND_OLD_IMAGES"),
        }
    return request


def _add_missing_indexes(
    deployer: Deployer,
    ddb: Any,
    name: str,
    props: Mapping[str, Any],
    indexes: list[dict[str, Any]],
    existing: Mapping[str, Any],
) -> None:
    have = {g["IndexName"] for g in existing.get("GlobalSecondaryIndexes") or []}
    for gsi in indexes:
        if gsi["IndexName"] not in have:
            ddb.update_table(
                TableName=name,
                AttributeDefinitions=props["AttributeDefinitions"],
                GlobalSecondaryIndexUpdates=[{"Create": gsi}],
            )
            log.info("table %s: added index %s", name, gsi["IndexName"])
    want = {g["IndexName"] for g in indexes}
    for extra in sorted(have - want):
        deployer.warn(f"table {name} has index {extra} that the template no longer declares")


def _enable_ttl(ddb: Any, name: str, ttl: Mapping[str, Any] | None) -> None:
    if not ttl or ttl.get("Enabled") not in (True, "true", "True"):
        return
    current = ddb.describe_time_to_live(TableName=name).get("TimeToLiveDescription", {})
    if current.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
        ddb.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
        )
