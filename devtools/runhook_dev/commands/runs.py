"""`runhook runs start|list|get|cancel|resume|logs|retry|cancel-many`.

Exit codes of `runs start --wait` (and of `runs get --wait`): 0 COMPLETED, 1 FAILED (or any
error), 2 bad usage, 3 CANCELLED, 4 still running when --timeout ran out.
"""

from __future__ import annotations

import itertools
import json
import sys
import time
from typing import TYPE_CHECKING, Any

import click

from runhook_dev.commands.common import api_options, load_document, parse_since, show, when

if TYPE_CHECKING:
    from runhook_client import LogEntry, Run, Runhook

EXIT_FOR_STATUS = {"COMPLETED": 0, "FAILED": 1, "CANCELLED": 3}
EXIT_TIMEOUT = 4
STATUSES = ("PENDING", "RUNNING", "COMPLETED", "FAILED", "CANCELLED")


def _progress(run: Run) -> str:
    if run.progress is None:
        return ""
    return f"{run.progress.current_step}/{run.progress.steps_total}"


COLUMNS = (
    ("ID", lambda r: r.id),
    ("TASK", lambda r: r.task_id),
    ("STATUS", lambda r: r.status + (" (waiting)" if r.waiting else "")),
    ("STEPS", _progress),
    ("CREATED", lambda r: when(r.timestamps.created_at)),
    ("FINISHED", lambda r: when(r.timestamps.finished_at)),
)


@click.group("runs")
def group() -> None:
    """Start runs, follow them, answer them, read their logs."""


def _inputs(pairs: tuple[str, ...], json_pairs: tuple[str, ...], path: str | None) -> Any:
    """--inputs-file first, then --input key=value (strings), then --input-json key=JSON."""
    inputs: dict[str, Any] = {}
    if path:
        document = load_document(path)
        if not isinstance(document, dict):
            raise click.BadParameter(f"{path}: the inputs are a JSON object")
        inputs.update(document)
    for pair, typed in [(p, False) for p in pairs] + [(p, True) for p in json_pairs]:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r}: expected key=value")
        try:
            inputs[key] = json.loads(value) if typed else value
        except ValueError as exc:
            raise click.BadParameter(f"{pair!r}: the value is not JSON") from exc
    return inputs


@group.command("start")
@click.argument("task_id")
@click.option("--input", "-i", "pairs", multiple=True, metavar="KEY=VALUE", help="A string input.")
@click.option("--input-json", "json_pairs", multiple=True, metavar="KEY=JSON", help="Typed.")
@click.option("--inputs-file", type=str, help="A JSON or YAML object of inputs.")
@click.option("--client-request-id", help="Idempotency: the same id returns the same run.")
@click.option("--tag", "tags", multiple=True, help="A tag of the run (repeat for more; ≤ 10).")
@click.option("--metadata", help="A JSON object kept with the run (≤ 4 KB).")
@click.option("--wait", is_flag=True, help="Follow the run to its end; exit code by status.")
@click.option("--timeout", type=float, default=3600.0, show_default=True, help="For --wait (s).")
@api_options
def start(
    client: Runhook,
    output: str,
    task_id: str,
    pairs: tuple[str, ...],
    json_pairs: tuple[str, ...],
    inputs_file: str | None,
    client_request_id: str | None,
    tags: tuple[str, ...],
    metadata: str | None,
    wait: bool,
    timeout: float,
) -> int:
    """Start a run of TASK_ID; with --wait, show its progress and print its outputs."""
    inputs = _inputs(pairs, json_pairs, inputs_file)
    run = client.runs.create(
        task_id,
        inputs,
        client_request_id=client_request_id,
        tags=list(tags) or None,
        metadata=_json_object(metadata, "--metadata"),
    )
    if not wait:
        show(output, run, COLUMNS)
        return 0
    return _finish(client, run, output, timeout)


def _finish(client: Runhook, run: Run, output: str, timeout: float) -> int:
    """Follow `run` to its end, print the result, and return the exit code."""
    from runhook_client import WaitTimeout

    try:
        run = follow(client, run, timeout, live=output == "table")
    except WaitTimeout as exc:
        click.echo(f"runhook: {exc}", err=True)
        return EXIT_TIMEOUT
    if output == "json":
        show(output, run, COLUMNS)
    elif run.status == "COMPLETED":
        click.echo(json.dumps(run.outputs, indent=2, ensure_ascii=False))
    if run.status == "FAILED" and run.error:
        where = f" at step {run.error.node_id}" if run.error.node_id else ""
        click.echo(f"run {run.id} FAILED{where}: {run.error.code}: {run.error.message}", err=True)
    elif run.status != "COMPLETED":
        reason = f": {run.cancel_reason}" if run.cancel_reason else ""
        click.echo(f"run {run.id} {run.status}{reason}", err=True)
    return EXIT_FOR_STATUS.get(run.status, 1)


