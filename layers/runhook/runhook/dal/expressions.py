"""Expressions for the table gateway: updates, transaction actions and queries.

Plain values in, DynamoDB's wire format out (the gateway serialises). Every attribute
name goes through a `#name` placeholder, so reserved words (`status`, `type`) need no
special care.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

Item = dict[str, Any]
Key = dict[str, str]


def key(pk: str, sk: str) -> Key:
    return {"pk": pk, "sk": sk}


class Update:
    """Builds an UpdateExpression; `set(attr, None)` removes the attribute.

    Conditions given to the gateway may use the builder's placeholders: `name(attr)`
    and `value(name, v)` register them and return `#attr` / `:name`.
    """

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.values: dict[str, Any] = {}
        self._set: list[str] = []
        self._remove: list[str] = []
        self._add: list[str] = []

    def name(self, attr: str) -> str:
        placeholder = f"#{attr}"
        self.names[placeholder] = attr
        return placeholder

    def value(self, key: str, value: Any) -> str:
        placeholder = f":{key}"
        self.values[placeholder] = value
        return placeholder

    def set(self, attr: str, value: Any) -> Update:
        if value is None:
            return self.remove(attr)
        self._set.append(f"{self.name(attr)} = {self.value(attr, value)}")
        return self

    def set_expression(self, attr: str, expression: str) -> Update:
        """`attr = <expression>` (e.g. `if_not_exists(...) + :one`)."""
        self._set.append(f"{self.name(attr)} = {expression}")
        return self

    def increment(self, attr: str, by: int = 1) -> Update:
        """`attr = attr + by`, starting from 0 (a SET, so it combines with other SETs)."""
        zero, step = self.value("zero", 0), self.value(f"by_{attr}", by)
        attr_name = self.name(attr)
        return self.set_expression(attr, f"if_not_exists({attr_name}, {zero}) + {step}")

    def remove(self, attr: str) -> Update:
        self._remove.append(self.name(attr))
        return self

    def add(self, attr: str, value: int) -> Update:
        self._add.append(f"{self.name(attr)} {self.value('add_' + attr, value)}")
        return self

    def expression(self) -> str:
        parts = []
        if self._set:
            parts.append("SET " + ", ".join(self._set))
        if self._remove:
            parts.append("REMOVE " + ", ".join(self._remove))
        if self._add:
            parts.append("ADD " + ", ".join(self._add))
        return " ".join(parts)


@dataclass(frozen=True)
class Put:
    """A transaction's Put (fails the transaction when `condition` does not hold)."""

    item: Item
    condition: str | None = None
    values: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class UpdateItem:
    key: Key
    update: Update
    condition: str | None = None


@dataclass(frozen=True)
class Delete:
    key: Key
    condition: str | None = None


TransactAction = Put | UpdateItem | Delete


@dataclass(frozen=True)
class Query:
    """One Query's parameters (without paging: the gateway adds Limit and the start key)."""

    key_condition: str
    values: dict[str, Any]
    names: dict[str, str] = field(default_factory=dict)
    index: str | None = None
    filter: str | None = None
    projection: str | None = None
    newest_first: bool = False
    consistent: bool = False

    def with_filter(
        self, expression: str, values: dict[str, Any], names: dict[str, str] | None = None
    ) -> Query:
        return replace(
            self,
            filter=expression,
            values={**self.values, **values},
            names={**self.names, **(names or {})},
        )

    @property
    def key_attributes(self) -> tuple[str, ...]:
        """The attributes of a LastEvaluatedKey of this query (what a page token holds)."""
        if self.index is None:
            return ("pk", "sk")
        return ("pk", "sk", f"{self.index}pk", f"{self.index}sk")

    @property
    def index_partition(self) -> str:
        """The attribute naming the partition this query reads (checked in page tokens)."""
        return "pk" if self.index is None else f"{self.index}pk"


def prefix_query(pk: str, sk_prefix: str, **options: Any) -> Query:
    """Items of partition `pk` whose sort key starts with `sk_prefix`."""
    return Query(
        "pk = :pk AND begins_with(sk, :prefix)", {":pk": pk, ":prefix": sk_prefix}, **options
    )


def partition_query(pk: str, **options: Any) -> Query:
    return Query("pk = :pk", {":pk": pk}, **options)


def index_query(
    index: str,
    pk: str,
    *,
    after: str | None = None,
    before: str | None = None,
    **options: Any,
) -> Query:
    """A GSI partition, optionally within time bounds on its `<timestamp>#<id>` sort keys.

    A bare timestamp never equals such a key, so `after` includes the keys made at that
    time and `before` excludes them: [after, before).
    """
    pk_attr, sk_attr = f"{index}pk", f"{index}sk"
    values: dict[str, Any] = {":pk": pk}
    condition = f"{pk_attr} = :pk"
    if after is not None and before is not None:
        condition += f" AND {sk_attr} BETWEEN :lo AND :hi"
        values.update({":lo": after, ":hi": before})
    elif after is not None:
        condition += f" AND {sk_attr} >= :lo"
        values[":lo"] = after
    elif before is not None:
        condition += f" AND {sk_attr} < :hi"
        values[":hi"] = before
    return Query(condition, values, index=index, **options)
