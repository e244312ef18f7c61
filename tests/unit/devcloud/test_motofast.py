"""moto's per-request work, done once (`runhook_dev.devcloud._motofast`): same answers, less
work. No `mock_aws` here (it would reset the backends of a local cloud in this process):
moto's parts are used directly."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from runhook_dev.devcloud import _motofast
from runhook_dev.devcloud.activity import ActivityHub

ROOT = Path(__file__).resolve().parents[3]


def test_the_backend_of_a_host_is_resolved_once_and_is_moto_s_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from moto import backends
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    plain = DomainDispatcherApplication(create_backend_app)
    memoized = _motofast.MemoizedDomainDispatcher(create_backend_app)
    hosts = ["states.us-east-1.amazonaws.com", "sqs.us-east-1.amazonaws.com", "moto_api", None]
    expected = [plain.get_backend_for_host(host) for host in hosts]
    assert expected[:2] == ["stepfunctions", "sqs"]
    listings = []
    real = backends.list_of_moto_modules
    monkeypatch.setattr(backends, "list_of_moto_modules", lambda: listings.append(1) or real())

    first = [memoized.get_backend_for_host(host) for host in hosts]
    again = [memoized.get_backend_for_host(host) for host in hosts]

    assert first == again == expected
    assert len(listings) == 2  # once per AWS host, never again


def test_a_state_machine_is_parsed_and_built_once_with_its_heap_keys_drawn() -> None:
    from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent
    from moto.stepfunctions.parser.asl.parse.asl_parser import (
        AmazonStateLanguageParser,
        ASLParserException,
    )

    _motofast.cache_asl_programs()
    retry = {"ErrorEquals": ["X"], "IntervalSeconds": 1, "MaxAttempts": 2}
    definition = json.dumps(
        {
            "StartAt": "Work",
            "States": {
                "Work": {"Type": "Pass", "Next": "Done"},
                "Done": {
                    "Type": "Parallel",
                    "Branches": [_branch()],
                    "Retry": [retry],
                    "End": True,
                },
            },
        }
    )
    program, tree = AmazonStateLanguageParser.parse(definition)
    same_program, same_tree = AmazonStateLanguageParser.parse(definition)

    assert same_tree is tree and same_program is program  # parsed and built once
    # Every component's heap key was drawn before the program was shared (none left to
    # draw lazily, by two executions at once): the walk counts them, the retrier's too.
    assert _motofast.draw_heap_keys(program) > 10
    drawn = [c for c in _components(program) if isinstance(c, EvalComponent)]
    assert drawn and all(c.__dict__.get("_EvalComponent__heap_key") for c in drawn)
    for _ in range(2):  # a bad definition still fails, every time (errors are not cached)
        with pytest.raises(ASLParserException):
            AmazonStateLanguageParser.parse('{"StartAt": "X", "States": {"X": {"Type": "No"}}}')


def _branch() -> dict[str, Any]:
    return {"StartAt": "B", "States": {"B": {"Type": "Pass", "End": True}}}


def _components(program: Any) -> list[Any]:
    """Every moto component reachable from `program`."""
    from moto.stepfunctions.parser.asl.component.component import Component

    found: list[Any] = []
    seen: set[int] = set()
    pending = [program]
    while pending:
        value = pending.pop()
        if id(value) in seen:
            continue
        seen.add(id(value))
        if isinstance(value, dict):
            pending.extend(value.values())
        elif isinstance(value, list | tuple):
            pending.extend(value)
        elif isinstance(value, Component):
            found.append(value)
            pending.extend(vars(value).values())
    return found


def test_runhook_s_machine_parses_from_the_cache_much_faster_than_the_first_time() -> None:
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    _motofast.cache_asl_programs()
    text = (ROOT / "statemachines" / "run.asl.json").read_text()
    definition = json.dumps(json.loads(_arns(text)))
    began = time.process_time()
    AmazonStateLanguageParser.parse(definition)
    first = time.process_time() - began
    began = time.process_time()
    AmazonStateLanguageParser.parse(definition)
    cached = time.process_time() - began
    assert cached < first / 2, (first, cached)


def test_moto_s_action_names_are_listed_once_per_class() -> None:
    from moto.core import responses, utils
    from moto.sqs.responses import SQSResponse

    _motofast.cache_action_names()
    names = responses.method_names_from_class(SQSResponse)
    names.append("not_an_action")  # a caller's change does not reach the cache

    assert responses.method_names_from_class(SQSResponse) == utils.method_names_from_class(
        SQSResponse
    )
    assert "receive_message" in names


def _arns(text: str) -> str:
    """The template's substitutions replaced by an ARN (they are string values)."""
    import re

    return re.sub(r"\$\{[^}]+\}", "arn:aws:lambda:us-east-1:123456789012:function:f", text)


