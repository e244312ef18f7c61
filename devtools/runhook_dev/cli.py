"""The `runhook` command.

Subcommands live in their own modules, listed in `COMMAND_MODULES`. Each module has
``add_parser(subparsers)``, which adds its parser and sets ``func=<callable(args) -> int>``
with ``set_defaults``. Keep those modules light at import time: import heavy things
inside the function that runs the command (``runhook --help`` imports every module).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Add a subcommand: write a module with `add_parser(subparsers)` and list it here.
COMMAND_MODULES: tuple[str, ...] = (
    "runhook_dev.devcloud.command",  # runhook dev
    "runhook_dev.admin_cli",  # runhook admin ...
    "runhook_dev.webhooks_cli",  # runhook webhooks listen
)


def build_parser() -> argparse.ArgumentParser:
    from runhook import __version__

    parser = argparse.ArgumentParser(
        prog="runhook",
        description="runhook: run saved automations through an API, hear about them by webhook.",
    )
    parser.add_argument("--version", action="version", version=f"runhook {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="<command>")
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    return int(func(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
