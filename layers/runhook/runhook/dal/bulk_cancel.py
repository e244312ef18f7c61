"""Bulk-cancel jobs: one item per filter-based cancel (`BULKCANCEL#<job>` / `JOB`).

The job walks the organization's matching runs page by page; each page's outcome is
recorded by one conditional update on the page token it started from, so a worker
that runs twice (an async invocation retried) never counts a page twice: the second
finds the cursor moved and stops.
"""

from __future__ import annotations

from typing import Any

from runhook import keys
from runhook.dal.codec import attribute, from_attributes, to_attributes
from runhook.dal.expressions import Update, key
from runhook.dal.table import Table
from runhook.models import BulkCancelJob

NO_CURSOR = "-"  # stored for "the first page" (a condition needs a value to compare)


class BulkCancelJobs:
    def __init__(self, table: Table, *, ttl_days: int = 30) -> None:
        self.table = table
        self.ttl_days = ttl_days

    def create(self, job: BulkCancelJob, expires_at: int) -> None:
        item = {
            **key(keys.bulk_cancel_pk(job.id), keys.BULK_CANCEL_SK),
            "type": "bulk_cancel",
            **to_attributes(job),
            "cursor": job.cursor or NO_CURSOR,
            "expiresAt": expires_at,
        }
        self.table.put(item, condition="attribute_not_exists(pk)")

    def delete(self, job_id: str) -> None:
        self.table.delete(key(keys.bulk_cancel_pk(job_id), keys.BULK_CANCEL_SK))

    def get(self, job_id: str) -> BulkCancelJob | None:
        item = self.table.get(
            key(keys.bulk_cancel_pk(job_id), keys.BULK_CANCEL_SK), consistent=True
        )
        if item is None:
            return None
        data: dict[str, Any] = dict(item)
        if data.get("cursor") == NO_CURSOR:
            data.pop("cursor")
        return from_attributes(BulkCancelJob, data)

    def record_page(
        self,
        job: BulkCancelJob,
        *,
        cursor: str | None,
        cancelled: int,
        skipped: int,
        finished_at: str | None,
        stopped_by_limit: bool,
        now: str,
    ) -> BulkCancelJob | None:
        """Count one page and move the cursor to `cursor` (finishing the job when
        `finished_at` is given); None when another worker moved it first."""
        update = Update()
        update.increment(attribute(BulkCancelJob, "cancelled"), cancelled)
        update.increment(attribute(BulkCancelJob, "skipped"), skipped)
        update.set("cursor", cursor or NO_CURSOR)
        update.set(attribute(BulkCancelJob, "updated_at"), now)
        if finished_at is not None:
            update.set("status", "COMPLETED")
            update.set(attribute(BulkCancelJob, "finished_at"), finished_at)
            update.set(attribute(BulkCancelJob, "stopped_by_limit"), stopped_by_limit)
        condition = (
            f"{update.name('cursor')} = {update.value('from', job.cursor or NO_CURSOR)} "
            f"AND {update.name('status')} = {update.value('running', 'RUNNING')}"
        )
        item = self.table.update(
            key(keys.bulk_cancel_pk(job.id), keys.BULK_CANCEL_SK), update, condition=condition
        )
        if item is None:
            return None
        return self.get(job.id)
