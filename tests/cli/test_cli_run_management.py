"""`runhook runs retry`, `runs cancel-many` and the `--tag` option/filter (issue 14),
against the local cloud, in a subprocess as callers run them."""

from __future__ import annotations

import json

import pytest

from tests.cli.test_cli_e2e import Cli, cli  # noqa: F401 - the fixture

pytestmark = pytest.mark.localcloud

FLAKY = {
    "name": "Fails unless told",
    "inputs": {"type": "object", "properties": {"ok": {"type": "boolean", "default": False}}},
    "steps": [
        {"id": "first", "type": "log", "message": "first"},
        {
            "id": "second",
            "type": "wait",
            "until": "{{ '2000-01-01T00:00:00Z' if inputs.ok else 'x' }}",
        },
    ],
}
LONG = {"name": "Long", "steps": [{"id": "nap", "type": "wait", "seconds": 60}]}


def test_start_with_tags_list_by_tag_and_retry(cli: Cli) -> None:  # noqa: F811
    task = cli.sdk.tasks.create(FLAKY)
    code, out, err = cli(
        "runs", "start", task.id, "--tag", "cli", "--tag", "nightly",
        "--metadata", '{"who": "cli"}', "--wait", "-o", "json",
    )  # fmt: skip
    assert code == 1, err
    failed = json.loads(out)
    assert failed["tags"] == ["cli", "nightly"] and failed["metadata"] == {"who": "cli"}
    listed = cli.json("runs", "list", "--tag", "nightly")
    assert [r["id"] for r in listed] == [failed["id"]]

    retry = cli.json("runs", "retry", failed["id"])
    assert (retry["retryOf"], retry["reusedSteps"]) == (failed["id"], 1)
    code, out, err = cli("runs", "retry", failed["id"])
    assert code == 1 and "run_already_retried" in err

    code, _, err = cli("runs", "retry", retry["id"], "--from-start", "--wait")
    assert code == 1, err  # the same inputs fail the same way: exit code 1 (FAILED)
    bad = cli("runs", "start", task.id, "--tag", "no spaces")
    assert bad[0] == 1 and "invalid_tags" in bad[2]
    assert cli("runs", "start", task.id, "--metadata", "[1]")[0] == 2  # bad usage


def test_cancel_many_by_ids_and_by_filter(cli: Cli) -> None:  # noqa: F811
    task = cli.sdk.tasks.create(LONG)
    first = [cli.sdk.runs.create(task.id).id for _ in range(2)]
    code, out, err = cli("runs", "cancel-many", *first, "--reason", "cli")
    assert code == 0, err
    assert out.splitlines() == [f"cancelled {r}" for r in first]
    more = [cli.sdk.runs.create(task.id).id for _ in range(2)]
    result = cli.json("runs", "cancel-many", "--task", task.id, "--wait")
    assert result["job"]["status"] == "COMPLETED" and result["job"]["cancelled"] == 2
    assert {cli.sdk.runs.get(r).status for r in first + more} == {"CANCELLED"}
