"""The SDK's run management (issue 14) against the local cloud: tags and metadata,
listing by tag, retry from the failed step, bulk cancel by ids and by filter; the sync
and the async client alike."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest

from runhook_client import BulkCancelJob, Conflict, InvalidRequest, Runhook
from tests.support.orgs import Organizations

pytestmark = pytest.mark.localcloud

FAILING = {
    "name": "Fails at the second step",
    "inputs": {"type": "object", "properties": {"fail": {"type": "boolean", "default": True}}},
    "tags": ["sdk"],
    "steps": [
        {"id": "first", "type": "transform", "values": {"n": "`41`"}},
        {  # an `until` that is no time fails the step; one in the past passes at once
            "id": "second",
            "type": "wait",
            "until": "{{ 'no time' if inputs.fail else '2000-01-01T00:00:00Z' }}",
        },
    ],
}
LONG = {"name": "Long", "steps": [{"id": "nap", "type": "wait", "seconds": 60}]}


@pytest.fixture()
def sdk(organizations: Organizations, local_cloud: Any) -> Iterator[Runhook]:
    org = organizations.create("sdk-runmgmt")
    with Runhook(org.key, base_url=local_cloud.api_url) as client:
        yield client


def test_tags_retry_and_bulk_cancel_with_the_sync_client(sdk: Runhook) -> None:
    failing = sdk.tasks.create(FAILING)
    assert failing.tags == ["sdk"]
    run = sdk.runs.create(failing.id, tags=["first-try"], metadata={"order": 7})
    assert run.tags == ["sdk", "first-try"] and run.metadata == {"order": 7}
    failed = sdk.runs.wait(run.id, timeout=60)
    assert failed.status == "FAILED"
    assert [r.id for r in sdk.runs.list(tag="first-try")] == [run.id]

    retry = sdk.runs.retry(run.id, client_request_id="sdk-retry")
    assert (retry.retry_of, retry.reused_steps) == (run.id, 1)
    assert sdk.runs.retry(run.id, client_request_id="sdk-retry").id == retry.id
    assert sdk.runs.wait(retry.id, timeout=60).status == "FAILED"  # it fails again
    assert sdk.runs.get(run.id).retried_by == retry.id
    with pytest.raises(Conflict) as already:
        sdk.runs.retry(run.id)
    assert already.value.detail == "run_already_retried"
    fresh = sdk.runs.retry(retry.id, inputs={"fail": False})
    assert fresh.reused_steps == 0
    assert sdk.runs.wait(fresh.id, timeout=60).status == "COMPLETED"

    long = sdk.tasks.create(LONG)
    ids = [sdk.runs.create(long.id).id for _ in range(2)]
    result = sdk.runs.cancel_many(ids + [fresh.id], reason="sdk")
    assert result.cancelled == ids and result.job is None
    assert [(s.run_id, s.reason) for s in result.skipped] == [(fresh.id, "already_terminal")]
    with pytest.raises(InvalidRequest):
        sdk.runs.cancel_many(["not-a-run"])

    more = [sdk.runs.create(long.id).id for _ in range(2)]
    started = sdk.runs.cancel_many(task_id=long.id, reason="by filter")
    assert started.job is not None
    job = wait_for_job(lambda: sdk.runs.bulk_cancel_job(started.job.id))  # type: ignore[union-attr]
    assert (job.cancelled, job.skipped) == (2, 0)
    assert {sdk.runs.get(r).status for r in more} == {"CANCELLED"}


def wait_for_job(read: Any, timeout: float = 60) -> BulkCancelJob:
    deadline = time.monotonic() + timeout
    while True:
        job: BulkCancelJob = read()
        if job.is_done or time.monotonic() > deadline:
            assert job.is_done, job
            return job
        time.sleep(0.2)


def test_the_async_client_does_the_same(organizations: Organizations, local_cloud: Any) -> None:
    from runhook_client import AsyncRunhook

    org = organizations.create("sdk-runmgmt-async")

    async def flow() -> None:
        async with AsyncRunhook(org.key, base_url=local_cloud.api_url) as client:
            task = await client.tasks.create(FAILING)
            run = await client.runs.create(task.id, tags=["async"], metadata={"a": 1})
            assert (await client.runs.wait(run.id, timeout=60)).status == "FAILED"
            assert [r.id async for r in client.runs.list(tag="async")] == [run.id]
            retry = await client.runs.retry(run.id, from_start=True)
            assert (retry.retry_of, retry.reused_steps) == (run.id, 0)
            long = await client.tasks.create(LONG)
            ids = [(await client.runs.create(long.id)).id for _ in range(2)]
            by_ids = await client.runs.cancel_many(ids)
            assert by_ids.cancelled == ids
            more = (await client.runs.create(long.id)).id
            started = await client.runs.cancel_many(task_id=long.id, status="PENDING")
            assert started.job is not None
            for _ in range(300):
                job = await client.runs.bulk_cancel_job(started.job.id)
                if job.is_done:
                    break
                await asyncio.sleep(0.2)
            assert job.is_done and (await client.runs.get(more)).status in ("CANCELLED", "RUNNING")

    asyncio.run(flow())
