"""Run listings (issue 16): write-once entries in gsi1/gsi2, resolved to runs per page.

gsi1 (a task's runs) and gsi2 (an organization's runs) are ALL-projected, so a run item
carrying their keys paid three write units for each of its updates (the item and two
index copies): claim, every step's progress, the end. Since issue 16 the run item
carries neither key; a small listing entry (`RUN#<run>` / `LISTING`) is written once, in
the create transaction, with both keys and the run's immutable facts the listings
filter on (organization, task, trigger type). Every listed field that changes (status,
progress, outputs…) is read from the run itself: a listing reads its index, then the
runs its entries name with one BatchGetItem per page (eventually consistent, like the
index it replaces).

`status` is the one filter on a changing field: the entry does not carry it (it would
cost three write units per status change), so it is applied to the resolved runs, and
a page keeps reading until it is full, within the same budget of Queries as any
filtered page (`runhook.dal.table.MAX_PAGE_READS`). Run items written before carry the
index keys themselves; the Query's filter checks their status and they are used as
they are, so both layouts list together, in order, with no migration.

The entry's type (`run_listing`) is neither `run` nor `log`: the stream publisher's
filter (template.yaml, PublisherFunction) never passes it and runhook.dal.stream
decodes it to nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from runhook import keys
from runhook.dal.expressions import Item, Query, key
from runhook.dal.pages import decode_token, encode_token
from runhook.dal.table import FILTERED_READ_FACTOR, MAX_PAGE_READS, MIN_FILTERED_READ, Table
from runhook.models import Run

LISTING_SK = "LISTING"
LISTING_TYPE = "run_listing"
RUN_TYPE = "run"


def listing_item(run: Run) -> Item:
    """The run's write-once entry in its task's (gsi1) and organization's (gsi2) listings:
    newest first by creation, with what the listings filter on that never changes."""
    created = keys.created_sort(run.created_at, run.id)
    return {
        **key(keys.run_pk(run.id), LISTING_SK),
        "type": LISTING_TYPE,
        "gsi1pk": keys.task_runs_gsi1(run.task_id),
        "gsi1sk": created,
        "gsi2pk": keys.org_runs_gsi2(run.org_id),
        "gsi2sk": created,
        "orgId": run.org_id,
        "taskId": run.task_id,
        "triggerType": run.trigger_type,
    }


def entry_or_status(names: dict[str, str], values: dict[str, Any], statuses: Sequence[str]) -> str:
    """A filter that keeps every listing entry (their runs' status is checked once read)
    and the run items of the earlier layout whose status is one of `statuses`."""
    names.update({"#type": "type", "#status": "status"})
    values[":entry"] = LISTING_TYPE
    wanted = []
    for i, status in enumerate(statuses):
        values[f":st{i}"] = status
        wanted.append(f":st{i}")
    return f"(#type = :entry OR #status IN ({', '.join(wanted)}))"


def _run_id(item: Mapping[str, Any]) -> str:
    return keys.run_id_of(str(item["pk"]))


class RunListing:
    """Pages of a run listing (a Query of gsi1 or gsi2), resolved to runs.

    `runs_of` turns the run items (as stored) into `Run`s; it is given by the
    repository so that the run's decoding stays in one place (runhook.dal.runs).
    """

    def __init__(self, table: Table, runs_of: Callable[[Sequence[Item]], list[Run]]) -> None:
        self.table = table
        self._runs_of = runs_of

    def resolve(self, items: Sequence[Item]) -> dict[str, Run]:
        """The runs these index items stand for, by id: a run item of the earlier layout
        as it is, a listing entry's run read with one BatchGetItem; an entry whose run
        does not exist is left out."""
        found = [i for i in items if i.get("type") == RUN_TYPE]
        wanted = [_run_id(i) for i in items if i.get("type") != RUN_TYPE]
        if wanted:
            ids = [key(keys.run_pk(r), keys.RUN_SK) for r in dict.fromkeys(wanted)]
            found.extend(self.table.batch_get(ids))
        return {run.id: run for run in self._runs_of(found)}

    def page(
        self,
        query: Query,
        *,
        page_size: int,
        token: str | None,
        org_id: str | None,
        keep: Callable[[Run], bool] | None = None,
    ) -> tuple[list[Run], str | None]:
        """One page of runs, newest first, and the token of the next (None: no more).

        The same contract as `Table.page`: a filtered read (a Query filter or `keep`,
        applied to the resolved runs) reads `FILTERED_READ_FACTOR` times what the page
        still lacks, at most `MAX_PAGE_READS` Queries; the token resumes after the last
        returned run of a full page, else after the last item read. Entries are resolved
        as the page needs them (what it lacks, at least `MIN_FILTERED_READ` when `keep`
        filters), not all that a filtered Query read. `org_id` (when given) must own
        every listed run.
        """
        fields = query.key_attributes
        start = None
        if token is not None:
            expected = {query.index_partition: str(query.values[":pk"])}
            start = decode_token(token, expected=expected, fields=fields)
        out: list[Run] = []
        seen: set[str] = set()
        last: Mapping[str, Any] | None = None
        for _ in range(MAX_PAGE_READS):
            missing = page_size - len(out)
            filtered = query.filter is not None or keep is not None
            limit = max(missing * FILTERED_READ_FACTOR, MIN_FILTERED_READ) if filtered else missing
            items, last = self.table.query(query, limit=limit, start=start)
            position = 0
            while position < len(items):
                # Resolve only what the page still lacks (a filtered one: at least
                # MIN_FILTERED_READ at a time, so a rare status takes few round trips).
                size = page_size - len(out)
                if keep is not None:
                    size = max(size, MIN_FILTERED_READ)
                chunk = items[position : position + size]
                runs = self.resolve(chunk)
                for offset, item in enumerate(chunk):
                    run = runs.get(_run_id(item))
                    if run is None or run.id in seen or (org_id and run.org_id != org_id):
                        continue
                    if keep is not None and not keep(run):
                        continue
                    seen.add(run.id)
                    out.append(run)
                    if len(out) == page_size:
                        more = position + offset < len(items) - 1 or last is not None
                        return out, _token(item, fields) if more else None
                position += len(chunk)
            if last is None:
                break
            start = dict(last)
        return out, _token(last, fields) if last is not None else None


def _token(item: Mapping[str, Any], fields: Sequence[str]) -> str:
    return encode_token({f: str(item[f]) for f in fields})