def test_jsonpath_expressions_are_parsed_once_and_still_find() -> None:
    import jsonpath_ng.ext
    from moto.events.utils import EventTemplateParser

    _motofast.cache_jsonpath_parsers()
    parse: Any = jsonpath_ng.ext.parse

    assert parse("$.detail.run.id") is parse("$.detail.run.id")
    assert [m.value for m in parse("$.detail.run.id").find({"detail": {"run": {"id": "r1"}}})] == [
        "r1"
    ]
    event = {"detail-type": "t", "detail": {"a": 1}, "ingestion-time": 0, "id": "e"}
    out = EventTemplateParser.parse(
        input_template='{"a": <a>}', input_paths_map={"a": "$.detail.a"}, event=event
    )
    assert out == {"a": 1}


def test_a_message_past_its_retention_period_is_not_received_and_a_fresh_one_is() -> None:
    from moto.sqs.models import SQSBackend

    _motofast.cheap_retention_check()
    backend = SQSBackend("us-east-1", "123456789012")
    backend.create_queue("q", MessageRetentionPeriod="60")
    fresh = backend.send_message("q", "fresh")
    old = backend.send_message("q", "old")
    old.sent_timestamp = int((time.time() - 120) * 1000)

    assert backend.is_message_valid_based_on_retention_period("q", fresh)
    assert not backend.is_message_valid_based_on_retention_period("q", old)


def test_event_deliveries_names_the_queues_eventbridge_sent_to_in_the_block() -> None:
    from types import SimpleNamespace

    from moto.events.models import Rule
    from moto.sqs.models import sqs_backends

    _motofast.record_event_deliveries()
    account = "000000000042"  # not the local cloud's account: its queues are not touched
    sqs = sqs_backends[account]["us-east-1"]
    sqs.create_queue("motofast-target")
    rule = SimpleNamespace(account_id=account, region_name="us-east-1")

    Rule._send_to_sqs_queue(rule, "motofast-target", {"detail": {}})  # type: ignore[arg-type]
    with _motofast.event_deliveries() as queues:
        Rule._send_to_sqs_queue(rule, "motofast-target", {"detail": {}})  # type: ignore[arg-type]
    with _motofast.event_deliveries() as untouched:
        pass

    assert queues == {"motofast-target"} and untouched == set()
    assert len(sqs.get_queue("motofast-target").messages) == 2  # both really sent


def test_events_put_wakes_only_the_queues_delivered_to() -> None:
    hub = ActivityHub()
    shim = hub.queue("http://localhost/123456789012/runhook-local-shim-X")
    other = hub.queue("http://localhost/123456789012/runhook-local-deliveries")
    generations = shim.generation(), other.generation()

    hub.events_put(b'{"Entries": []}', {"runhook-local-shim-X"})

    assert shim.wait(generations[0], 0)
    assert not other.wait(generations[1], 0)


def test_task_states_share_one_client_per_service_aimed_like_moto_s_own() -> None:
    from moto.settings import moto_server_port
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

    _motofast.share_task_clients()
    first = lambda_eval_utils.boto_client_for(region="us-east-1", service="lambda")
    again = lambda_eval_utils.boto_client_for(region="us-east-1", service="lambda")
    other = lambda_eval_utils.boto_client_for(region="us-east-1", service="sqs")

    assert first is again and other is not first
    assert first.meta.endpoint_url == f"http://localhost:{moto_server_port()}"
    assert first.meta.region_name == "us-east-1"
    assert first.meta.config.max_pool_connections == 50
    assert first.meta.config.retries["total_max_attempts"] == 1
