"""A run's listing entry (issue 16: `RUN#<run>` / `LISTING`, written once by the create
transaction) is no run event: the publisher's FilterCriteria (template.yaml) never hands
it to PublisherFunction, and the stream decoding (runhook.dal.stream) makes nothing of
it, so the create still announces nothing and no event is published twice."""

from __future__ import annotations

from typing import Any

import pytest

from runhook.dal.runs import run_item
from runhook.dal.runs_listing import listing_item
from runhook.dal.stream import RunChange, decode_records
from runhook_dev.devcloud.event_filters import RecordFilter, compile_filter_criteria
from tests.support.runs import a_run
from tests.template.test_outbox_filter import record


@pytest.fixture()
def publisher_filter(template: dict[str, Any]) -> RecordFilter:
    events = template["Resources"]["PublisherFunction"]["Properties"]["Events"]
    return compile_filter_criteria(events["TableStream"]["Properties"]["FilterCriteria"])


def test_the_listing_entry_never_reaches_the_publisher(publisher_filter: RecordFilter) -> None:
    run = a_run()
    entry = listing_item(run)
    # An entry carrying the run's event attributes still fails the filter (its type).
    for name, image in [("INSERT", entry), ("INSERT", {**entry, "eventType": "x"})]:
        assert not publisher_filter.passes(record(name, image))
        assert decode_records([record(name, image)]) == []
    assert not publisher_filter.passes(record("REMOVE", None, entry))


def test_the_run_item_without_listing_keys_still_announces_its_transitions(
    publisher_filter: RecordFilter,
) -> None:
    run = a_run()
    item = run_item(run)
    assert not {"gsi1pk", "gsi2pk"} & set(item)
    moved = {**item, "sequence": 1, "status": "RUNNING", "eventType": "task-run.started"}
    change = record("MODIFY", {**moved, "eventAt": "2026-11-30T00:00:00Z"}, item)
    assert publisher_filter.passes(change)
    (decoded,) = decode_records([change])
    assert isinstance(decoded, RunChange) and decoded.run.id == run.id
