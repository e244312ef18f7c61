"""The engine's `RunStore` on the runhook table: all of the engine's DynamoDB access.

- runs move only through `RunRepository.transition` (a conditional update that bumps
  the run's `sequence`);
- task versions come from `TaskRepository` (immutable, so kept once per container);
- log lines are `LOG#` items, the lines of one write together (`RunRepository.append_logs`);
- step results are items under the run's partition, ``RUN#<run>`` / ``STEP#<0001>``,
  with each result as JSON. The records of one write (a checkpoint's steps) whose
  results are small (`PACK_RESULT_LIMIT`) share one item, ``type = steps``, keyed on
  its first step and cut at `PACK_BYTES`: a burst of quick steps is one write unit, not
  one per step. A larger result has an item of its own (``type = step``); one larger
  than fits comfortably in an item (an http body may be 1 MB; an item at most 400 KB)
  is zlib-compressed and, if still large, split into part items
  ``STEP#<0001>#P<001>`` that sort right after their step. Parts are written first and
  the step item last (with the step's log lines), so a reader never sees a
  half-written result. One consistent Query (``begins_with(sk, "STEP#")``) reads them
  all back. A step recorded twice (a retried invocation may group steps differently)
  is read as its latest record. Overwriting an item never loses a record the run
  needs: an item holds only steps at or after its key's, a retried invocation writes
  only steps from the run's `currentStep` on, and it rewrites each of them before
  `currentStep` passes it. They expire (TTL) `log_retention_days` after the run's
  deadline, like the logs.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from runhook import clock, keys
from runhook.dal.codec import dumps
from runhook.dal.expressions import Item, prefix_query
from runhook.dal.runs import RunRepository
from runhook.engine.ports import StepRecord, TaskPlan
from runhook.models import ACTIVE_STATUSES, LogEntry, Run, RunError, RunStatus, Waiting

if TYPE_CHECKING:
    from runhook.dal.tasks import TaskRepository

INLINE_LIMIT = 64 * 1024  # JSON up to this size is stored as a plain string
PART_BYTES = 350 * 1024  # compressed bytes per part item
PACK_RESULT_LIMIT = 4 * 1024  # a record with a result up to this size may share an item
PACK_BYTES = 64 * 1024  # the records sharing an item, at most (JSON size, roughly)
_PLAN_CACHE_SIZE = 256


class DynamoRunStore:
    """`runhook.engine.ports.RunStore` on DynamoDB (see the module docstring)."""

    def __init__(
        self,
        runs: RunRepository,
        tasks: TaskRepository,
        *,
        log_retention_days: int,
        pack_records: bool = True,
    ) -> None:
        self.runs = runs
        self.tasks = tasks
        self.table = runs.table
        self.log_retention_days = log_retention_days
        # False: one item per step record and per log line, the only layouts releases
        # before packing read (Settings.step_record_packs); both layouts are always read.
        self.pack_records = pack_records
        self._plans: dict[tuple[str, int], TaskPlan] = {}

    # -- runs ----------------------------------------------------------------------------
    def get_run(self, run_id: str) -> Run | None:
        return self.runs.get(run_id)

    def claim(self, run_id: str, *, started_at: str) -> Run | None:
        return self.runs.transition(
            run_id,
            event="task-run.started",
            allowed_from={RunStatus.PENDING},
            changes={"status": RunStatus.RUNNING, "started_at": started_at},
            # A retry starts after the steps it carried over (0 for any other run).
            copies={"current_step": "reused_steps"},
        )

    def advance(self, run_id: str, *, from_step: int, to_step: int) -> Run | None:
        return self.runs.transition(
            run_id,
            event="task-run.updated",
            allowed_from={RunStatus.RUNNING},
            changes={"current_step": to_step},
            condition="currentStep = :k",
            condition_values={":k": from_step},
        )

    def complete(
        self,
        run_id: str,
        *,
        at_step: int,
        steps_total: int,
        outputs: dict[str, Any],
        finished_at: str,
    ) -> Run | None:
        return self.runs.transition(
            run_id,
            event="task-run.completed",
            allowed_from={RunStatus.RUNNING},
            changes={
                "status": RunStatus.COMPLETED,
                "outputs": outputs,
                "finished_at": finished_at,
                "current_step": steps_total,
            },
            condition="currentStep = :k",
            condition_values={":k": at_step},
        )

    def fail(
        self, run_id: str, error: RunError, *, finished_at: str, steps_done: int | None = None
    ) -> Run | None:
        changes: dict[str, Any] = {
            "status": RunStatus.FAILED,
            "error": error,
            "finished_at": finished_at,
        }
        if steps_done is not None:
            changes["current_step"] = steps_done
        return self.runs.transition(
            run_id,
            event="task-run.failed",
            allowed_from=ACTIVE_STATUSES,
            changes=changes,
            remove=["waiting", "taskToken"],
        )

    def park_approval(
        self, run_id: str, *, at_step: int, waiting: Waiting, task_token: str
    ) -> Run | None:
        return self.runs.transition(
            run_id,
            event="task-run.waiting",
            allowed_from={RunStatus.RUNNING},
            changes={"waiting": waiting},
            raw={"taskToken": task_token},
            condition="currentStep = :k",
            condition_values={":k": at_step},
        )

    # -- a retry's carried-over steps (issue 14) ------------------------------------------------
    def reusable_steps(self, run_id: str) -> int:
        """How many leading steps of the run succeeded (0, 1, … up to the first step that
        failed or never finished): what a retry can carry over."""
        records = self.load_step_records(run_id)
        count = 0
        while count in records and records[count].status == "succeeded":
            count += 1
        return count

    def carry_over(self, source_id: str, target: Run, count: int) -> None:
        """Copy the first `count` step records of run `source_id` (with their result parts)
        into `target`'s partition, expiring with `target`. Written before `target` itself,
        so the engine finds them when it claims the retry; if `target` is never written,
        they only wait for their TTL."""
        if count <= 0:
            return
        items = self.table.query_all(
            prefix_query(keys.run_pk(source_id), keys.STEP_PREFIX, consistent=True)
        )
        expires = expiry(target.deadline, self.log_retention_days)
        copies = []
        for item in items:
            if int(str(item["sk"])[len(keys.STEP_PREFIX) :].split("#", 1)[0]) >= count:
                continue
            copy = {**item, "pk": keys.run_pk(target.id), "expiresAt": expires}
            if item.get("type") == "steps":  # a pack may hold steps after `count`
                copy["records"] = [r for r in item["records"] if int(r["index"]) < count]
            copies.append(copy)
        # Parts sort before their step item: the step item (which marks a result whole) last.
        copies.sort(key=lambda item: item.get("type") == "step")
        self.table.batch_put(copies)

    # -- task versions ---------------------------------------------------------------------
    def load_plan(self, run: Run) -> TaskPlan | None:
        key = (run.task_id, run.task_version)
        cached = self._plans.get(key)
        if cached is not None:
            return cached
        task = self.tasks.get_version(run.task_id, run.task_version)
        if task is None:
            return None
        plan = TaskPlan.from_definition(task.definition)
        if len(self._plans) >= _PLAN_CACHE_SIZE:
            self._plans.clear()
        self._plans[key] = plan
        return plan

    # -- logs and step records -------------------------------------------------------------
    def write_logs(self, run: Run, logs: Sequence[LogEntry]) -> None:
        self.runs.append_logs(run, logs, ttl_days=self.log_retention_days, pack=self.pack_records)

    def record_steps(
        self, run: Run, records: Sequence[StepRecord], logs: Sequence[LogEntry]
    ) -> None:
        expires = expiry(run.deadline, self.log_retention_days)
        parts, items = record_items(run.id, records, expires, pack=self.pack_records)
        if parts:  # before the step items that mark their results whole
            self.table.batch_put(parts)
        self.runs.append_logs(
            run,
            logs,
            ttl_days=self.log_retention_days,
            extra_items=items,
            pack=self.pack_records,
        )

    def load_step_records(self, run_id: str) -> dict[int, StepRecord]:
        items = self.table.query_all(
            prefix_query(keys.run_pk(run_id), keys.STEP_PREFIX, consistent=True)
        )
        parts: dict[int, list[bytes]] = {}
        for item in items:  # parts sort after their step item: collect them first
            if item.get("type") == "step_part":
                index = int(str(item["sk"])[len(keys.STEP_PREFIX) :].split("#", 1)[0])
                parts.setdefault(index, []).append(bytes(item["chunk"]))  # plain bytes: Table
        records: dict[int, StepRecord] = {}
        for item in items:
            if item.get("type") == "step":
                found = [_record(run_id, item, parts)]
            elif item.get("type") == "steps":
                found = [_record(run_id, entry, {}) for entry in item.get("records", [])]
            else:
                continue
            for record in found:
                earlier = records.get(record.index)
                if earlier is None or (record.finished_at or "") >= (earlier.finished_at or ""):
                    records[record.index] = record
        return records


def expiry(deadline_iso: str | None, retention_days: int) -> int:
    """TTL epoch: the run's deadline (or now) plus the retention period."""
    base = clock.parse_iso(deadline_iso).timestamp() if deadline_iso else clock.epoch()
    return int(base) + retention_days * 86400


