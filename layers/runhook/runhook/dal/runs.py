"""Runs, their idempotency claims, listing entries and log entries.

A run's status only moves through `transition`, a conditional update that also bumps
the run's `sequence`; that is what makes retried steps and racing cancels harmless.

The table is the outbox of run events (docs/architecture.md, "Events from the
stream"): every transition writes the event it announces onto the run item
(`eventType`, `eventAt`) in the same update, and every log item carries the run's
organization, task and sequence, so the publisher builds each event from the stream
record alone. Nothing here calls the bus.

The run item is in no ALL-projected index (issue 16): its task's and organization's
listings (gsi1, gsi2) hold a write-once entry, resolved to runs per page
(runhook.dal.runs_listing), so an update of the run costs one write unit.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from runhook import clock, keys
from runhook.dal import run_logs
from runhook.dal.codec import attribute, from_attributes, stored_value, to_attributes
from runhook.dal.expressions import (
    Item,
    Put,
    TransactAction,
    Update,
    UpdateItem,
    index_query,
    key,
)
from runhook.dal.runs_listing import RunListing, entry_or_status, listing_item
from runhook.dal.table import Table, TransactionCancelled
from runhook.models import (
    ACTIVE_STATUSES,
    TERMINAL_STATUSES,
    LogEntry,
    Run,
    RunFilter,
    RunStatus,
)

RUN_JSON_FIELDS = frozenset({"inputs", "outputs", "error", "waiting", "tags", "metadata"})
# Attributes of the run item that only the engine reads (not part of the Run model).
TASK_TOKEN = "taskToken"  # noqa: S105 - an attribute name
EVENT_TYPE = "eventType"  # the event the last transition announces (read from the stream)
EVENT_AT = "eventAt"  # when that transition was committed (the event's occurredAt)
# The sweeper's sparse index: set while the run is PENDING/RUNNING, removed by `transition`
# on any terminal status (docs/data-model.md, "gsi3").
ACTIVE_INDEX = "gsi3"
ACTIVE_KEYS = ("gsi3pk", "gsi3sk")
ACTIVE_PROJECTION = ("id", "status", "createdAt", "deadline")


@dataclass(frozen=True)
class ActiveRun:
    """What the sweeper reads of a PENDING/RUNNING run from the active-runs index."""

    id: str
    status: RunStatus
    created_at: str
    deadline: str | None


class IdempotencyConflict(Exception):
    """Another request already claimed this (task, clientRequestId); it holds `run_id`."""

    def __init__(self, run_id: str) -> None:
        super().__init__(run_id)
        self.run_id = run_id


class TransactionRefused(Exception):
    """The create-run transaction did not apply, and not because of the idempotency claim."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__(reasons)
        self.reasons = reasons

    @property
    def condition_failed(self) -> bool:
        """True: an extra action's condition (the usage limit) failed; False: the
        transaction conflicted with a concurrent one and may be retried."""
        return "ConditionalCheckFailed" in self.reasons


def run_from_item(item: Mapping[str, Any]) -> Run:
    return from_attributes(Run, item, json_fields=RUN_JSON_FIELDS)


def runs_from_items(items: Sequence[Mapping[str, Any]]) -> list[Run]:
    return [run_from_item(i) for i in items]


def run_item(run: Run) -> Item:
    """The run item. In no ALL-projected index (issue 16): its listings are its write-once
    `listing_item` (runhook.dal.runs_listing), so an update costs one write unit (plus
    gsi3's small projection while it enters or leaves the sweeper's index)."""
    item: Item = {
        **key(keys.run_pk(run.id), keys.RUN_SK),
        "type": "run",
        **to_attributes(run, json_fields=RUN_JSON_FIELDS),
    }
    if run.active:
        item["gsi3pk"] = keys.active_runs_gsi3(keys.sweep_shard(run.id))
        item["gsi3sk"] = keys.created_sort(run.created_at, run.id)
    return item


def tag_items(run: Run) -> list[Item]:
    """One item per tag, in the run's partition and in gsi2 under (organization, tag).

    They carry the run's immutable facts (task, trigger) so a listing by tag can filter on
    them in the Query; status changes, so it is never copied here (docs/data-model.md).
    """
    created = keys.created_sort(run.created_at, run.id)
    return [
        {
            **key(keys.run_pk(run.id), keys.run_tag_sk(tag)),
            "type": "run_tag",
            "gsi2pk": keys.org_tag_runs_gsi2(run.org_id, tag),
            "gsi2sk": created,
            "runId": run.id,
            "orgId": run.org_id,
            "taskId": run.task_id,
            "triggerType": run.trigger_type,
        }
        for tag in run.tags
    ]


