"""The composition root builds lazily, once, from the settings it is given (no AWS calls)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from runhook.bootstrap import Container
from runhook.settings import Settings

ENVIRON = {
    "TABLE_NAME": "runhook-unit",
    "EVENT_BUS_NAME": "bus-unit",
    "STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:runs",
    "DELIVERIES_QUEUE_URL": "https://sqs.example/q",
    "DELIVERIES_DLQ_URL": "https://sqs.example/dlq",
    "PUBLIC_BASE_URL": "https://api.example",
    "AWS_REGION": "eu-west-1",
    "AWS_ACCESS_KEY_ID": "unit",
    "AWS_SECRET_ACCESS_KEY": "unit",
    "AWS_ENDPOINT_URL": "http://127.0.0.1:1",
}


class CountingSession:
    """A boto3 session stand-in that counts the clients made."""

    def __init__(self) -> None:
        self.made: list[str] = []

    def client(self, service: str, **options: Any) -> Any:
        self.made.append(service)
        return object()


def test_nothing_is_built_until_used_and_then_once() -> None:
    session = CountingSession()
    container = Container(Settings(), boto3_session=session)  # type: ignore[arg-type]
    assert session.made == []
    assert container.runs is container.runs
    assert container.tasks.table is container.runs.table is container.table
    assert container.run_service.sfn is container.sfn
    assert session.made == []  # parts built, clients not yet: a cold start makes none
    assert container.table.client is container.table.client
    assert container.sfn.client is container.sfn.client
    assert sorted(session.made) == ["dynamodb", "stepfunctions"]


def test_parts_are_built_once_across_threads() -> None:
    session = CountingSession()
    container = Container(Settings(), boto3_session=session)  # type: ignore[arg-type]
    seen: list[object] = []
    threads = [threading.Thread(target=lambda: seen.append(container.sender)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(s) for s in seen}) == 1
    assert session.made == []
    clients: list[object] = []
    threads = [
        threading.Thread(target=lambda: clients.append(container.table.client)) for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(c) for c in clients}) == 1
    assert session.made == ["dynamodb"]


def test_from_an_explicit_environment() -> None:
    container = Container.from_environment(ENVIRON)
    assert container.settings.table_name == "runhook-unit"
    assert container.endpoint_url == "http://127.0.0.1:1"
    assert container.session.region_name == "eu-west-1"
    assert container.table.name == "runhook-unit"
    assert container.table.client.meta.endpoint_url == "http://127.0.0.1:1"
    assert container.bus.bus_name == "bus-unit"
    assert container.delivery_queue.dlq_url == "https://sqs.example/dlq"
    assert container.sfn.execution_arn("r1").endswith(":execution:runs:r1")
    run_service = container.run_service
    assert run_service.public_base_url == "https://api.example"


class RecordingClient:
    """A boto3 client stand-in: records each call's parameters, answers `answer`."""

    def __init__(self, answer: dict[str, Any]) -> None:
        self.answer = answer
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, operation: str) -> Any:
        def call(**params: Any) -> dict[str, Any]:
            self.calls.append((operation, params))
            return self.answer

        return call


def test_the_publisher_reads_endpoints_consistently_only_when_subscribed() -> None:
    """RUN_EVENTS_ON_BUS picks the outbox's audience: `subscribed` reads the org's
    endpoints (a consistent Query; none here, so nothing goes out), `all` reads nothing."""
    from runhook.dal.stream import decode_records
    from tests.support.runs import a_run
    from tests.unit.outbox.test_outbox import transition

    _, started = transition(a_run(), "task-run.started", 1)
    for mode, reads, puts in (("subscribed", 1, 0), ("all", 0, 1)):
        clients = {
            "dynamodb": RecordingClient({"Items": []}),
            "events": RecordingClient({"FailedEntryCount": 0, "Entries": [{"EventId": "e"}]}),
        }
        session = type("Session", (), {"client": lambda _, s, **o: clients[s]})()
        settings = Settings.model_validate({**ENVIRON, "RUN_EVENTS_ON_BUS": mode})
        container = Container(settings, boto3_session=session)
        result = container.outbox.publish(decode_records([started]))
        queries = [params for op, params in clients["dynamodb"].calls if op == "query"]
        assert len(queries) == reads and all(q["ConsistentRead"] for q in queries), mode
        assert (result.published, len(clients["events"].calls)) == (puts, puts), mode


def test_step_record_packs_are_a_setting_the_run_store_follows() -> None:
    """STEP_RECORD_PACKS (template.yaml's StepRecordPacks) turns packed step records off
    for a deploy next to a release that reads only one item per record."""
    for value, packs in (("on", True), ("off", False), (None, True)):
        environ = {**ENVIRON, "STEP_RECORD_PACKS": value} if value else ENVIRON
        container = Container(Settings.model_validate(environ), boto3_session=CountingSession())
        assert container.run_store.pack_records is packs, value


def test_the_api_remembers_verified_keys_for_auth_cache_seconds() -> None:
    """AUTH_CACHE_SECONDS (template.yaml's AuthCacheSeconds, default 5) is the window of the
    authenticator's memory, shared with the organization service that forgets it on a change;
    0 turns it off, and a value above the bound is refused at start."""
    for value, ttl in (("2.5", 2.5), ("0", 0.0), (None, 5.0)):
        environ = {**ENVIRON, "AUTH_CACHE_SECONDS": value} if value else ENVIRON
        container = Container(Settings.model_validate(environ), boto3_session=CountingSession())
        assert container.authenticator.credentials.ttl == ttl, value
        assert container.organization_service.credentials is container.authenticator.credentials
    with pytest.raises(ValueError):
        Settings.model_validate({**ENVIRON, "AUTH_CACHE_SECONDS": "301"})