def _part_sk(index: int, part: int) -> str:
    return f"{keys.step_sk(index)}#P{part:03d}"


def record_items(
    run_id: str, records: Sequence[StepRecord], expires_at: int, *, pack: bool = True
) -> tuple[list[Item], list[Item]]:
    """The items of finished steps' records: (result parts; the step and pack items).

    Records with small results share pack items (``type = steps``, keyed on the first
    record's step, cut at `PACK_BYTES`) unless `pack` is False; any other record has its
    own step item (and parts). Write the parts first: a step item marks its result complete.
    """
    latest = {record.index: record for record in records}  # one item per key per write
    parts: list[Item] = []
    items: list[Item] = []
    group: list[dict[str, Any]] = []
    size = 0
    for record in sorted(latest.values(), key=lambda r: r.index):
        record_parts, item = step_items(run_id, record, expires_at)
        encoded = len(str(item.get("result", ""))) + len(str(item.get("error", "")))
        if record_parts or encoded > PACK_RESULT_LIMIT or not pack:
            parts.extend(record_parts)
            items.append(item)
            continue
        if group and size + encoded > PACK_BYTES:
            items.append(_pack_item(group, expires_at))
            group, size = [], 0
        group.append(item)
        size += encoded + 200  # the record's other attributes, roughly
    if group:
        items.append(_pack_item(group, expires_at))
    return parts, items


