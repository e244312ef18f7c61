"""Low-level DynamoDB helpers shared by the repositories.

Items are flat: JSON-valued fields are stored as JSON strings, so no Decimal juggling
leaks into the domain and every read is a cheap string decode.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from runhook import aws
from runhook.errors import ServiceUnavailable
from runhook.settings import get_settings

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()

TRANSIENT_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "LimitExceededException",
        "ResourceNotFoundException",
    }
)


def table_name() -> str:
    return get_settings().table_name


def ddb() -> Any:
    return aws.client("dynamodb")


def to_item(data: dict[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(v) for k, v in data.items() if v is not None}


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    out = {k: _deserializer.deserialize(v) for k, v in item.items()}
    for k, v in out.items():
        if hasattr(v, "as_integer_ratio") and not isinstance(v, int | float):
            out[k] = int(v) if v == int(v) else float(v)
    return out


def to_values(values: dict[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(v) for k, v in values.items()}


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def loads(value: str | None, default: Any = None) -> Any:
    return default if value is None else json.loads(value)


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


@contextmanager
def translate_errors() -> Iterator[None]:
    """Turn throttling and outages into a 503-able domain error at the boundary."""
    try:
        yield
    except ClientError as exc:
        if error_code(exc) in TRANSIENT_CODES:
            raise ServiceUnavailable(message=f"dynamodb: {error_code(exc)}") from exc
        raise
    except BotoCoreError as exc:  # connection refused, timeouts
        raise ServiceUnavailable(message=f"dynamodb: {exc}") from exc


def get(pk: str, sk: str, *, consistent: bool = False) -> dict[str, Any] | None:
    with translate_errors():
        resp = ddb().get_item(
            TableName=table_name(),
            Key=to_item({"pk": pk, "sk": sk}),
            ConsistentRead=consistent,
        )
    item = resp.get("Item")
    return from_item(item) if item else None


def query(**kwargs: Any) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    with translate_errors():
        resp = ddb().query(TableName=table_name(), **kwargs)
    items = [from_item(i) for i in resp.get("Items", [])]
    last = resp.get("LastEvaluatedKey")
    return items, (from_item(last) if last else None)


def query_all(**kwargs: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while True:
        items, last = query(**kwargs)
        out.extend(items)
        if not last:
            return out
        kwargs["ExclusiveStartKey"] = to_item(last)


def batch_write(requests: list[dict[str, Any]], rounds: int = 6) -> None:
    """BatchWriteItem in chunks of 25, retrying unprocessed items with backoff."""
    for start in range(0, len(requests), 25):
        pending: dict[str, Any] = {table_name(): requests[start : start + 25]}
        for round_ in range(rounds):
            with translate_errors():
                resp = ddb().batch_write_item(RequestItems=pending)
            pending = resp.get("UnprocessedItems") or {}
            if not pending:
                break
            time.sleep(0.05 * 2**round_)
        else:
            raise ServiceUnavailable(message="dynamodb: unprocessed items after retries")


def cancellation_reasons(exc: ClientError) -> list[str]:
    """Per-item codes of a cancelled TransactWriteItems ('None' for items that passed)."""
    reasons = exc.response.get("CancellationReasons") or []
    if reasons:
        return [str(r.get("Code", "None")) for r in reasons]
    # DynamoDB Local and some SDKs only put them in the message: "[None, ConditionalCheckFailed]".
    message = str(exc.response.get("Error", {}).get("Message", ""))
    if "[" in message:
        inner = message[message.rfind("[") + 1 : message.rfind("]")]
        return [part.strip() for part in inner.split(",")]
    return []


def decode_json_item(value: Any) -> Any:
    """JSON stored as a string (our convention) or, for older items, as a native map."""
    return json.loads(value) if isinstance(value, str) else value
