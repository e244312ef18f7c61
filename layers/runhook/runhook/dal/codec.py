"""Between domain models and table items.

Items are flat. A model is stored under its fields' aliases (camelCase: the models'
`alias_generator`), so there is no hand-written attribute map: a field's alias *is* its
attribute name. Values that are JSON documents (a run's inputs, a task's definition) are
stored as JSON strings: reads are one string decode, and no `Decimal` leaks into the
domain. Each repository names its JSON-valued fields.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from enum import Enum
from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def loads(value: Any, default: Any = None) -> Any:
    """A JSON string as stored (our convention) or, for older items, a native value."""
    if value is None:
        return default
    return json.loads(value) if isinstance(value, str) else value


def attribute(model: type[BaseModel], field: str) -> str:
    """The stored attribute name of `model.field`."""
    info = model.model_fields[field]
    return info.alias or field


def stored_value(value: Any, *, as_json: bool = False) -> Any:
    """A field value as the table holds it (models and enums flattened, JSON as a string)."""
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json", by_alias=True)
    elif isinstance(value, Enum):
        value = value.value
    return dumps(value) if as_json and value is not None else value


def to_attributes(model: BaseModel, *, json_fields: Collection[str] = ()) -> dict[str, Any]:
    """The model's fields as item attributes (None values left out)."""
    data = model.model_dump(mode="json", by_alias=True)
    json_attrs = {attribute(type(model), f) for f in json_fields}
    return {
        attr: (dumps(value) if attr in json_attrs else value)
        for attr, value in data.items()
        if value is not None
    }


def from_attributes(
    model: type[M], item: Mapping[str, Any], *, json_fields: Collection[str] = ()
) -> M:
    """The model stored in `item` (other attributes, such as keys, are ignored)."""
    data = dict(item)
    for field in json_fields:
        attr = attribute(model, field)
        if attr in data:
            data[attr] = loads(data[attr])
    return model.model_validate(data)
