"""The table gateway: every DynamoDB call of the layer goes through one `Table`.

It owns what every repository needs and used to write for itself:

- error translation: throttling and outages become `ServiceUnavailable` (a 503 with
  Retry-After); other client errors (a bad expression: a bug) propagate;
- conditional writes that answer "not changed" (False / None) when their condition
  fails, instead of raising;
- transactions whose cancellation carries the per-action reasons;
- batch writes in chunks of 25 (at most 400 KB an item, so well under the 16 MB request
  limit), retrying unprocessed items with jittered exponential backoff;
- one paginated query (page sizing for filtered reads, a validated page token).

Values are plain Python (str, int, float, bool, bytes, lists, dicts); None attributes are
left out of written items; numbers come back as int or float, never Decimal.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Unpack

from boto3.dynamodb.types import Binary, TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from runhook.aws import ClientOptions, LazyClient, error_code, translate_errors
from runhook.dal.expressions import Delete, Item, Key, Put, Query, TransactAction, Update
from runhook.dal.pages import decode_token, encode_token
from runhook.errors import ServiceUnavailable

CONDITION_FAILED = "ConditionalCheckFailedException"
TRANSACTION_CANCELLED = "TransactionCanceledException"
TRANSIENT_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "LimitExceededException",
        "ResourceNotFoundException",  # the table is missing: a deployment problem, retryable
    }
)
BATCH_SIZE = 25
BATCH_ROUNDS = 8
BATCH_GET_SIZE = 100  # BatchGetItem's limit per request
MAX_PAGE_READS = 10
FILTERED_READ_FACTOR = 4  # a filtered page reads this many times what it still lacks
MIN_FILTERED_READ = 25

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


class TransactionCancelled(Exception):
    """A transaction did not apply; `reasons` has one code per action ('None': it passed)."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__(reasons)
        self.reasons = reasons

    def failed(self, index: int) -> bool:
        """Whether action `index` failed its condition."""
        return len(self.reasons) > index and self.reasons[index] == "ConditionalCheckFailed"


@dataclass(frozen=True)
class Page:
    items: list[Item]
    next_token: str | None


def _numbers_as_decimals(value: Any) -> Any:
    """boto3 refuses floats: store them as the Decimal of their shortest repr."""
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, list):
        return [_numbers_as_decimals(v) for v in value]
    if isinstance(value, dict):
        return {k: _numbers_as_decimals(v) for k, v in value.items()}
    return value


def serialize(data: Mapping[str, Any]) -> dict[str, Any]:
    return {
        k: _serializer.serialize(_numbers_as_decimals(v)) for k, v in data.items() if v is not None
    }


def _plain(value: Any) -> Any:
    """Numbers as int or float (never Decimal), binary as bytes, in lists and maps too."""
    if isinstance(value, Decimal):
        return int(value) if value == int(value) else float(value)
    if isinstance(value, Binary):
        return bytes(value.value)  # type: ignore[attr-defined]  # (missing from the stubs)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def deserialize(item: Mapping[str, Any]) -> Item:
    return {k: _plain(_deserializer.deserialize(v)) for k, v in item.items()}


