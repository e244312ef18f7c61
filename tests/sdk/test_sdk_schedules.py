"""The SDK's task-schedule calls (pause/resume, the schedule on the task) end to end on the
local cloud, sync and async (docs/schedules.md)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from runhook_client import Conflict, NotFound, Runhook, TaskSchedule
from tests.support.orgs import Organizations

pytestmark = pytest.mark.localcloud

SCHEDULED = {
    "name": "sdk scheduled",
    "steps": [{"id": "say", "type": "log", "message": "tick"}],
    "schedule": {"cron": "0 6 * * *", "timezone": "Asia/Tokyo", "overlap": "allow"},
}


def test_pause_and_resume_with_the_sync_client(
    organizations: Organizations, local_cloud: Any
) -> None:
    org, stranger = organizations.create("sdk-sched"), organizations.create("sdk-other")
    with Runhook(org.key, base_url=local_cloud.api_url) as sdk:
        task = sdk.tasks.create(SCHEDULED)
        assert isinstance(task.schedule, TaskSchedule)
        assert task.schedule.timezone == "Asia/Tokyo" and task.schedule.overlap == "allow"
        assert task.schedule.next_run_at is not None
        assert task.schedule.next_run_at.hour == 21  # 06:00 in Tokyo is 21:00 UTC
        paused = sdk.tasks.pause_schedule(task.id)
        assert paused.schedule is not None and not paused.schedule.enabled
        assert paused.schedule.next_run_at is None and paused.version == task.version + 1
        resumed = sdk.tasks.resume_schedule(task.id)
        assert resumed.schedule is not None and resumed.schedule.enabled
        plain = sdk.tasks.create({"name": "plain", "steps": SCHEDULED["steps"]})
        with pytest.raises(Conflict) as caught:
            sdk.tasks.pause_schedule(plain.id)
        assert caught.value.detail == "task_not_scheduled"
        sdk.tasks.delete(task.id)
    with Runhook(stranger.key, base_url=local_cloud.api_url) as other, pytest.raises(NotFound):
        other.tasks.pause_schedule(plain.id)


def test_pause_and_resume_with_the_async_client(
    organizations: Organizations, local_cloud: Any
) -> None:
    from runhook_client import AsyncRunhook

    org = organizations.create("sdk-sched-async")

    async def flow() -> tuple[bool, bool]:
        async with AsyncRunhook(org.key, base_url=local_cloud.api_url) as client:
            task = await client.tasks.create(SCHEDULED)
            paused = await client.tasks.pause_schedule(task.id)
            resumed = await client.tasks.resume_schedule(task.id)
            await client.tasks.delete(task.id)
            assert paused.schedule is not None and resumed.schedule is not None
            return paused.schedule.enabled, resumed.schedule.enabled

    assert asyncio.run(flow()) == (False, True)
