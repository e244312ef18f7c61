"""A task schedule across a real restart of the local cloud (docs/schedules.md, "Local
firing"): moto forgets its schedules when the process ends; the next start on the same
state directory puts them back and fires neither the slot already fired nor any older one.

Each phase is a fresh Python process that starts a LocalCloud on one state directory (one
cloud per process: moto's backends are process-global), sets the schedule firer's clock
(no waiting for real minutes) and prints what happened as JSON.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.localcloud, pytest.mark.slow]

PHASE = r"""
import json, sys, time
from datetime import UTC, datetime, timedelta

import httpx

from runhook_dev.devcloud import LocalCloud

state_dir, phase, key = sys.argv[1], sys.argv[2], sys.argv[3]
cloud = LocalCloud(state_dir=state_dir, api_port=0, aws_port=0, dev_api_key=key)
cloud.start()
firer = cloud.schedule_firer
# The firer's clock, set before its first round (one second after start). The second phase
# starts frozen where the first stopped: on the real clock a slow first phase may have
# crossed a minute, and the background round would fire that slot before the test looks.
now = [datetime.fromisoformat(sys.argv[5]) + timedelta(seconds=5) if phase == "second"
       else datetime.now(UTC)]
firer.clock = lambda: now[0]
api = httpx.Client(
    base_url=f"{cloud.api_url}/public/v1",
    headers={"Authorization": f"Bearer {key}"},  # the same demo key in both phases
    timeout=30,
)
out = {}
try:
    if phase == "first":
        body = {
            "name": "every minute",
            "steps": [{"id": "say", "type": "log", "message": "tick"}],
            "schedule": {"cron": "* * * * *", "overlap": "allow"},
        }
        task = api.post("/tasks", json=body).json()["task"]
        slot = datetime.fromisoformat(task["schedule"]["nextRunAt"].replace("Z", "+00:00"))
        out["taskId"], out["slot"] = task["id"], slot.isoformat()
        now[0] = slot + timedelta(seconds=5)
        firer.fire_due(now[0])
        # Every fire of this process, whoever fired it: the background round may beat the
        # explicit call once the clock has moved (the lock keeps it to one fire, not which).
        out["fired"] = [f.fire_time for f in firer.fired]
    else:
        task_id, slot = sys.argv[4], datetime.fromisoformat(sys.argv[5])
        names = [s["Name"] for s in cloud.client("scheduler").list_schedules()["Schedules"]]
        out["restored"] = f"task-{task_id}" in names
        firer.fire_due(slot + timedelta(seconds=40))
        out["same_minute"] = [f.fire_time for f in firer.fired]
        later = slot + timedelta(minutes=3, seconds=2)
        now[0] = later
        firer.fire_due(later)
        out["after_gap"] = [f.fire_time for f in firer.fired]
        out["again"] = [f.fire_time for f in firer.fire_due(later)]
    task_id = out.get("taskId") or sys.argv[4]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        answer = api.get(f"/tasks/{task_id}/runs")
        runs = answer.json().get("runs", []) if answer.status_code == 200 else []
        out["last_answer"] = answer.text[:300]
        if len(runs) == (1 if phase == "first" else 2):
            break
        time.sleep(0.5)
    out["runs"] = sorted((r["clientRequestId"], r["triggerType"]) for r in runs)
finally:
    api.close()
    cloud.stop()
print("RESULT " + json.dumps(out))
"""


def run_phase(state_dir: Path, env: dict[str, str], *args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", PHASE, str(state_dir), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    results = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0 and results, done.stdout[-3000:] + done.stderr[-3000:]
    return dict(json.loads(results[-1].removeprefix("RESULT ")))


def test_a_restart_keeps_the_schedule_and_fires_no_slot_twice(
    tmp_path: Path, clean_env: dict[str, str]
) -> None:
    env = {**clean_env, "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
    state_dir = tmp_path / "state"
    key = "sk_test_" + secrets.token_urlsafe(32)
    first = run_phase(state_dir, env, "first", key)
    slot = str(first["slot"])
    assert first["fired"] == [slot.replace("+00:00", "Z")]
    [(request_id, trigger)] = first["runs"]
    assert trigger == "schedule" and request_id.startswith(f"schedule:{first['fired'][0]}")
    assert (state_dir / "schedules" / "task-schedules.json").is_file()

    second = run_phase(state_dir, env, "second", key, str(first["taskId"]), slot)
    assert second["restored"] is True
    assert second["same_minute"] == []  # the slot fired before the restart: not again
    assert len(second["after_gap"]) == 1 and second["again"] == []
    assert second["after_gap"][0].endswith(":00Z")
    assert second["after_gap"] != first["fired"]
    assert len(second["runs"]) == 2, second
    assert {t for _, t in second["runs"]} == {"schedule"}
