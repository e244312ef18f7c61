"""Cancelling many runs at once (issue 14).

- **By id** (`runIds`, at most 100): done in the request, one conditional transition
  per run, exactly as the single cancel (`RunService.cancel_run`: reason, terminal runs
  unchanged, `task-run.cancelled` from the table's stream, the execution stopped).
  Another organization's run counts as not found.
- **By filter** (`taskId`, `status`, `createdBefore`): a job. The request writes the job
  item and hands it to the background — the API function invokes itself asynchronously
  with `{"bulkCancelJob": id}` (the same on AWS and on the local cloud, whose Lambda
  emulation runs async invocations) — and answers 202 with the job; `GET
  /task-runs/cancel/{jobId}` shows its progress. The worker walks the matching runs
  newest first (a Query of gsi2, or gsi1 for one task; never a Scan), records each page
  with one conditional update, and stops at the job's `limit` (at most 1,000 runs) or
  at the end. Runs created after the job are never touched (`createdBefore` is at most
  the job's creation time). When its invocation runs short of time it queues itself
  again and returns; the cursor makes a retried or repeated invocation harmless.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from runhook import clock
from runhook.adapters.functions import AsyncInvoker
from runhook.dal.bulk_cancel import BulkCancelJobs
from runhook.dal.runs import RunRepository
from runhook.errors import InvalidRequest, NotFound, ServiceUnavailable
from runhook.models import ACTIVE_STATUSES, BulkCancelJob, Principal, RunStatus
from runhook.services.runs import MAX_CANCEL_REASON, RunService

MAX_RUN_IDS = 100
MAX_FILTER_RUNS = 1000
PAGE_SIZE = 50
JOB_TTL_DAYS = 30
RESERVE_SECONDS = 10.0  # an invocation with less time left than this queues itself again


@dataclass
class BulkCancelResult:
    cancelled: list[str] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    job: BulkCancelJob | None = None

    def to_resource(self) -> dict[str, Any]:
        return {
            "cancelled": self.cancelled,
            "skipped": self.skipped,
            "job": self.job.to_resource() if self.job else None,
        }


@dataclass(frozen=True)
class CancelFilter:
    task_id: str | None
    status: str | None
    created_before: str | None
    limit: int | None


class BulkCancelService:
    def __init__(
        self,
        runs: RunService,
        repository: RunRepository,
        jobs: BulkCancelJobs,
        invoker: AsyncInvoker,
    ) -> None:
        self.runs = runs
        self.repository = repository
        self.jobs = jobs
        self.invoker = invoker

    # -- by id -------------------------------------------------------------------------------
    def cancel_ids(
        self, principal: Principal, run_ids: list[str], reason: str | None
    ) -> BulkCancelResult:
        _check_reason(reason)
        problems = [
            {"path": f"runIds[{i}]", "message": "not a run id"}
            for i, run_id in enumerate(run_ids)
            if not isinstance(run_id, str) or not clock.is_uuid(run_id)
        ]
        if not run_ids or len(run_ids) > MAX_RUN_IDS:
            problems.insert(0, {"path": "runIds", "message": f"1 to {MAX_RUN_IDS} run ids"})
        if problems:
            raise InvalidRequest("invalid_run_ids", errors=problems)
        result = BulkCancelResult()
        found = {r.id: r for r in self.repository.get_many(list(dict.fromkeys(run_ids)))}
        for run_id in dict.fromkeys(run_ids):
            run = found.get(run_id)
            if run is None or run.org_id != principal.org_id:
                result.skipped.append({"runId": run_id, "reason": "not_found"})
            elif run.active and self.runs.cancel_active(run_id, reason) is not None:
                result.cancelled.append(run_id)
            else:
                result.skipped.append({"runId": run_id, "reason": "already_terminal"})
        return result

    # -- by filter ---------------------------------------------------------------------------
    def start(
        self, principal: Principal, wanted: CancelFilter, reason: str | None
    ) -> BulkCancelResult:
        """Write the job and queue its worker; the job as it starts."""
        _check_reason(reason)
        job = self._new_job(principal, wanted, reason)
        self.jobs.create(job, clock.epoch() + JOB_TTL_DAYS * 86400)
        try:
            self.invoker.invoke({"bulkCancelJob": job.id})
        except ServiceUnavailable:
            self.jobs.delete(job.id)  # no worker will ever take it: a 503 that left nothing
            raise
        return BulkCancelResult(job=job)

    def _new_job(
        self, principal: Principal, wanted: CancelFilter, reason: str | None
    ) -> BulkCancelJob:
        problems: list[dict[str, str]] = []
        if wanted.task_id is not None and not clock.is_uuid(wanted.task_id):
            problems.append({"path": "taskId", "message": "not a task id"})
        if wanted.status is not None and wanted.status not in {s.value for s in ACTIVE_STATUSES}:
            problems.append({"path": "status", "message": "PENDING or RUNNING"})
        limit = MAX_FILTER_RUNS if wanted.limit is None else wanted.limit
        if not 1 <= limit <= MAX_FILTER_RUNS:
            problems.append({"path": "limit", "message": f"1 to {MAX_FILTER_RUNS}"})
        now = clock.now_iso()
        before = now
        if wanted.created_before is not None:
            try:
                before = min(clock.iso(clock.parse_iso(wanted.created_before)), now)
            except ValueError:
                problems.append({"path": "createdBefore", "message": "not an ISO 8601 time"})
        if problems:
            raise InvalidRequest("invalid_filter", errors=problems)
        return BulkCancelJob(
            id=clock.new_id(),
            org_id=principal.org_id,
            task_id=wanted.task_id,
            run_status=RunStatus(wanted.status) if wanted.status else None,
            created_before=before,
            reason=reason,
            limit=limit,
            created_at=now,
            updated_at=now,
        )

    def get_job(self, principal: Principal, job_id: str) -> BulkCancelJob:
        if not clock.is_uuid(job_id):
            raise InvalidRequest("invalid_job_id")
        job = self.jobs.get(job_id)
        if job is None or job.org_id != principal.org_id:
            raise NotFound("job_not_found")
        return job

    # -- the worker ----------------------------------------------------------------------------
    def work(self, job_id: str, remaining_seconds: Callable[[], float]) -> BulkCancelJob | None:
        """Cancel page after page until the job is done or this invocation's time runs
        short (then queue the rest). None when the job does not exist."""
        job = self.jobs.get(job_id)
        while job is not None and job.status == "RUNNING":
            if remaining_seconds() < RESERVE_SECONDS:
                self.invoker.invoke({"bulkCancelJob": job.id})
                return job
            moved = self._page(job)
            if moved is None:  # another invocation counted this page: it carries on
                return self.jobs.get(job_id)
            job = moved
        return job

    def _page(self, job: BulkCancelJob) -> BulkCancelJob | None:
        """One page of matching runs cancelled and counted."""
        room = job.limit - job.cancelled - job.skipped
        page, token = self.repository.active_page(
            job.org_id,
            task_id=job.task_id,
            status=job.run_status,
            created_before=job.created_before,
            page_size=max(1, min(PAGE_SIZE, room)),
            token=job.cursor,
        )
        cancelled = sum(1 for run in page if self.runs.cancel_active(run.id, job.reason))
        full = job.cancelled + job.skipped + len(page) >= job.limit
        done = token is None or full
        return self.jobs.record_page(
            job,
            cursor=token,
            cancelled=cancelled,
            skipped=len(page) - cancelled,
            finished_at=clock.now_iso() if done else None,
            stopped_by_limit=full and token is not None,
            now=clock.now_iso(),
        )


def _check_reason(reason: str | None) -> None:
    if reason is not None and len(reason) > MAX_CANCEL_REASON:
        raise InvalidRequest("invalid_cancel_reason")
