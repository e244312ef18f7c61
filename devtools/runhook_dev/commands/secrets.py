"""`runhook secrets put|list|delete` (an admin key; docs/secrets.md).

A value never goes on the command line, where shell history and `ps` would keep it: it
is typed at a hidden prompt, or read from a file or stdin (`--from-file -`), and it is
never printed (the service never returns it either).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from runhook_dev.commands.common import api_options, show, when

if TYPE_CHECKING:
    from runhook_client import Runhook

COLUMNS = (
    ("NAME", lambda s: s.name),
    ("DESCRIPTION", lambda s: s.description or ""),
    ("UPDATED", lambda s: when(s.updated_at)),
    ("LAST USED", lambda s: when(s.last_used_at)),
)


@click.group("secrets")
def group() -> None:
    """Organization secrets for {{ secrets.NAME }} in tasks: put, list, delete."""


def _read_value(path: str | None) -> str:
    if path is None:
        value: str = click.prompt("Value", hide_input=True, confirmation_prompt=True)
        return value
    if path == "-":
        data = sys.stdin.read()
    else:
        with open(path, encoding="utf-8") as handle:
            data = handle.read()
    return data[:-1] if data.endswith("\n") else data  # `echo value | …` adds one


@group.command("put")
@click.argument("name")
@click.option("--from-file", "path", default=None, help="read the value from a file ('-': stdin)")
@click.option("--description", default=None, help="what the secret is for")
@api_options
def put(client: Runhook, output: str, name: str, path: str | None, description: str | None) -> None:
    """Create or replace secret NAME (upper snake case); the value is asked for, hidden."""
    secret = client.secrets.put(name, _read_value(path), description=description)
    if output == "json":
        show(output, secret, COLUMNS)
    else:
        click.echo(f"secret {secret.name} saved")


@group.command("list")
@api_options
def list_secrets(client: Runhook, output: str) -> None:
    """The organization's secrets (names and dates; values are never shown)."""
    show(output, client.secrets.list(), COLUMNS)


@group.command("delete")
@click.argument("name")
@api_options
def delete(client: Runhook, output: str, name: str) -> None:
    """Delete secret NAME (runs of tasks that use it then fail with secret_not_found)."""
    client.secrets.delete(name)
    click.echo(f"secret {name} deleted")