def follow(client: Runhook, run: Run, timeout: float, *, live: bool) -> Run:
    """Poll `run` until it ends, with a Rich progress line on stderr: the steps done, the
    status and the latest log line (or the approval it waits for). WaitTimeout at `timeout`."""
    from rich.console import Console
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from runhook_client import WaitTimeout

    columns = (
        TextColumn("{task.fields[status]:<9}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
    )
    deadline, interval, after, latest = time.monotonic() + timeout, 0.3, None, ""
    with Progress(*columns, console=Console(stderr=True), disable=not live) as progress:
        bar = progress.add_task("", total=None, status=run.status)
        while True:
            run = client.runs.get(run.id)
            entries = _read_all(client, run.id, after)
            if entries:
                after, last = entries[-1].id, entries[-1]
                latest = f"[{last.node_id}] {last.message}" if last.node_id else last.message
            line = latest
            if run.waiting:
                line = f"waiting: {run.waiting.prompt} (runhook runs resume {run.id} --approve)"
            steps = run.progress
            progress.update(
                bar,
                status=run.status,
                total=steps.steps_total if steps else None,
                completed=steps.current_step if steps else 0,
                description=escape(line.splitlines()[0][:100] if line else ""),
            )
            if run.is_terminal:
                return run
            if time.monotonic() >= deadline:
                raise WaitTimeout(f"run {run.id} still {run.status} after {timeout:g}s", run)
            time.sleep(interval)
            interval = min(interval * 1.5, 2.0)


def _read_all(client: Runhook, run_id: str, after: str | None) -> list[LogEntry]:
    entries: list[LogEntry] = []
    while True:
        page = client.runs.logs(run_id, after=after)
        entries += page.log_entries
        if not page.next_cursor:
            return entries
        after = page.next_cursor


@group.command("list")
@click.option("--status", type=click.Choice(STATUSES, case_sensitive=False))
@click.option("--task", "task_id", help="Only this task's runs.")
@click.option("--since", help="Created since: an ISO time or 30m, 2h, 7d.")
@click.option("--limit", type=click.IntRange(1), default=50, show_default=True)
@click.option("--tag", help="Only runs carrying this tag (not with --status).")
@api_options
def list_runs(
    client: Runhook,
    output: str,
    status: str | None,
    task_id: str | None,
    since: str | None,
    limit: int,
    tag: str | None,
) -> None:
    """The organization's runs, newest first."""
    runs = client.runs.list(
        status=status.upper() if status else None,
        task_id=task_id,
        created_after=parse_since(since) if since else None,
        page_size=min(limit, 100),
        tag=tag,
    )
    show(output, list(itertools.islice(runs, limit)), COLUMNS)


@group.command("get")
@click.argument("run_id")
@click.option("--wait", is_flag=True, help="Follow the run to its end; exit code by status.")
@click.option("--timeout", type=float, default=3600.0, show_default=True, help="For --wait (s).")
@api_options
def get(client: Runhook, output: str, run_id: str, wait: bool, timeout: float) -> int:
    """A run's latest state (with --wait: its end, as `runs start --wait`)."""
    run = client.runs.get(run_id)
    if wait:
        return _finish(client, run, output, timeout)
    show(output, run, COLUMNS)
    if output == "table" and run.waiting:
        click.echo(f"waiting at {run.waiting.node_id}: {run.waiting.prompt}")
    if output == "table" and run.error:
        click.echo(f"error: {run.error.code}: {run.error.message}")
    return 0


@group.command("cancel")
@click.argument("run_id")
@click.option("--reason", help="Kept as the run's cancelReason (≤ 1024 characters).")
@api_options
def cancel(client: Runhook, output: str, run_id: str, reason: str | None) -> None:
    """Cancel a pending or running run (a finished run is left as it is)."""
    show(output, client.runs.cancel(run_id, reason=reason), COLUMNS)


@group.command("resume")
@click.argument("run_id")
@click.option("--approve/--reject", "approve", default=None, help="The answer (required).")
@click.option("--data", help="A JSON object: the approval step's `data`.")
@click.option("--comment", help="The approval step's `comment`.")
@api_options
def resume(
    client: Runhook,
    output: str,
    run_id: str,
    approve: bool | None,
    data: str | None,
    comment: str | None,
) -> None:
    """Answer a run waiting for a human: --approve continues it, --reject fails it."""
    if approve is None:
        raise click.UsageError("say --approve or --reject")
    payload: Any = None
    if data is not None:
        try:
            payload = json.loads(data)
        except ValueError as exc:
            raise click.BadParameter(f"--data is not JSON: {exc}") from exc
        if not isinstance(payload, dict):
            raise click.BadParameter("--data must be a JSON object")
    run = client.runs.resume(run_id, approve=approve, data=payload, comment=comment)
    show(output, run, COLUMNS)


@group.command("logs")
@click.argument("run_id")
@click.option("--follow", "-f", is_flag=True, help="Print new entries until the run ends.")
@click.option("--after", help="Start after this log entry id.")
@api_options
def logs(client: Runhook, output: str, run_id: str, follow: bool, after: str | None) -> None:
    """A run's log entries in time order (-o json: one JSON object per line)."""
    entries = client.runs.tail(run_id, after=after) if follow else _read_all(client, run_id, after)
    for entry in entries:
        if output == "json":
            click.echo(json.dumps(entry.model_dump(by_alias=True, mode="json")))
        else:
            stamp = entry.timestamp.strftime("%H:%M:%S.%f")[:-3] if entry.timestamp else ""
            node = f"[{entry.node_id}] " if entry.node_id else ""
            click.echo(f"{stamp} {entry.level.upper():<7} {node}{entry.message}")
        sys.stdout.flush()


# -- run management (issue 14) ------------------------------------------------------------------
def _json_object(value: str | None, option: str) -> dict[str, Any] | None:
    if value is None:
        return None
    try:
        parsed = json.loads(value)
    except ValueError as exc:
        raise click.BadParameter(f"{option}: not JSON") from exc
    if not isinstance(parsed, dict):
        raise click.BadParameter(f"{option}: a JSON object")
    return parsed


@group.command("retry")
@click.argument("run_id")
@click.option("--from-start", is_flag=True, help="Rerun every step (default: from the failed one).")
@click.option("--inputs-file", type=str, help="New inputs (a JSON or YAML object): from the start.")
@click.option("--client-request-id", help="Idempotency: the same id returns the same retry.")
@click.option("--wait", is_flag=True, help="Follow the new run to its end; exit code by status.")
@click.option("--timeout", type=float, default=3600.0, show_default=True, help="For --wait (s).")
@api_options
def retry(
    client: Runhook,
    output: str,
    run_id: str,
    from_start: bool,
    inputs_file: str | None,
    client_request_id: str | None,
    wait: bool,
    timeout: float,
) -> int:
    """Retry a FAILED or CANCELLED run: a new run that skips the steps that succeeded."""
    inputs = _inputs((), (), inputs_file) if inputs_file else None
    run = client.runs.retry(
        run_id, from_start=from_start, inputs=inputs, client_request_id=client_request_id
    )
    if output == "table" and not wait:
        click.echo(f"retry of {run.retry_of}: {run.reused_steps} step(s) carried over")
    if not wait:
        show(output, run, COLUMNS)
        return 0
    return _finish(client, run, output, timeout)


@group.command("cancel-many")
@click.argument("run_ids", nargs=-1)
@click.option("--task", "task_id", help="Filter: this task's runs.")
@click.option("--status", type=click.Choice(("PENDING", "RUNNING"), case_sensitive=False))
@click.option("--before", help="Filter: created before an ISO time or 30m, 2h, 7d ago.")
@click.option("--limit", type=click.IntRange(1, 1000), help="Filter: at most this many runs.")
@click.option("--reason", help="Kept as each run's cancelReason.")
@click.option("--wait", is_flag=True, help="Filter: wait for the background job to finish.")
@api_options
def cancel_many(
    client: Runhook,
    output: str,
    run_ids: tuple[str, ...],
    task_id: str | None,
    status: str | None,
    before: str | None,
    limit: int | None,
    reason: str | None,
    wait: bool,
) -> None:
    """Cancel up to 100 runs by id (RUN_IDS), or every match of a filter in the background."""
    result = client.runs.cancel_many(
        list(run_ids) or None,
        task_id=task_id,
        status=status.upper() if status else None,
        created_before=parse_since(before) if before else None,
        limit=limit,
        reason=reason,
    )
    job = result.job
    while wait and job is not None and not job.is_done:
        time.sleep(0.5)
        job = client.runs.bulk_cancel_job(job.id)
    if output == "json":
        show(output, result.model_copy(update={"job": job}), ())
    elif job is not None:
        click.echo(f"job {job.id}: {job.status}, {job.cancelled} cancelled, {job.skipped} skipped")
    else:
        for run_id in result.cancelled:
            click.echo(f"cancelled {run_id}")
        for skip in result.skipped:
            click.echo(f"skipped {skip.run_id}: {skip.reason}")