class Table:
    """One DynamoDB table; the boto3 client is made on first use (see runhook.aws)."""

    def __init__(
        self,
        name: str,
        *,
        sleep: Callable[[float], None] = time.sleep,
        **client: Unpack[ClientOptions],
    ) -> None:
        self.name = name
        self._client = LazyClient("dynamodb", **client)
        self._sleep = sleep  # between batch-write rounds (tests pass a recorder)

    @property
    def client(self) -> Any:
        return self._client.get()

    @contextmanager
    def errors(self) -> Iterator[None]:
        """Transient failures → ServiceUnavailable; other ClientErrors pass through."""
        with translate_errors("dynamodb", only=TRANSIENT_CODES):
            yield

    # -- single items --------------------------------------------------------------------
    def get(self, key: Key, *, consistent: bool = False) -> Item | None:
        with self.errors():
            resp = self.client.get_item(
                TableName=self.name, Key=serialize(key), ConsistentRead=consistent
            )
        item = resp.get("Item")
        return deserialize(item) if item else None

    def put(
        self, item: Item, *, condition: str | None = None, values: Mapping[str, Any] | None = None
    ) -> bool:
        """Write `item`; False (nothing written) when `condition` does not hold."""
        kwargs: dict[str, Any] = {"TableName": self.name, "Item": serialize(item)}
        _condition(kwargs, condition, {}, values or {})
        return self._conditional(lambda: self.client.put_item(**kwargs)) is not None

    def update(
        self, key: Key, update: Update, *, condition: str | None = None, return_new: bool = True
    ) -> Item | None:
        """Apply `update`: the new item ({} unless `return_new`), or None when
        `condition` (which may use the builder's placeholders) does not hold."""
        kwargs: dict[str, Any] = {
            "TableName": self.name,
            "Key": serialize(key),
            "UpdateExpression": update.expression(),
        }
        _condition(kwargs, condition, update.names, update.values)
        if return_new:
            kwargs["ReturnValues"] = "ALL_NEW"
        resp = self._conditional(lambda: self.client.update_item(**kwargs))
        if resp is None:
            return None
        return deserialize(resp["Attributes"]) if return_new else {}

    def delete(self, key: Key, *, condition: str | None = None) -> bool:
        """Delete; False when `condition` does not hold."""
        kwargs: dict[str, Any] = {"TableName": self.name, "Key": serialize(key)}
        _condition(kwargs, condition, {}, {})
        return self._conditional(lambda: self.client.delete_item(**kwargs)) is not None

    def _conditional(self, call: Callable[[], Any]) -> Any | None:
        """The call's answer, or None when its condition failed."""
        try:
            with self.errors():
                return call()
        except ClientError as exc:
            if error_code(exc) == CONDITION_FAILED:
                return None
            raise

    # -- several items ---------------------------------------------------------------------
    def transact_write(self, actions: Sequence[TransactAction]) -> None:
        """All or nothing; raises TransactionCancelled (with the reasons) when refused."""
        try:
            with self.errors():
                self.client.transact_write_items(
                    TransactItems=[self._transact_item(a) for a in actions]
                )
        except ClientError as exc:
            if error_code(exc) == TRANSACTION_CANCELLED:
                raise TransactionCancelled(cancellation_reasons(exc)) from exc
            raise

    def _transact_item(self, action: TransactAction) -> dict[str, Any]:
        body: dict[str, Any] = {"TableName": self.name}
        if isinstance(action, Put):
            body["Item"] = serialize(action.item)
            _condition(body, action.condition, {}, action.values)
            return {"Put": body}
        if isinstance(action, Delete):
            body["Key"] = serialize(action.key)
            _condition(body, action.condition, {}, {})
            return {"Delete": body}
        body["Key"] = serialize(action.key)
        body["UpdateExpression"] = action.update.expression()
        _condition(body, action.condition, action.update.names, action.update.values)
        return {"Update": body}

    def batch_put(self, items: Sequence[Item]) -> None:
        """Write items in chunks of 25 (in order); unprocessed ones are retried with backoff."""
        for start in range(0, len(items), BATCH_SIZE):
            chunk = [
                {"PutRequest": {"Item": serialize(i)}} for i in items[start : start + BATCH_SIZE]
            ]
            pending: dict[str, Any] = {self.name: chunk}
            for round_ in range(BATCH_ROUNDS):
                with self.errors():
                    resp = self.client.batch_write_item(RequestItems=pending)
                pending = resp.get("UnprocessedItems") or {}
                if not pending:
                    break
                self._sleep(random.uniform(0.5, 1.0) * 0.05 * 2**round_)
            else:
                raise ServiceUnavailable(message="dynamodb: unprocessed items after retries")

    def batch_get(self, keys: Sequence[Key], *, consistent: bool = False) -> list[Item]:
        """The items of `keys` that exist, in no particular order (chunks of 100;
        unprocessed keys are retried with backoff). Added for run lists by tag (issue 14)."""
        out: list[Item] = []
        for start in range(0, len(keys), BATCH_GET_SIZE):
            chunk = [serialize(k) for k in keys[start : start + BATCH_GET_SIZE]]
            pending: dict[str, Any] = {self.name: {"Keys": chunk, "ConsistentRead": consistent}}
            for round_ in range(BATCH_ROUNDS):
                with self.errors():
                    resp = self.client.batch_get_item(RequestItems=pending)
                out.extend(deserialize(i) for i in resp.get("Responses", {}).get(self.name, []))
                pending = resp.get("UnprocessedKeys") or {}
                if not pending:
                    break
                self._sleep(random.uniform(0.5, 1.0) * 0.05 * 2**round_)
            else:
                raise ServiceUnavailable(message="dynamodb: unprocessed keys after retries")
        return out

    # -- queries ---------------------------------------------------------------------------
    def query(
        self, query: Query, *, limit: int | None = None, start: Key | None = None
    ) -> tuple[list[Item], Key | None]:
        """One Query call: its items and its LastEvaluatedKey."""
        kwargs: dict[str, Any] = {
            "TableName": self.name,
            "KeyConditionExpression": query.key_condition,
            "ExpressionAttributeValues": serialize(query.values),
            "ScanIndexForward": not query.newest_first,
        }
        if query.names:
            kwargs["ExpressionAttributeNames"] = query.names
        if query.index:
            kwargs["IndexName"] = query.index
        if query.filter:
            kwargs["FilterExpression"] = query.filter
        if query.projection:
            kwargs["ProjectionExpression"] = query.projection
        if query.consistent:
            kwargs["ConsistentRead"] = True
        if limit is not None:
            kwargs["Limit"] = limit
        if start is not None:
            kwargs["ExclusiveStartKey"] = serialize(start)
        with self.errors():
            resp = self.client.query(**kwargs)
        last = resp.get("LastEvaluatedKey")
        return [deserialize(i) for i in resp.get("Items", [])], (
            deserialize(last) if last else None
        )

    def query_all(self, query: Query) -> list[Item]:
        """Every item of the query (for small partitions: an org's endpoints, a run's steps)."""
        out: list[Item] = []
        start: Key | None = None
        while True:
            items, start = self.query(query, start=start)
            out.extend(items)
            if start is None:
                return out

    def page(
        self,
        query: Query,
        *,
        page_size: int,
        token: str | None = None,
        max_reads: int = MAX_PAGE_READS,
    ) -> Page:
        """One page of a listing and the token of the next (None: nothing more).

        A filtered query reads `FILTERED_READ_FACTOR` times what the page still lacks per
        call, at most `max_reads` calls; a page cut short by that budget is still
        followed by a token, so a caller can page on. The token resumes right after the
        last returned item of a full page, else after the last item read.
        """
        fields = query.key_attributes
        start = None
        if token is not None:
            expected = {query.index_partition: str(query.values[":pk"])}
            start = decode_token(token, expected=expected, fields=fields)
        out: list[Item] = []
        last: Key | None = None
        for _ in range(max_reads):
            missing = page_size - len(out)
            limit = (
                max(missing * FILTERED_READ_FACTOR, MIN_FILTERED_READ) if query.filter else missing
            )
            items, last = self.query(query, limit=limit, start=start)
            for position, item in enumerate(items):
                out.append(item)
                if len(out) == page_size:
                    more = position < len(items) - 1 or last is not None
                    return Page(out, encode_token(_keys(item, fields)) if more else None)
            if last is None:
                break
            start = last
        return Page(out, encode_token(_keys(last, fields)) if last is not None else None)


def _keys(item: Mapping[str, Any], fields: Sequence[str]) -> dict[str, str]:
    return {f: str(item[f]) for f in fields}


def _condition(
    kwargs: dict[str, Any],
    condition: str | None,
    names: Mapping[str, str],
    values: Mapping[str, Any],
) -> None:
    if condition:
        kwargs["ConditionExpression"] = condition
    if names:
        kwargs["ExpressionAttributeNames"] = dict(names)
    if values:
        kwargs["ExpressionAttributeValues"] = {
            k: _serializer.serialize(_numbers_as_decimals(v)) for k, v in values.items()
        }


def cancellation_reasons(exc: ClientError) -> list[str]:
    """Per-action codes of a cancelled TransactWriteItems ('None' for actions that passed)."""
    reasons = exc.response.get("CancellationReasons") or []
    if reasons:
        return [str(r.get("Code", "None")) for r in reasons]
    # DynamoDB Local and some SDKs only put them in the message: "[None, ConditionalCheckFailed]".
    message = str(exc.response.get("Error", {}).get("Message", ""))
    if "[" in message:
        inner = message[message.rfind("[") + 1 : message.rfind("]")]
        return [part.strip() for part in inner.split(",")]
    return []
