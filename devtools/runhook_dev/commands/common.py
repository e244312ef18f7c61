"""What every caller command shares: connection options, the SDK client, output, parsing."""

from __future__ import annotations

import functools
import json
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from pydantic import BaseModel


F = TypeVar("F", bound=Callable[..., Any])

OUTPUT_FORMATS = ("table", "json")


def api_options(func: F) -> F:
    """--api-url, --api-key and --output on a command; the client arrives as `client`."""

    @click.option(
        "--api-url",
        envvar="RUNHOOK_API_URL",
        default=None,
        help="The service (env RUNHOOK_API_URL; default http://127.0.0.1:3000).",
    )
    @click.option("--api-key", envvar="RUNHOOK_API_KEY", default=None, help="env RUNHOOK_API_KEY")
    @click.option(
        "--output",
        "-o",
        type=click.Choice(OUTPUT_FORMATS),
        envvar="RUNHOOK_OUTPUT",
        default="table",
        show_default=True,
        help="json for scripts.",
    )
    @functools.wraps(func)
    def wrapper(*args: Any, api_url: str | None, api_key: str | None, **kwargs: Any) -> Any:
        from runhook_client import Runhook

        if not api_key:
            raise click.UsageError("no API key: pass --api-key or set RUNHOOK_API_KEY")
        with Runhook(api_key, base_url=api_url) as client:
            return func(*args, client=client, **kwargs)

    return wrapper  # type: ignore[return-value]


def report_error(exc: Exception) -> int:
    """One line on stderr for `exc`; the exit code (1)."""
    from runhook_client import RunhookError

    if isinstance(exc, RunhookError):
        extra = ""
        if isinstance(exc.body, dict) and exc.body.get("errors"):
            problems = exc.body["errors"]
            extra = ": " + "; ".join(
                f"{p.get('path', '')} {p.get('message', '')}".strip()
                if isinstance(p, dict)
                else str(p)
                for p in problems
            )
        print(f"runhook: error: {exc}{extra}", file=sys.stderr)
    else:
        print(f"runhook: error: {exc.__class__.__name__}: {exc}", file=sys.stderr)
    return 1


def dump(value: Any) -> Any:
    """A model (or list of models) as the API's JSON (camelCase)."""
    if isinstance(value, list):
        return [dump(v) for v in value]
    if hasattr(value, "model_dump"):
        return value.model_dump(by_alias=True, mode="json")
    return value


def print_json(value: Any) -> None:
    click.echo(json.dumps(dump(value), indent=2, ensure_ascii=False))


def print_table(
    rows: Iterable[BaseModel], columns: Sequence[tuple[str, Callable[[Any], Any]]]
) -> None:
    """A Rich table: one row per model, one column per (title, getter).

    Ids never wrap (they are copied into the next command); piped into another program
    the table is as wide as it needs to be rather than the 80 columns Rich assumes.
    """
    from rich.console import Console
    from rich.table import Table

    table = Table(box=None, header_style="bold")
    for title, _ in columns:
        is_id = title == "ID" or title.endswith(" ID")
        table.add_column(title, overflow="fold", no_wrap=is_id)
    for row in rows:
        table.add_row(*("" if (v := get(row)) is None else str(v) for _, get in columns))
    console = Console()
    if not console.is_terminal:
        console = Console(width=400)
    console.print(table)


def show(
    output: str, value: BaseModel | list[Any], columns: Sequence[tuple[str, Callable[[Any], Any]]]
) -> None:
    """`value` as JSON or as a table (a single model is a one-row table)."""
    if output == "json":
        print_json(value)
    else:
        print_table(value if isinstance(value, list) else [value], columns)


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else ""


_RELATIVE = re.compile(r"^(\d+)([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(value: str) -> datetime:
    """An ISO 8601 time, or a duration ago: 30m, 2h, 7d (click.BadParameter otherwise)."""
    match = _RELATIVE.match(value.strip())
    if match:
        delta = timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
        return datetime.now(UTC) - delta
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise click.BadParameter(f"{value!r}: an ISO time or a duration like 30m, 2h, 7d") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def load_document(path: str) -> Any:
    """A JSON or YAML file ('-': stdin), as data; click.BadParameter when unreadable."""
    try:
        text = sys.stdin.read() if path == "-" else open(path, encoding="utf-8").read()  # noqa: SIM115
    except OSError as exc:
        raise click.BadParameter(f"cannot read {path}: {exc.strerror}") from exc
    if path.endswith(".json"):
        try:
            return json.loads(text)
        except ValueError as exc:
            raise click.BadParameter(f"{path} is not valid JSON: {exc}") from exc
    import yaml  # YAML is a superset of JSON: any other file goes through it

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0]
        raise click.BadParameter(f"{path} is not valid YAML or JSON: {first}") from exc
