"""`runhook tasks apply|list|get|delete|schedule pause|schedule resume`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from runhook_dev.commands.common import api_options, load_document, show, when

if TYPE_CHECKING:
    from runhook_client import Runhook, Task

COLUMNS = (
    ("ID", lambda t: t.id),
    ("NAME", lambda t: t.name),
    ("VERSION", lambda t: t.version),
    ("STEPS", lambda t: len(t.steps)),
    ("UPDATED", lambda t: when(t.updated_at)),
)
# Fields of a task resource that are not part of its definition (`tasks get -o json` output
# can be applied back).
READ_ONLY = ("id", "version", "createdAt", "updatedAt")


@click.group("tasks")
def group() -> None:
    """Saved tasks: apply a definition file, list, show, delete."""


@group.command("apply")
@click.option("-f", "--file", "path", required=True, help="task.yaml or task.json ('-': stdin)")
@api_options
def apply(client: Runhook, output: str, path: str) -> None:
    """Create the task, or save a new version of it.

    The task is the one whose `id` the file gives, else the only task with the file's
    `name`; with neither, a new task is created.
    """
    document = load_document(path)
    if not isinstance(document, dict):
        raise click.BadParameter(f"{path}: a task definition is a mapping (name, steps, …)")
    task_id = document.get("id") or _task_named(client, document.get("name"))
    definition = {k: v for k, v in document.items() if k not in READ_ONLY}
    if isinstance(definition.get("schedule"), dict):  # `nextRunAt` is shown, not saved
        definition["schedule"] = {
            k: v for k, v in definition["schedule"].items() if k != "nextRunAt"
        }
    if task_id:
        task = client.tasks.update(str(task_id), definition)
        verb = "updated"
    else:
        task = client.tasks.create(definition)
        verb = "created"
    if output == "json":
        show(output, task, COLUMNS)
    else:
        click.echo(f"task {task.id} {verb} (version {task.version}): {task.name}")


def _task_named(client: Runhook, name: Any) -> str | None:
    if not isinstance(name, str):
        return None
    same = [t for t in client.tasks.list() if t.name == name]
    if len(same) > 1:
        ids = ", ".join(t.id for t in same)
        raise click.UsageError(f"{len(same)} tasks are named {name!r} ({ids}): give `id`")
    return same[0].id if same else None


@group.command("list")
@api_options
def list_tasks(client: Runhook, output: str) -> None:
    """The organization's tasks, newest first."""
    show(output, list(client.tasks.list()), COLUMNS)


@group.command("get")
@click.argument("task_id")
@api_options
def get(client: Runhook, output: str, task_id: str) -> None:
    """A task (latest version); -o json gives a definition `apply` takes back."""
    task: Task = client.tasks.get(task_id)
    show(output, task, COLUMNS)


@group.command("delete")
@click.argument("task_id")
@api_options
def delete(client: Runhook, output: str, task_id: str) -> None:
    """Delete a task (its runs stay readable)."""
    client.tasks.delete(task_id)
    if output == "table":
        click.echo(f"task {task_id} deleted")


# -- schedule (docs/schedules.md) -----------------------------------------------------------
@group.group("schedule")
def schedule() -> None:
    """A task's schedule: pause or resume it (the schedule itself is part of the task file)."""


def _show_schedule(output: str, task: Task) -> None:
    """What `pause` and `resume` print: the task as JSON, or its schedule on one line."""
    if output == "json":
        show(output, task, COLUMNS)
    else:
        click.echo(_schedule_line(task))


def _schedule_line(task: Task) -> str:
    sched = task.schedule
    if sched is None:
        return f"task {task.id}: no schedule"
    what = (sched.cron and f"cron {sched.cron!r} ({sched.timezone})") or f"{sched.rate}"
    state = f"next run {when(sched.next_run_at)}" if sched.enabled else "paused"
    return f"task {task.id} (version {task.version}): {what}, {state}"


@schedule.command("pause")
@click.argument("task_id")
@api_options
def pause(client: Runhook, output: str, task_id: str) -> None:
    """Pause the task's schedule (nothing fires until it is resumed)."""
    _show_schedule(output, client.tasks.pause_schedule(task_id))


@schedule.command("resume")
@click.argument("task_id")
@api_options
def resume(client: Runhook, output: str, task_id: str) -> None:
    """Resume the task's schedule (it fires from its next slot on; missed ones do not)."""
    _show_schedule(output, client.tasks.resume_schedule(task_id))
