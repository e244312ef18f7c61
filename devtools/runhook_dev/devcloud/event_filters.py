"""Lambda event filtering (an event source mapping's ``FilterCriteria``), locally.

Lambda applies a mapping's filters to each record before it invokes the function: a
record passes when it matches ANY of the filters (at most 5), a record that matches none
is dropped, never reaches the function and is checkpointed as handled (AWS docs: "Control
which events Lambda sends to your function"). The pattern syntax is EventBridge's, so the
matching is moto's own ``EventPattern`` (the EventBridge implementation the local cloud
already runs on): exact values, ``prefix``, ``exists``, ``anything-but``, ``numeric`` …,
applied to the record in Lambda's event shape (``eventName``, ``dynamodb.NewImage`` …).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

MAX_FILTERS = 5  # Lambda's limit per event source mapping


class FilterCriteriaError(ValueError):
    """The template's FilterCriteria is not one the local cloud (or Lambda) accepts."""


@dataclass(frozen=True)
class RecordFilter:
    """The compiled filters of one mapping; no filters: every record passes."""

    patterns: tuple[Any, ...] = ()  # moto EventPattern objects

    def passes(self, record: Mapping[str, Any]) -> bool:
        """Whether Lambda would hand this record (in Lambda's event shape) to the function."""
        if not self.patterns:
            return True
        return any(pattern.matches_event(dict(record)) for pattern in self.patterns)


def compile_filter_criteria(criteria: Any) -> RecordFilter:
    """A mapping's ``FilterCriteria`` (``{"Filters": [{"Pattern": "<json>"}]}``) compiled.

    Raises FilterCriteriaError for what Lambda would reject too (more than 5 filters, a
    pattern that is not a JSON object): a filter silently ignored locally would let a
    wrong one reach AWS untested.
    """
    if not criteria:
        return RecordFilter()
    if not isinstance(criteria, Mapping):
        raise FilterCriteriaError("FilterCriteria must be an object with Filters")
    filters = criteria.get("Filters") or []
    if not isinstance(filters, Sequence) or len(filters) > MAX_FILTERS:
        raise FilterCriteriaError(f"FilterCriteria: at most {MAX_FILTERS} Filters")
    return RecordFilter(tuple(_compile(f) for f in filters))


def _compile(entry: Any) -> Any:
    raw = entry.get("Pattern") if isinstance(entry, Mapping) else None
    if not isinstance(raw, str):
        raise FilterCriteriaError(f"filter {entry!r}: Pattern must be a JSON string")
    try:
        parsed = json.loads(raw)
    except ValueError as exc:
        raise FilterCriteriaError(f"filter pattern {raw!r} is not JSON: {exc}") from exc
    if not isinstance(parsed, dict) or not parsed:
        raise FilterCriteriaError(f"filter pattern {raw!r} must be a non-empty JSON object")
    # Imported here: moto's EventBridge models are already loaded in a running local
    # cloud, but importing this module (e.g. from the deployer's tests) stays cheap.
    from moto.events.models import EventPattern

    try:
        return EventPattern.load(raw)
    except Exception as exc:  # moto's InvalidEventPatternException and friends
        raise FilterCriteriaError(f"filter pattern {raw!r}: {exc}") from exc
