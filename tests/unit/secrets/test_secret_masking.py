"""Organization secrets inside the engine, without the cloud: references in templates,
where a task may use them, the mask, and the http kind against a real loopback server
(a fake `SecretSource` stands for the table and KMS)."""

from __future__ import annotations

import json

import pytest

from runhook.engine.redact import SecretMask
from runhook.engine.steps import StepFailure
from runhook.engine.steps.http import HttpKind
from runhook.tasks.definition import validate_definition
from runhook.tasks.secret_refs import secret_usage
from runhook.tasks.templating import (
    SecretNotFound,
    SecretValues,
    TemplateError,
    render,
    secret_references,
)
from tests.support.loopback import Target
from tests.unit.engine.engine_support import make_call

VALUE = "s3cr3t value&more/é"
ASCII = "s3cr3t value&more/x"  # header values are ASCII


class FakeSecrets:
    """A `SecretSource`: one organization, a dict of secrets, every lookup recorded."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values
        self.asked: list[str] = []

    def organization(self, run_id: str) -> str | None:
        return "org-1"

    def resolve(self, run_id: str, name: str) -> str | None:
        self.asked.append(name)
        return self.values.get(name)


def test_references_are_found_by_name_and_computed_ones_flagged() -> None:
    assert secret_references("{{ secrets.A_B }}/{{ secrets['C'] }}") == ({"A_B", "C"}, False)
    assert secret_references("{{ secrets }}") == (set(), True)
    assert secret_references("{{ secrets[inputs.name] }}") == (set(), True)
    assert secret_references("{{ inputs.secrets }}") == (set(), False)
    assert secret_references("no template") == (set(), False)


def _definition(steps: list[dict[str, object]]) -> object:
    definition, errors = validate_definition({"name": "t", "steps": steps})
    assert definition is not None, errors
    return definition


def test_secrets_may_go_only_where_the_step_masks_them() -> None:
    ref = "{{ secrets.TOKEN }}"
    definition = _definition(
        [
            {
                "id": "call",
                "type": "http",
                "url": f"https://x.test/?t={ref}",
                "headers": {"X-T": ref},
                "query": {"q": ref},
                "json": {"a": [ref]},
            },
            {"id": "raw", "type": "http", "method": "POST", "url": "https://x.test", "body": ref},
            {
                "id": "b",
                "type": "browser",
                "actions": [
                    {"action": "goto", "url": f"https://x.test/{ref}"},
                    {"action": "fill", "selector": "#p", "value": ref},
                    {"action": "select", "selector": "#s", "value": ref},
                ],
            },
            {"id": "say", "type": "log", "message": "{{ secrets.OTHER }}"},
        ]
    )
    used, misuse = secret_usage(definition)  # type: ignore[arg-type]
    assert sorted(used) == ["TOKEN"]
    assert len(used["TOKEN"]) == 7  # url, header, query, json, body, goto, fill
    assert misuse == [
        {"path": "steps[2].actions[2].value", "message": "secrets may not be used here"},
        {"path": "steps[3].message", "message": "secrets may not be used here"},
    ]


def test_the_mask_hides_every_form_of_a_value() -> None:
    mask = SecretMask()
    assert not mask
    mask.add(VALUE)
    mask.add("s3cr3t")  # contained in the first: the longer form goes first
    for form in (
        VALUE,
        "s3cr3t%20value%26more%2F%C3%A9",
        "s3cr3t+value%26more%2F%C3%A9",
        "s3cr3t value&amp;more/é",
        json.dumps(VALUE)[1:-1],
    ):
        assert mask.text(f"<{form}>") == "<***>", form
    assert mask.value({"k": [VALUE, 1, {VALUE: "x s3cr3t"}]}) == {"k": ["***", 1, {"***": "x ***"}]}
    assert mask.data(f"a {VALUE} b".encode()) == b"a *** b"


def test_values_resolve_on_use_and_a_missing_one_says_so() -> None:
    mask = SecretMask()
    source = FakeSecrets({"TOKEN": VALUE})
    values = SecretValues(lambda name: source.resolve("r", name), mask)
    assert render("x{{ secrets.TOKEN }}", {"secrets": values}) == f"x{VALUE}"
    assert mask.text(VALUE) == "***"
    assert list(values) == [] and len(values) == 0
    with pytest.raises(SecretNotFound):
        render("{{ secrets.GONE }}", {"secrets": values})
    with pytest.raises(TemplateError):
        render("{{ secrets.lower }}", {"secrets": values})  # not a name: never looked up
    assert source.asked == ["TOKEN", "GONE"]


def test_the_http_step_sends_the_value_and_masks_it_everywhere(target: Target) -> None:
    target.routes["/echo"] = lambda hit: (
        200,
        {"Content-Type": "application/json"},
        json.dumps({"headers": dict(hit.headers), "body": hit.body.decode()}).encode(),
    )
    call, logged = make_call(
        {
            "id": "call",
            "type": "http",
            "method": "POST",
            "url": target.url + "/echo?t={{ secrets.TOKEN | urlencode }}",
            "headers": {"X-Note": "is {{ secrets.TOKEN }}"},
            "json": {"password": "{{ secrets.TOKEN }}"},
        }
    )
    result = HttpKind(secrets=FakeSecrets({"TOKEN": ASCII})).run(call)
    hit = target.hits[0]
    assert hit.headers["X-Note"] == f"is {ASCII}"  # the server got the real value
    assert json.loads(hit.body) == {"password": ASCII}
    assert result["json"]["headers"]["x-note"] == "is ***"
    assert json.loads(result["json"]["body"]) == {"password": "***"}
    text = json.dumps(result) + "\n".join(m for _, m in logged.lines)
    assert "s3cr3t" not in text
    assert "/echo?t=***" in logged.lines[0][1]


def test_an_http_failure_message_is_masked_and_a_missing_secret_named(target: Target) -> None:
    target.routes["/no"] = lambda hit: (400, {}, hit.headers["X-T"].encode())
    call, _ = make_call(
        {
            "id": "c",
            "type": "http",
            "url": target.url + "/no",
            "headers": {"X-T": "{{ secrets.T }}"},
        }
    )
    with pytest.raises(StepFailure) as failed:
        HttpKind(secrets=FakeSecrets({"T": ASCII})).run(call)
    assert failed.value.code == "http_error"
    assert failed.value.message.endswith(": ***") and "s3cr3t" not in failed.value.message

    with pytest.raises(StepFailure) as missing:
        HttpKind(secrets=FakeSecrets({})).run(call)
    assert missing.value.code == "secret_not_found" and "T does not exist" in missing.value.message
    assert not missing.value.retryable
