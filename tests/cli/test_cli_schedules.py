"""`runhook tasks schedule pause|resume` and a scheduled task's round trip through
`tasks get -o json` → `tasks apply` (docs/schedules.md), on the local cloud."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cli.test_cli_e2e import Cli
from tests.support.orgs import Organizations

pytestmark = pytest.mark.localcloud


@pytest.fixture()
def cli(organizations: Organizations, local_cloud: Any) -> Iterator[Cli]:
    org = organizations.create("cli-schedules")
    made = Cli(local_cloud.api_url, org.key)
    yield made
    made.sdk.close()


@pytest.mark.slow
def test_schedule_pause_resume_and_apply_round_trip(cli: Cli, tmp_path: Path) -> None:
    name = f"Scheduled {time.time_ns()}"
    path = tmp_path / "task.yaml"
    path.write_text(
        f"name: {name}\n"
        "steps:\n  - id: hello\n    type: log\n    message: hi\n"
        "schedule:\n  cron: '15 7 * * *'\n  timezone: Europe/Berlin\n"
    )
    code, out, err = cli("tasks", "apply", "-f", str(path))
    assert code == 0 and "created (version 1)" in out, err
    [task] = [t for t in cli.json("tasks", "list") if t["name"] == name]
    assert task["schedule"]["nextRunAt"]

    code, out, err = cli("tasks", "schedule", "pause", task["id"])
    assert code == 0, err
    assert out.strip() == (
        f"task {task['id']} (version 2): cron '15 7 * * *' (Europe/Berlin), paused"
    )
    code, out, err = cli("tasks", "schedule", "resume", task["id"])
    assert code == 0 and "version 3" in out and "next run 20" in out, err
    assert cli.json("tasks", "schedule", "pause", task["id"])["schedule"]["enabled"] is False

    exported = tmp_path / "task.json"  # nextRunAt is shown, not saved: apply takes it back
    exported.write_text(json.dumps(cli.json("tasks", "get", task["id"])))
    applied = cli.json("tasks", "apply", "-f", str(exported))
    assert applied["version"] == 5 and applied["schedule"]["enabled"] is False

    plain = cli.sdk.tasks.create(
        {"name": f"plain {name}", "steps": [{"id": "hello", "type": "log", "message": "hi"}]}
    )
    code, _, err = cli("tasks", "schedule", "resume", plain.id)
    assert code == 1 and err.strip() == "runhook: error: 409 task_not_scheduled"
    cli("tasks", "delete", task["id"])
    code, _, err = cli("tasks", "schedule", "pause", task["id"])
    assert code == 1 and err.strip() == "runhook: error: 404 task_not_found"
