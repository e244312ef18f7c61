"""The outbox with an audience (RUN_EVENTS_ON_BUS=subscribed, issue 16): only the events an
enabled endpoint of the organization routes go on the bus, decided by the dispatcher's own
rule (runhook.webhooks.catalog.route), with one endpoint read per organization per batch."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from runhook.dal.stream import decode_records
from runhook.dal.webhooks import Route
from runhook.models import Run, RunStatus
from runhook.outbox import Outbox
from tests.support.runs import a_run
from tests.unit.outbox.test_outbox import BASE, FlakyBus, log_record, transition


class Endpoints:
    """An audience: each organization's routes, counting the reads; `broken` orgs fail."""

    def __init__(self, routes: dict[str, list[Route]], broken: Sequence[str] = ()) -> None:
        self.routes = routes
        self.broken = set(broken)
        self.reads: list[str] = []

    def __call__(self, org_id: str) -> list[Route]:
        self.reads.append(org_id)
        if org_id in self.broken:
            raise ConnectionError("DynamoDB is down")
        return self.routes.get(org_id, [])


def route(
    events: list[str] | None = None, task_id: str | None = None, enabled: bool = True
) -> Route:
    return Route(id="ep", url="https://hooks.test", events=events, task_id=task_id, enabled=enabled)


def a_runs_records(run: Run) -> list[dict[str, Any]]:
    """A run's life as the stream has it: started, a log line, completed."""
    started, first = transition(run, "task-run.started", 1, status=RunStatus.RUNNING)
    _, line = log_record(started, 2, "hello")
    _, last = transition(started, "task-run.completed", 3, status=RunStatus.COMPLETED)
    return [first, line, last]


def published(audience: Endpoints, *runs: Run) -> list[str]:
    bus = FlakyBus()
    records = [r for run in runs for r in a_runs_records(run)]
    result = Outbox(bus, BASE, audience=audience).publish(decode_records(records))
    assert result.retry_from is None
    assert result.published + result.unheard == 3 * len(runs)
    return [detail_type for detail_type, _ in bus.events]


def test_no_endpoint_puts_nothing_on_the_bus() -> None:
    assert published(Endpoints({}), a_run()) == []


def test_an_endpoint_of_every_event_hears_everything() -> None:
    everything = ["task-run.started", "task-run.log", "task-run.completed"]
    assert published(Endpoints({"org-1": [route()]}), a_run()) == everything


def test_only_the_subscribed_types_go_out_under_either_name() -> None:
    audience = Endpoints({"org-1": [route(["task-run.succeeded"])]})  # the alias
    assert published(audience, a_run()) == ["task-run.completed"]
    audience = Endpoints({"org-1": [route(["task-run.log"]), route(["task-run.started"])]})
    assert published(audience, a_run()) == ["task-run.started", "task-run.log"]


def test_a_task_scoped_endpoint_hears_only_its_task() -> None:
    mine, other = a_run(), a_run()
    audience = Endpoints({"org-1": [route(["task-run.completed"], task_id=mine.task_id)]})
    assert published(audience, other) == []
    assert published(audience, mine) == ["task-run.completed"]


def test_a_disabled_endpoint_hears_nothing() -> None:
    assert published(Endpoints({"org-1": [route(enabled=False)]}), a_run()) == []


def test_one_read_per_organization_per_batch() -> None:
    audience = Endpoints({"org-1": [route()], "org-2": []})
    kinds = published(audience, a_run(), a_run(org_id="org-2"), a_run())
    assert kinds == ["task-run.started", "task-run.log", "task-run.completed"] * 2
    assert sorted(audience.reads) == ["org-1", "org-2"]


def test_an_unreadable_organization_publishes_all_its_events(
    caplog: pytest.LogCaptureFixture,
) -> None:
    audience = Endpoints({}, broken=["org-1"])
    assert published(audience, a_run(), a_run(org_id="org-2")) == [
        "task-run.started",
        "task-run.log",
        "task-run.completed",
    ]
    assert "unreadable" in caplog.text


def test_without_an_audience_every_event_goes_out() -> None:
    bus = FlakyBus()
    result = Outbox(bus, BASE).publish(decode_records(a_runs_records(a_run())))
    assert (result.published, result.unheard, len(bus.events)) == (3, 0, 3)