def retry_link(original_id: str, retry_id: str) -> UpdateItem:
    """The transaction action that names `retry_id` on the original run as `retriedBy`.

    Only once, and only on a FAILED or CANCELLED run. Not a transition: the run's status,
    progress and sequence stay as they are, so the stream publisher announces nothing
    (docs/outbox.md: it publishes only a change that bumped `sequence`).
    """
    update = Update().set(attribute(Run, "retried_by"), retry_id)
    finished = [update.value("failed", RunStatus.FAILED.value)]
    finished.append(update.value("cancelled", RunStatus.CANCELLED.value))
    condition = (
        f"attribute_not_exists({update.name('retriedBy')}) "
        f"AND {update.name('status')} IN ({', '.join(finished)})"
    )
    return UpdateItem(key(keys.run_pk(original_id), keys.RUN_SK), update, condition)


class RunRepository:
    """Every access pattern of the run item, its claim, tags and logs (docs/data-model.md);
    longer than ~250 lines because the list queries (org, task, tag, active) live here too."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self.listing = RunListing(table, runs_from_items)

    def create(self, run: Run, extra: Sequence[TransactAction] = ()) -> None:
        """Write the run, its idempotency claim and its listing entry in one transaction.

        `extra` are further actions of the transaction (the usage counter, a retry's
        link), after the run, its claim, its listing entry (`listing_item`) and its tag
        items (`tag_items`). Raises
        IdempotencyConflict when the claim exists already, TransactionRefused when
        another condition failed (or the transaction conflicted).
        """
        actions: list[TransactAction] = [Put(run_item(run), "attribute_not_exists(pk)")]
        if run.client_request_id:
            claim = {
                **key(keys.idempotency_pk(run.task_id, run.client_request_id), keys.IDEMPOTENCY_SK),
                "runId": run.id,
                "createdAt": run.created_at,
            }
            actions.append(Put(claim, "attribute_not_exists(pk)"))
        actions.append(Put(listing_item(run)))
        actions.extend(Put(t) for t in tag_items(run))
        actions.extend(extra)
        try:
            self.table.transact_write(actions)
        except TransactionCancelled as cancelled:
            if run.client_request_id and cancelled.failed(1):
                holder = self.claimed_run(run.task_id, run.client_request_id, consistent=True)
                if holder:
                    raise IdempotencyConflict(holder) from cancelled
            raise TransactionRefused(cancelled.reasons) from cancelled

    def claimed_run(
        self, task_id: str, client_request_id: str, *, consistent: bool = False
    ) -> str | None:
        """The id of the run that claimed (task, clientRequestId), if any."""
        claim = self.table.get(
            key(keys.idempotency_pk(task_id, client_request_id), keys.IDEMPOTENCY_SK),
            consistent=consistent,
        )
        return str(claim["runId"]) if claim else None

    def get(self, run_id: str, *, consistent: bool = True) -> Run | None:
        item = self.table.get(key(keys.run_pk(run_id), keys.RUN_SK), consistent=consistent)
        return run_from_item(item) if item else None

    def get_item(self, run_id: str) -> Item | None:
        """The raw item, with the engine's private attributes (task token, step state)."""
        return self.table.get(key(keys.run_pk(run_id), keys.RUN_SK), consistent=True)

    def get_many(self, run_ids: Sequence[str]) -> list[Run]:
        """The runs of `run_ids` that exist (BatchGetItem, consistent), in no order."""
        keys_ = [key(keys.run_pk(r), keys.RUN_SK) for r in run_ids]
        return [run_from_item(i) for i in self.table.batch_get(keys_, consistent=True)]

    def task_token(self, run_id: str) -> str | None:
        """The token of the approval the run is parked on, if any."""
        token = (self.get_item(run_id) or {}).get(TASK_TOKEN)
        return str(token) if token else None

    def transition(
        self,
        run_id: str,
        *,
        event: str | None,
        allowed_from: Iterable[RunStatus],
        changes: Mapping[str, Any],
        remove: Iterable[str] = (),
        raw: Mapping[str, Any] | None = None,
        condition: str | None = None,
        condition_values: Mapping[str, Any] | None = None,
        copies: Mapping[str, str] | None = None,
    ) -> Run | None:
        """Apply `changes` (Run field names) if the run's status is in `allowed_from`.

        Bumps `sequence` and records `event` (a `task-run.*` type) as the event this
        change announces: the stream publisher sends it once the update is committed.
        `event=None` announces nothing (a claim that may still be undone).
        Returns the new run, or None when the condition did not hold. `raw` sets private
        attributes by their item names; `remove` drops fields (or private attributes).
        `condition` may add to the status condition. `copies` sets a numeric field to
        another stored field's value (0 when that is absent), in the same update.
        """
        update = Update()
        if event is None:  # a change nobody is told about: the stream publisher skips it
            update.remove(EVENT_TYPE)
            update.remove(EVENT_AT)
        else:
            update.set(EVENT_TYPE, event)
            update.set(EVENT_AT, clock.now_iso())
        for field, value in changes.items():
            update.set(attribute(Run, field), stored_value(value, as_json=field in RUN_JSON_FIELDS))
        for attr, value in (raw or {}).items():
            update.set(attr, value)
        for field, source in (copies or {}).items():
            zero, source_name = update.value("zero", 0), update.name(attribute(Run, source))
            update.set_expression(attribute(Run, field), f"if_not_exists({source_name}, {zero})")
        for field in remove:
            update.remove(attribute(Run, field) if field in Run.model_fields else field)
        if changes.get("status") in TERMINAL_STATUSES:
            for attr in ACTIVE_KEYS:  # the run leaves the sweeper's index with its last change
                update.remove(attr)
        update.add("sequence", 1)
        statuses = [update.value(f"from{i}", s.value) for i, s in enumerate(sorted(allowed_from))]
        cond = f"{update.name('status')} IN ({', '.join(statuses)})"
        if condition:
            cond = f"({cond}) AND ({condition})"
            update.values.update(condition_values or {})
        item = self.table.update(key(keys.run_pk(run_id), keys.RUN_SK), update, condition=cond)
        return run_from_item(item) if item else None

    # -- the sweeper's view ---------------------------------------------------------------
    def active_runs(self, *, created_before: str | None = None) -> Iterator[ActiveRun]:
        """Every PENDING/RUNNING run (created before `created_before`, when given), oldest
        first per shard: one Query per shard of the sparse index, never a Scan."""
        names = {f"#{a}": a for a in ACTIVE_PROJECTION}
        for shard in range(keys.SWEEP_SHARDS):
            query = index_query(
                ACTIVE_INDEX,
                keys.active_runs_gsi3(shard),
                before=created_before,
                projection=", ".join(names),
                names=names,
            )
            for item in self.table.query_all(query):
                status = RunStatus(item["status"])
                if status.terminal:  # the index is eventually consistent
                    continue
                yield ActiveRun(
                    id=str(item["id"]),
                    status=status,
                    created_at=str(item["createdAt"]),
                    deadline=item.get("deadline"),
                )

    # -- lists ---------------------------------------------------------------------------
    def list_for_task(self, task_id: str, limit: int = 50) -> list[Run]:
        """The task's most recent runs, newest first (gsi1, resolved: `RunListing`)."""
        query = index_query("gsi1", keys.task_runs_gsi1(task_id), newest_first=True)
        runs, _ = self.listing.page(query, page_size=limit, token=None, org_id=None)
        return runs

    def list_for_org(
        self, org_id: str, runs: RunFilter, *, page_size: int, page_token: str | None
    ) -> tuple[list[Run], str | None]:
        """The organization's runs, newest first, filtered (docs/data-model.md, pattern 9):
        gsi2 (gsi1 for one task) holds listing entries (and run items written before
        issue 16); `status` is checked on the runs they resolve to (`RunListing`)."""
        if runs.tag is not None:
            return self.list_for_tag(
                org_id, runs.tag, runs, page_size=page_size, page_token=page_token
            )
        filters: list[str] = []
        values: dict[str, Any] = {}
        names: dict[str, str] = {}
        if runs.task_id:  # any organization's task id may be asked for: scope it
            index, pk = "gsi1", keys.task_runs_gsi1(runs.task_id)
            filters.append("orgId = :org")
            values[":org"] = org_id
        else:  # ORG#<org> holds only this organization's runs: no filter, no over-read
            index, pk = "gsi2", keys.org_runs_gsi2(org_id)
        if runs.status:
            filters.append(entry_or_status(names, values, [runs.status]))
        if runs.trigger_type:
            filters.append("triggerType = :trigger")
            values[":trigger"] = runs.trigger_type
        query = index_query(
            index, pk, after=runs.created_after, before=runs.created_before, newest_first=True
        )
        if filters:
            query = query.with_filter(" AND ".join(filters), values, names)
        status = runs.status
        return self.listing.page(
            query,
            page_size=page_size,
            token=page_token,
            org_id=org_id,
            keep=(lambda run: run.status == status) if status else None,
        )

    def list_for_tag(
        self, org_id: str, tag: str, runs: RunFilter, *, page_size: int, page_token: str | None
    ) -> tuple[list[Run], str | None]:
        """The organization's runs carrying `runs.tag`, newest first: one Query of its tag
        partition in gsi2 (created bounds as key conditions, task and trigger as filters on
        the tag items), then one BatchGetItem for the runs themselves."""
        filters: list[str] = []
        values: dict[str, Any] = {}
        if runs.task_id:
            filters.append("taskId = :task")
            values[":task"] = runs.task_id
        if runs.trigger_type:
            filters.append("triggerType = :trigger")
            values[":trigger"] = runs.trigger_type
        query = index_query(
            "gsi2",
            keys.org_tag_runs_gsi2(org_id, tag),
            after=runs.created_after,
            before=runs.created_before,
            newest_first=True,
        )
        if filters:
            query = query.with_filter(" AND ".join(filters), values)
        page = self.table.page(query, page_size=page_size, token=page_token)
        ids = [str(i["runId"]) for i in page.items]
        found = self.table.batch_get([key(keys.run_pk(i), keys.RUN_SK) for i in ids])
        by_id = {str(item["id"]): run_from_item(item) for item in found}
        listed = [by_id[i] for i in ids if i in by_id and by_id[i].org_id == org_id]
        return listed, page.next_token

    def active_page(
        self,
        org_id: str,
        *,
        task_id: str | None,
        status: RunStatus | None,
        created_before: str,
        page_size: int,
        token: str | None,
    ) -> tuple[list[Run], str | None]:
        """One page of the organization's PENDING/RUNNING runs (or only `status`) created
        before `created_before`, newest first: what a bulk cancel walks (a Query of gsi2,
        or gsi1 for one task, resolved to the runs; never a Scan)."""
        if task_id:
            index, pk = "gsi1", keys.task_runs_gsi1(task_id)
        else:
            index, pk = "gsi2", keys.org_runs_gsi2(org_id)
        wanted = {status} if status else set(ACTIVE_STATUSES)
        names: dict[str, str] = {}
        values: dict[str, Any] = {":org": org_id}
        condition = entry_or_status(names, values, sorted(s.value for s in wanted))
        query = index_query(index, pk, before=created_before, newest_first=True).with_filter(
            f"orgId = :org AND {condition}", values, names
        )
        return self.listing.page(
            query,
            page_size=page_size,
            token=token,
            org_id=org_id,
            keep=lambda run: run.status in wanted,
        )

    # -- logs ----------------------------------------------------------------------------
    def log_items(
        self, run: Run, entries: Sequence[LogEntry], ttl_days: int, *, pack: bool = True
    ) -> list[Item]:
        """The items that store `entries`, several per item unless `pack` is off
        (`runhook.dal.run_logs`)."""
        return run_logs.log_items(run, entries, ttl_days, pack=pack)

    def append_logs(
        self,
        run: Run,
        entries: Sequence[LogEntry],
        ttl_days: int,
        extra_items: Sequence[Item] = (),
        *,
        pack: bool = True,
    ) -> None:
        """Write log entries (batched; unprocessed items retried).

        `extra_items` are further items written in the same batches (the engine stores a
        step's result with its log lines in one call); `pack` as in `log_items`.
        """
        logs = self.log_items(run, entries, ttl_days, pack=pack)
        self.table.batch_put([*extra_items, *logs])

    def list_logs(
        self, run_id: str, *, after: str | None, limit: int
    ) -> tuple[list[LogEntry], str | None]:
        """Entries in time order after the entry `after`; the cursor is the last entry's id."""
        return run_logs.read_after(self.table, run_id, after=after, limit=limit)