def _pack_item(step_items_: list[dict[str, Any]], expires_at: int) -> Item:
    """One item holding several step items' attributes (without their keys); a single
    step keeps its own item."""
    first = step_items_[0]
    if len(step_items_) == 1:
        return first
    body = [
        {k: v for k, v in item.items() if k not in ("pk", "sk", "type", "expiresAt")}
        for item in step_items_
    ]
    return {
        "pk": first["pk"],
        "sk": first["sk"],
        "type": "steps",
        "records": body,
        "expiresAt": expires_at,
    }


def step_items(run_id: str, record: StepRecord, expires_at: int) -> tuple[list[Item], Item]:
    """The items of a step: (its parts, if any; the step item itself).

    Write the parts first: the step item marks the result complete. Overwrites: a
    retried step's record wins.
    """
    pk = keys.run_pk(run_id)
    item: dict[str, Any] = {
        "pk": pk,
        "sk": keys.step_sk(record.index),
        "type": "step",
        "index": record.index,
        "stepId": record.step_id,
        "kind": record.kind,
        "status": record.status,
        "attempts": record.attempts,
        "startedAt": record.started_at,
        "finishedAt": record.finished_at,
        "durationMs": record.duration_ms,
        "error": dumps(record.error) if record.error else None,
        "expiresAt": expires_at,
    }
    encoded = dumps(record.result)
    parts: list[Item] = []
    if len(encoded.encode()) <= INLINE_LIMIT:
        item["result"] = encoded
    else:
        packed = zlib.compress(encoded.encode(), 6)
        chunks = [packed[i : i + PART_BYTES] for i in range(0, len(packed), PART_BYTES)]
        item["resultParts"] = len(chunks)
        for n, chunk in enumerate(chunks, start=1):
            part = {
                "pk": pk,
                "sk": _part_sk(record.index, n),
                "type": "step_part",
                "chunk": chunk,
                "expiresAt": expires_at,
            }
            parts.append(part)
    return parts, {k: v for k, v in item.items() if v is not None}


def _record(run_id: str, item: dict[str, Any], parts: dict[int, list[bytes]]) -> StepRecord:
    """A step item (and its parts, reassembled) as a StepRecord."""
    index = int(item["index"])
    if "resultParts" in item:
        count = int(item["resultParts"])
        chunks = parts.get(index, [])[:count]  # a retried step may have left more parts
        if len(chunks) != count:
            raise RuntimeError(f"step {index} of run {run_id}: result parts missing")
        result = json.loads(zlib.decompress(b"".join(chunks)))
    else:
        result = json.loads(item["result"]) if "result" in item else None
    return StepRecord(
        index=index,
        step_id=str(item.get("stepId", "")),
        kind=str(item.get("kind", "")),
        status=str(item.get("status", "")),
        result=result,
        error=json.loads(item["error"]) if item.get("error") else None,
        attempts=int(item.get("attempts", 1)),
        started_at=item.get("startedAt"),
        finished_at=item.get("finishedAt"),
        duration_ms=int(item["durationMs"]) if item.get("durationMs") is not None else None,
    )
