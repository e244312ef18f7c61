"""The `runhook` command: Click for the commands, Rich for tables and progress.

Two kinds of commands live here:

- the callers' commands (`tasks`, `runs`, `webhooks endpoints|deliveries|replay|recover`),
  in `runhook_dev.commands.*`, built on the SDK (`runhook_client`);
- the developers' commands that predate them (`dev`, `admin …`, `webhooks listen`), still
  argparse modules with ``add_parser(subparsers)`` (listed in `LEGACY_MODULES`). Click
  hands them their arguments untouched, so their flags, help and exit codes are exactly what
  the Makefile, tests/support/devprocess.py and tests/localcloud rely on.

Why Click and not Typer: Click is already pinned in the environment (Typer, built on it,
is not installed here) and gives the same commands, CliRunner included. `runhook --help`
stays fast because every module here imports only Click at the top; httpx, pydantic, Rich
and the local cloud are imported by the command that needs them.

Errors: a RunhookError, a bad file or a bad value prints one line (`runhook: error: …`)
and exits non-zero; set RUNHOOK_DEBUG=1 to see the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

import click

from runhook_dev.commands import runs, secrets, smoke, tasks, webhooks

# The argparse commands: `runhook dev`, `runhook admin …`, `runhook webhooks listen`.
LEGACY_MODULES: tuple[str, ...] = (
    "runhook_dev.devcloud.command",  # runhook dev
    "runhook_dev.admin_cli",  # runhook admin ...
    "runhook_dev.webhooks_cli",  # runhook webhooks listen
)
PASS_THROUGH = {"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []}


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of the legacy commands (dev, admin, webhooks listen)."""
    from runhook import __version__

    parser = argparse.ArgumentParser(prog="runhook")
    parser.add_argument("--version", action="version", version=f"runhook {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="<command>")
    for name in LEGACY_MODULES:
        importlib.import_module(name).add_parser(subparsers)
    return parser


def run_legacy(argv: Sequence[str]) -> int:
    """Run a legacy command exactly as the argparse CLI did."""
    args = build_parser().parse_args(list(argv))
    return int(args.func(args) or 0)


def _version() -> str:
    from runhook import __version__

    return __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """runhook: run saved automations through an API, hear about them by webhook.

    `runhook --version` prints the version.

    The API URL and key come from --api-url/--api-key or RUNHOOK_API_URL/RUNHOOK_API_KEY
    (default URL: the local cloud, http://127.0.0.1:3000). --output json for scripts.
    """


@cli.command(context_settings=PASS_THROUGH, add_help_option=False)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def dev(args: tuple[str, ...]) -> None:
    """Run the whole service locally (DynamoDB Local + moto + the API)."""
    sys.exit(run_legacy(["dev", *args]))


@cli.command(context_settings=PASS_THROUGH, add_help_option=False)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def admin(args: tuple[str, ...]) -> None:
    """Operator commands that write straight to the table (bootstrap, create-key, …)."""
    sys.exit(run_legacy(["admin", *args]))


@webhooks.group.command(context_settings=PASS_THROUGH, add_help_option=False)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def listen(args: tuple[str, ...]) -> None:
    """A local receiver that verifies and prints deliveries (like `stripe listen`)."""
    sys.exit(run_legacy(["webhooks", "listen", *args]))


cli.add_command(tasks.group)
cli.add_command(runs.group)
cli.add_command(webhooks.group)
cli.add_command(secrets.group)
cli.add_command(smoke.command)  # operations (issue 17): after a deploy


def main(argv: Sequence[str] | None = None) -> int:
    """The console script: the exit code of the command; one line for any error."""
    from runhook_dev.commands.common import report_error

    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--version"]:
        print(f"runhook {_version()}")
        return 0
    try:
        result = cli.main(args=args, prog_name="runhook", standalone_mode=False)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.Abort:
        print("runhook: aborted", file=sys.stderr)
        return 130
    except click.exceptions.NoArgsIsHelpError as exc:  # `runhook`, `runhook runs`: the help
        print(exc.format_message(), file=sys.stderr)
        return 2
    except click.ClickException as exc:  # bad usage or input: one line, no usage dump
        print(f"runhook: error: {exc.format_message()}", file=sys.stderr)
        return exc.exit_code
    except Exception as exc:
        if os.environ.get("RUNHOOK_DEBUG"):
            raise
        return report_error(exc)
    return result if isinstance(result, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
