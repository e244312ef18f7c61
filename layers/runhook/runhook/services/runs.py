"""Creating, reading, listing, cancelling and answering runs.

A cancel is one conditional transition of the run item; its `task-run.cancelled` is
published from the table's stream like every other run event, so the API never calls
the bus. An answer to an approval is claimed silently and undone if Step Functions
refuses it; the engine's next change announces its effect.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from runhook import clock
from runhook.adapters.stepfunctions import StepFunctions
from runhook.dal.expressions import TransactAction
from runhook.dal.run_store import DynamoRunStore
from runhook.dal.runs import IdempotencyConflict, RunRepository, TransactionRefused, retry_link
from runhook.dal.tasks import TaskRepository
from runhook.engine.routing import STANDARD, choose_engine
from runhook.errors import Conflict, InvalidRequest, NotFound, ServiceUnavailable
from runhook.models import (
    ACTIVE_STATUSES,
    LogEntry,
    Principal,
    Run,
    RunFilter,
    RunStatus,
    TriggerType,
)
from runhook.services.quota import Quota
from runhook.services.run_labels import checked_metadata, merged_tags
from runhook.tasks.task import Task

MAX_CANCEL_REASON = 1024
MAX_CLIENT_REQUEST_ID = 255
# The answer travels in the execution's state (256 KB limit, shared with the run's refs).
MAX_RESUME_DATA_BYTES = 64 * 1024
CREATE_ATTEMPTS = 6  # transaction conflicts with concurrent creates of the same claim
TASK_RUNS_LISTED = 50
RETRYABLE_STATUSES = frozenset({RunStatus.FAILED, RunStatus.CANCELLED})


@dataclass(frozen=True)
class CreatedRun:
    run: Run
    created: bool  # False: an existing run was returned for the same clientRequestId


def _require_uuid(value: str, code: str) -> None:
    if not clock.is_uuid(value):
        raise InvalidRequest(code)


def _check_client_request_id(client_request_id: str | None) -> None:
    if client_request_id is not None and not (0 < len(client_request_id) <= MAX_CLIENT_REQUEST_ID):
        raise InvalidRequest("invalid_client_request_id")


def _new_run(
    principal: Principal,
    task: Task,
    inputs: dict[str, Any],
    client_request_id: str | None,
    trigger_type: TriggerType,
    *,
    tags: list[str],
    metadata: dict[str, Any],
    express: bool = False,
) -> Run:
    """A PENDING run of `task` (a saved version), created now; on the Express machine when
    `express` (the deployment has one) and the routing rule allows it."""
    now = clock.now()
    timeout = task.definition.timeoutSeconds
    engine = choose_engine((s.type for s in task.steps), timeout) if express else STANDARD
    return Run(
        id=clock.new_id(),
        org_id=principal.org_id,
        task_id=task.id,
        task_version=task.version,
        status=RunStatus.PENDING,
        trigger_type=trigger_type,
        created_at=clock.iso(now),
        steps_total=len(task.steps),
        inputs=inputs,
        client_request_id=client_request_id,
        deadline=clock.iso(now + timedelta(seconds=timeout)),
        tags=tags,
        metadata=metadata,
        engine=engine,
    )


class RunService:
    """The API's run operations. Longer than ~250 lines because create and retry share one
    create transaction, replay and start path, and bulk cancel reuses `cancel_active`."""

    def __init__(
        self,
        runs: RunRepository,
        tasks: TaskRepository,
        quota: Quota,
        sfn: StepFunctions,
        *,
        public_base_url: str,
        steps: DynamoRunStore | None = None,
    ) -> None:
        self.runs = runs
        self.tasks = tasks
        self.quota = quota
        self.sfn = sfn
        self.public_base_url = public_base_url
        # Step records, for retries that carry steps over (None: every retry from the start).
        self.steps = steps

    def resource(self, run: Run) -> dict[str, Any]:
        """The run as the API shows it (its logs URL on this deployment's base URL)."""
        return run.to_resource(self.public_base_url)

    def visible_run(self, principal: Principal, run_id: str) -> Run:
        _require_uuid(run_id, "invalid_run_id")
        run = self.runs.get(run_id)
        if run is None or run.org_id != principal.org_id:
            raise NotFound("run_not_found")
        return run

    def create_run(
        self,
        principal: Principal,
        task_id: str,
        inputs: dict[str, Any] | None,
        client_request_id: str | None,
        trigger_type: TriggerType = "api",
        *,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> CreatedRun:
        _require_uuid(task_id, "invalid_task_id")
        _check_client_request_id(client_request_id)
        task = self.tasks.get(task_id)
        if task is None or task.org_id != principal.org_id:
            raise NotFound("task_not_found")
        merged, problems = task.definition.prepare_inputs(inputs)
        if problems:
            raise InvalidRequest("invalid_inputs", errors=problems)
        run = _new_run(
            principal,
            task,
            merged,
            client_request_id,
            trigger_type,
            tags=merged_tags(tags, task.definition.tags),
            metadata=checked_metadata(metadata),
            express=self.sfn.express_enabled,
        )
        return self._insert(principal, run)

    def _insert(
        self, principal: Principal, run: Run, extra: Sequence[TransactAction] = ()
    ) -> CreatedRun:
        """Write `run` (its claim, tags and usage count, and `extra`) and start it; the
        run an earlier request with the same clientRequestId made, if there is one."""
        now = clock.parse_iso(run.created_at)
        for attempt in range(CREATE_ATTEMPTS):
            try:
                count = self.quota.count_run(principal.org_id, now, principal.org_settings)
                self.runs.create(run, extra=[count, *extra])
                break
            except IdempotencyConflict as conflict:
                return self._replay(conflict.run_id, principal, retry_of=run.retry_of)
            except TransactionRefused as refused:
                if extra and refused.reasons[-1:] == ["ConditionalCheckFailed"]:
                    raise Conflict("run_already_retried") from refused  # the retry link
                if refused.condition_failed:
                    raise self.quota.exceeded(principal.org_id, now) from refused
                # TransactionConflict: a concurrent create touched the same claim or counter.
                time.sleep(random.uniform(0.01, 0.05) * (attempt + 1))
                if run.client_request_id and (
                    holder := self.runs.claimed_run(run.task_id, run.client_request_id)
                ):
                    return self._replay(holder, principal, retry_of=run.retry_of)
        else:
            raise ServiceUnavailable(message="create run: transaction conflicts persisted")
        self.sfn.start_run(run.id, run.engine)
        return CreatedRun(run, created=True)

    def retry_run(
        self,
        principal: Principal,
        run_id: str,
        *,
        from_start: bool = False,
        inputs: dict[str, Any] | None = None,
        client_request_id: str | None = None,
    ) -> CreatedRun:
        """A new run of a FAILED or CANCELLED run's task version, linked both ways, that
        carries over the leading steps that succeeded (none with `from_start` or new
        `inputs`) and so starts at the step that failed (docs/engine.md, "Retrying a run from
        the step that failed"). Its trigger is the API call that asked for it (`api`)."""
        _check_client_request_id(client_request_id)
        original = self.visible_run(principal, run_id)
        if client_request_id and (
            holder := self.runs.claimed_run(original.task_id, client_request_id)
        ):
            return self._replay(holder, principal, retry_of=original.id)
        if original.status not in RETRYABLE_STATUSES:
            raise Conflict("run_not_retryable", runStatus=original.status.value)
        if original.retried_by:
            raise Conflict("run_already_retried", retriedBy=original.retried_by)
        task = self.tasks.get_version(original.task_id, original.task_version)
        if task is None:
            raise Conflict("task_version_not_found")
        given = original.inputs if inputs is None else inputs
        merged, problems = task.definition.prepare_inputs(given)
        if problems:
            raise InvalidRequest("invalid_inputs", errors=problems)
        reused = 0
        if not from_start and inputs is None and self.steps is not None:
            reused = self.steps.reusable_steps(original.id)
        run = _new_run(
            principal,
            task,
            merged,
            client_request_id,
            "api",
            tags=original.tags,
            metadata=original.metadata,
            express=self.sfn.express_enabled,
        ).model_copy(update={"retry_of": original.id, "reused_steps": reused})
        if reused and self.steps is not None:
            self.steps.carry_over(original.id, run, reused)
        return self._insert(principal, run, extra=[retry_link(original.id, run.id)])

    def _replay(
        self, run_id: str, principal: Principal, *, retry_of: str | None = None
    ) -> CreatedRun:
        """The run an earlier request with the same clientRequestId created.

        A run still PENDING may never have been started (StartExecution failed after the
        transaction): start it. StartExecution by name is idempotent, so a replay racing the
        original request, or one after the run was claimed, starts nothing twice.
        """
        run = self.runs.get(run_id)
        if run is None:  # the claim is written in the same transaction as the run
            raise NotFound("run_not_found")
        if run.org_id != principal.org_id:
            raise NotFound("task_not_found")
        if retry_of is not None and run.retry_of != retry_of:
            # The key names another run of the task (a create, or a retry of another run).
            raise Conflict("client_request_id_in_use", runId=run.id)
        if run.status is RunStatus.PENDING:
            # On Express a repeat may start a second execution: harmless (docs/engine.md).
            self.sfn.start_run(run.id, run.engine)
        return CreatedRun(run, created=False)

    def cancel_run(self, principal: Principal, run_id: str, reason: str | None) -> Run:
        if reason is not None and len(reason) > MAX_CANCEL_REASON:
            raise InvalidRequest("invalid_cancel_reason")
        run = self.visible_run(principal, run_id)
        if not run.active:
            return run
        cancelled = self.cancel_active(run_id, reason)
        if cancelled is None:  # it finished meanwhile: report what it is now
            return self.visible_run(principal, run_id)
        return cancelled

    def cancel_active(self, run_id: str, reason: str | None) -> Run | None:
        """PENDING/RUNNING → CANCELLED (announcing `task-run.cancelled`), then its approval
        token failed and its execution stopped; None when the run was over already."""
        cancelled = self.runs.transition(
            run_id,
            event="task-run.cancelled",
            allowed_from=ACTIVE_STATUSES,
            changes={
                "status": RunStatus.CANCELLED,
                "cancel_reason": reason,
                "finished_at": clock.now_iso(),
            },
            remove=["waiting"],
        )
        if cancelled is None:
            return None
        # Read the token after the cancel is committed: an approval parked a moment ago is
        # seen here, and one parking later finds the run inactive and stands down itself.
        token = self.runs.task_token(run_id)
        if token:
            self.sfn.send_task_failure(token, "Cancelled", reason or "cancelled")
        self.sfn.stop_run(run_id, reason or "cancelled", cancelled.engine)
        return cancelled

    def resume_run(
        self,
        principal: Principal,
        run_id: str,
        approved: bool,
        data: dict[str, Any] | None,
        comment: str | None,
    ) -> Run:
        if data is not None and len(json.dumps(data)) > MAX_RESUME_DATA_BYTES:
            raise InvalidRequest("resume_data_too_large", limit=MAX_RESUME_DATA_BYTES)
        run = self.visible_run(principal, run_id)
        token = self.runs.task_token(run_id)
        if run.status is not RunStatus.RUNNING or run.waiting is None or not token:
            raise Conflict("run_not_waiting")
        # Claim the answer (one conditional write: a second answer finds no token), silently:
        # the execution may refuse it (its token is dead), and then the claim is undone. The
        # engine's next change (progress, completion, a rejection's failure) announces it.
        answered = self.runs.transition(
            run_id,
            event=None,
            allowed_from={RunStatus.RUNNING},
            changes={},
            remove=["waiting", "taskToken"],
            condition="taskToken = :token",
            condition_values={":token": token},
        )
        if answered is None:
            raise Conflict("run_not_waiting")
        answer = {"approved": approved, "data": data, "comment": comment}
        if not self.sfn.send_task_success(token, answer):
            self.runs.transition(  # still waiting: put the question back as it was
                run_id,
                event=None,
                allowed_from={RunStatus.RUNNING},
                changes={"waiting": run.waiting},
                raw={"taskToken": token},
                condition="attribute_not_exists(taskToken)",
            )
            raise Conflict("run_not_waiting")
        return answered

    def list_task_runs(self, principal: Principal, task_id: str) -> list[Run]:
        _require_uuid(task_id, "invalid_task_id")
        task = self.tasks.get(task_id)
        if task is None or task.org_id != principal.org_id:
            raise NotFound("task_not_found")
        return self.runs.list_for_task(task_id, limit=TASK_RUNS_LISTED)

    def list_runs(
        self, principal: Principal, filters: RunFilter, *, page_size: int, page_token: str | None
    ) -> tuple[list[Run], str | None]:
        """The organization's runs, newest first (a task filter must name a task id)."""
        if filters.task_id is not None:
            _require_uuid(filters.task_id, "invalid_task_id")
        return self.runs.list_for_org(
            principal.org_id, filters, page_size=page_size, page_token=page_token
        )

    def read_logs(
        self, principal: Principal, run_id: str, after: str | None, limit: int
    ) -> tuple[list[LogEntry], str | None]:
        self.visible_run(principal, run_id)
        if after is not None and not clock.is_uuid(after):
            raise InvalidRequest("invalid_cursor")
        return self.runs.list_logs(run_id, after=after, limit=limit)
