"""Pure parts of run management (issue 14): tag and metadata checks, and the bulk-cancel
worker's walk (limit, hand-over when time runs short, a page counted by another worker)
over in-memory fakes of its repository, job store and invoker."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from runhook import clock
from runhook.errors import InvalidRequest, ServiceUnavailable
from runhook.models import BulkCancelJob, Principal, Run, RunStatus
from runhook.services.bulk_cancel import BulkCancelService, CancelFilter
from runhook.services.run_labels import checked_metadata, merged_tags, tag_problems

# -- tags and metadata -------------------------------------------------------------------------


def test_good_tags_pass_and_merge_after_the_tasks_defaults_each_once() -> None:
    good = ["a", "env:prod", "team/a-b_c.d", "k=v", "x+y@z", "9" * 64]
    assert tag_problems(good) == []
    assert merged_tags(["b", "a", "b"], ["a", "c"]) == ["a", "c", "b"]
    assert merged_tags(None, ["a"]) == ["a"]


@pytest.mark.parametrize(
    ("tags", "path"),
    [
        (["has space"], "tags[0]"),
        (["ok", ""], "tags[1]"),
        (["x" * 65], "tags[0]"),
        (["-leading"], "tags[0]"),
        (["a#b"], "tags[0]"),
        (["a,b"], "tags[0]"),
        ([7], "tags[0]"),
        ([f"t{i}" for i in range(11)], "tags"),
    ],
)
def test_bad_tags_are_named_by_their_path(tags: list[Any], path: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        merged_tags(tags, [])
    assert refused.value.code == "invalid_tags"
    assert [p["path"] for p in refused.value.extra["errors"]] == [path]


def test_too_many_tags_with_the_tasks_defaults_are_refused() -> None:
    defaults = [f"d{i}" for i in range(10)]
    assert len(merged_tags([f"o{i}" for i in range(10)], defaults)) == 20
    with pytest.raises(InvalidRequest):
        merged_tags([f"o{i}" for i in range(10)], [*defaults, "d10"])


def test_metadata_is_bounded_by_its_encoded_size() -> None:
    assert checked_metadata(None) == {}
    fits = {"k": "x" * 4088}  # {"k":"…"} is 4,096 bytes
    assert checked_metadata(fits) == fits
    with pytest.raises(InvalidRequest) as refused:
        checked_metadata({"k": "x" * 4089})
    assert refused.value.code == "invalid_metadata"
    with pytest.raises(InvalidRequest):
        checked_metadata({"k": "é" * 2100})  # counted in UTF-8 bytes


# -- the bulk-cancel worker --------------------------------------------------------------------


def a_run(status: RunStatus = RunStatus.RUNNING) -> Run:
    return Run(
        id=clock.new_id(),
        org_id="org",
        task_id="task",
        task_version=1,
        status=status,
        created_at=clock.now_iso(),
    )


@dataclass
class FakeRuns:
    """RunService.cancel_active and RunRepository.active_page over a list of runs."""

    runs: list[Run]
    cancelled: list[str] = field(default_factory=list)
    finish_before_cancel: set[str] = field(default_factory=set)

    def cancel_active(self, run_id: str, reason: str | None) -> Run | None:
        if run_id in self.finish_before_cancel or run_id in self.cancelled:
            return None
        self.cancelled.append(run_id)
        return a_run(RunStatus.CANCELLED)

    def active_page(self, org_id: str, *, page_size: int, token: str | None, **_: Any) -> Any:
        start = int(token or 0)
        page = self.runs[start : start + page_size]
        more = start + page_size < len(self.runs)
        return page, (str(start + page_size) if more else None)


@dataclass
class FakeJobs:
    jobs: dict[str, BulkCancelJob] = field(default_factory=dict)
    steal_next: bool = False  # another worker records the next page first

    def create(self, job: BulkCancelJob, expires_at: int) -> None:
        self.jobs[job.id] = job

    def get(self, job_id: str) -> BulkCancelJob | None:
        return self.jobs.get(job_id)

    def delete(self, job_id: str) -> None:
        self.jobs.pop(job_id, None)

    def record_page(self, job: BulkCancelJob, **page: Any) -> BulkCancelJob | None:
        current = self.jobs[job.id]
        if self.steal_next or current.cursor != job.cursor or current.status != "RUNNING":
            return None
        done = page["finished_at"] is not None
        self.jobs[job.id] = current.model_copy(
            update={
                "cursor": page["cursor"],
                "cancelled": current.cancelled + page["cancelled"],
                "skipped": current.skipped + page["skipped"],
                "status": "COMPLETED" if done else "RUNNING",
                "stopped_by_limit": page["stopped_by_limit"],
            }
        )
        return self.jobs[job.id]


@dataclass
class FakeInvoker:
    events: list[dict[str, Any]] = field(default_factory=list)
    down: bool = False

    def invoke(self, event: dict[str, Any]) -> None:
        if self.down:
            raise ServiceUnavailable(message="lambda: down")
        self.events.append(event)


ME = Principal(org_id="org", key_id="k", scopes=["admin"])


def service(runs: FakeRuns, jobs: FakeJobs, invoker: FakeInvoker) -> BulkCancelService:
    return BulkCancelService(runs, runs, jobs, invoker)  # type: ignore[arg-type]


def test_the_worker_cancels_every_match_page_by_page() -> None:
    runs = FakeRuns([a_run() for _ in range(120)])
    runs.finish_before_cancel = {runs.runs[3].id}
    jobs, invoker = FakeJobs(), FakeInvoker()
    bulk = service(runs, jobs, invoker)
    job = bulk.start(ME, CancelFilter(None, None, None, None), "tidy").job
    assert job is not None and invoker.events == [{"bulkCancelJob": job.id}]
    done = bulk.work(job.id, lambda: 60.0)
    assert done is not None and done.status == "COMPLETED"
    assert (done.cancelled, done.skipped, done.stopped_by_limit) == (119, 1, False)


def test_the_worker_stops_at_the_limit() -> None:
    runs = FakeRuns([a_run() for _ in range(30)])
    jobs, invoker = FakeJobs(), FakeInvoker()
    bulk = service(runs, jobs, invoker)
    job = bulk.start(ME, CancelFilter(None, "RUNNING", None, 7), None).job
    assert job is not None
    done = bulk.work(job.id, lambda: 60.0)
    assert done is not None and (done.cancelled, done.stopped_by_limit) == (7, True)
    assert runs.cancelled == [r.id for r in runs.runs[:7]]


def test_short_of_time_the_worker_queues_itself_again() -> None:
    runs = FakeRuns([a_run() for _ in range(120)])
    jobs, invoker = FakeJobs(), FakeInvoker()
    bulk = service(runs, jobs, invoker)
    job = bulk.start(ME, CancelFilter(None, None, None, None), None).job
    assert job is not None
    left = iter([60.0, 1.0])
    partial = bulk.work(job.id, lambda: next(left))
    assert partial is not None and partial.status == "RUNNING" and partial.cancelled == 50
    assert invoker.events == [{"bulkCancelJob": job.id}] * 2
    done = bulk.work(job.id, lambda: 60.0)
    assert done is not None and done.cancelled == 120 and len(set(runs.cancelled)) == 120


def test_a_page_another_worker_counted_is_not_counted_twice() -> None:
    runs = FakeRuns([a_run() for _ in range(10)])
    jobs, invoker = FakeJobs(), FakeInvoker()
    bulk = service(runs, jobs, invoker)
    job = bulk.start(ME, CancelFilter(None, None, None, None), None).job
    assert job is not None
    jobs.steal_next = True
    stopped = bulk.work(job.id, lambda: 60.0)
    assert stopped is not None and stopped.cancelled == 0  # it left the counting to the other


@pytest.mark.parametrize(
    ("wanted", "path"),
    [
        (CancelFilter("not-a-uuid", None, None, None), "taskId"),
        (CancelFilter(None, "COMPLETED", None, None), "status"),
        (CancelFilter(None, None, "yesterday", None), "createdBefore"),
        (CancelFilter(None, None, None, 0), "limit"),
        (CancelFilter(None, None, None, 1001), "limit"),
    ],
)
def test_a_bad_filter_starts_no_job(wanted: CancelFilter, path: str) -> None:
    jobs, invoker = FakeJobs(), FakeInvoker()
    with pytest.raises(InvalidRequest) as refused:
        service(FakeRuns([]), jobs, invoker).start(ME, wanted, None)
    assert refused.value.code == "invalid_filter"
    assert [p["path"] for p in refused.value.extra["errors"]] == [path]
    assert jobs.jobs == {} and invoker.events == []


def test_created_before_is_never_later_than_the_job() -> None:
    jobs = FakeJobs()
    bulk = service(FakeRuns([]), jobs, FakeInvoker())
    job = bulk.start(ME, CancelFilter(None, None, "2999-01-01T00:00:00Z", None), None).job
    assert job is not None and job.created_before == job.created_at


def test_a_job_no_worker_can_take_is_not_left_behind() -> None:
    jobs, invoker = FakeJobs(), FakeInvoker(down=True)
    with pytest.raises(ServiceUnavailable):
        service(FakeRuns([a_run()]), jobs, invoker).start(
            ME, CancelFilter(None, None, None, None), None
        )
    assert jobs.jobs == {}
