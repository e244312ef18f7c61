"""`runhook secrets put|list|delete` against the local cloud: the value comes from stdin
(or a hidden prompt), never from the command line, and is never printed."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.cli.test_cli_e2e import Cli
from tests.support.orgs import Organizations

pytestmark = pytest.mark.localcloud


@pytest.fixture()
def cli(organizations: Organizations, local_cloud: Any) -> Iterator[Cli]:
    made = Cli(local_cloud.api_url, organizations.create("cli secrets").key)
    yield made
    made.sdk.close()


def test_put_from_stdin_list_and_delete(cli: Cli) -> None:
    value = f"v-{uuid.uuid4().hex}"
    done = subprocess.run(
        cli.command("secrets", "put", "SHOP_PASSWORD", "--from-file", "-", "--description", "shop"),
        input=value + "\n",
        env={**os.environ, **cli.env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "secret SHOP_PASSWORD saved\n"
    listed = cli.json("secrets", "list")
    assert [(s["name"], s["description"]) for s in listed] == [("SHOP_PASSWORD", "shop")]
    code, table, err = cli("secrets", "list")
    assert code == 0 and "SHOP_PASSWORD" in table and value not in table + json.dumps(listed)
    # The stored value is the one given, without the newline `echo` adds.
    task = cli.sdk.tasks.create(
        {
            "name": "uses it",
            "steps": [
                {
                    "id": "c",
                    "type": "http",
                    "url": "https://example.com/?p={{ secrets.SHOP_PASSWORD }}",
                }
            ],
        }
    )
    assert task.id
    code, out, err = cli("secrets", "delete", "SHOP_PASSWORD")
    assert code == 0 and out == "secret SHOP_PASSWORD deleted\n", err
    code, out, err = cli("secrets", "delete", "SHOP_PASSWORD")
    assert code == 1 and "secret_not_found" in err


def test_a_bad_name_is_one_line_and_exit_1(cli: Cli) -> None:
    done = subprocess.run(
        cli.command("secrets", "put", "bad-name", "--from-file", "-"),
        input="abcdef",
        env={**os.environ, **cli.env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert "invalid_secret_name" in done.stderr and len(done.stderr.strip().splitlines()) == 1
