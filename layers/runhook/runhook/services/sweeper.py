"""The sweeper: no run stays stuck and no due delivery stays unsent (docs/engine.md, "Sweeper").

Everything else in runhook reacts to something: an API call starts an execution, the
execution drives the run, a status-change event reaches the reconciler, a queue message
triggers a delivery attempt. When the something is lost — `StartExecution` failed after
the run was written and the caller never retried, the reconciler's invocation failed
every retry, the local cloud was stopped with executions and queue messages in memory —
nothing would ever look at that run or delivery again. The sweeper looks, on a schedule:

- a PENDING run older than `pending_after_seconds` whose execution does not exist is
  started (the execution's name is the run id, so a start that did happen meanwhile
  makes this a no-op), or, past its deadline, FAILED with `start_failed`;
- a RUNNING run whose execution does not exist is restarted: the engine carries on from
  the run's `currentStep` (the claim accepts a RUNNING run; docs/engine.md), or, past
  its deadline, FAILED with `timeout`;
- a run whose execution is over (SUCCEEDED, FAILED, TIMED_OUT, ABORTED) while the run is
  still active is settled as the reconciler would (`Reconciler.settle`);
- a run whose execution still runs `deadline_grace_seconds` past the run's deadline is
  FAILED with `timeout` and its execution stopped;
- a pending delivery overdue by more than `delivery_grace_seconds` (its queue message is
  presumed gone) and not leased by an attempt in flight is enqueued again under a new
  generation: the same delivery, the same webhook-id, and any older message that still
  surfaces is dropped as stale by the sender. Its retry schedule starts again (the
  attempt number is the new message's receive count). Since issue 16 a delivery is in
  the due index only once an attempt failed (its retry), after a re-enqueue, or when
  dispatch could not send its message: a first attempt is carried by SQS alone
  (docs/webhooks.md, "What a delivery writes"), so after a restart of the local cloud,
  whose queue lived in memory, the pending deliveries outside the index are read too.

Candidates come from the table's sparse index gsi3 (only active runs and pending
deliveries carry its keys; one Query per shard, never a Scan, except for the unqueued
deliveries after a local-cloud restart). One ListExecutions
(RUNNING) per sweep saves a DescribeExecution for every run whose execution is alive.
After the local cloud restarts, every execution and message is known to be lost:
`SweepPolicy.after_restart()` drops the waiting periods.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from functools import partial
from itertools import chain
from typing import TYPE_CHECKING, Protocol

from runhook import clock
from runhook.adapters.deliveries import QueueMessage
from runhook.engine.reconcile import EXPRESS_ENDED, StatusChange
from runhook.engine.routing import EXPRESS, EXPRESS_LIMIT_SECONDS, STANDARD, EngineName
from runhook.errors import RunhookError
from runhook.models import Run, RunStatus

if TYPE_CHECKING:
    from runhook.dal.runs import ActiveRun
    from runhook.dal.webhooks import DueDelivery
    from runhook.engine.reconcile import Reconciler
    from runhook.webhook_models import Delivery, DeliveryStatus

log = logging.getLogger("runhook.sweeper")

RUNNING = "RUNNING"  # an execution's status while it runs


# -- ports ------------------------------------------------------------------------------------
class Executions(Protocol):
    """The run state machine's executions (runhook.adapters.stepfunctions.StepFunctions)."""

    def running_runs(self) -> set[str]: ...

    def execution_status(self, run_id: str) -> str | None:
        """None: the execution does not exist."""
        ...

    def start_run(self, run_id: str, engine: EngineName = STANDARD) -> None: ...

    def stop_run(self, run_id: str, cause: str) -> None: ...


class ActiveRuns(Protocol):
    """The active-runs index (runhook.dal.runs.RunRepository)."""

    def active_runs(self, *, created_before: str | None = None) -> Iterator[ActiveRun]: ...

    def get(self, run_id: str) -> Run | None:
        """The whole run: its `engine` is not in the index (issue 16)."""
        ...


class DueDeliveries(Protocol):
    """The due-deliveries index and the re-enqueue (runhook.dal.webhooks.DeliveryRepository)."""

    def due(self, *, due_before: str) -> Iterator[DueDelivery]: ...

    def unqueued(self) -> Iterator[DueDelivery]:
        """Pending deliveries outside the due index (first attempts: only SQS carries
        them); read only after a restart of the local cloud, whose queue was in memory."""
        ...

    def requeue(
        self,
        delivery_id: str,
        *,
        expected_gen: int | None = None,
        statuses: Sequence[DeliveryStatus] | None = None,
        unleased_at_ms: int | None = None,
    ) -> Delivery | None: ...


class Queue(Protocol):
    """The deliveries queue (runhook.adapters.deliveries.DeliveryQueue)."""

    def send(self, messages: Sequence[QueueMessage]) -> None: ...


# A `due_before` bound past every due time the index can hold (ISO 8601 sorts as text).
EVERY_DUE_TIME = "9999-12-31T23:59:59.999Z"


# -- decisions (pure) -----------------------------------------------------------------------
@dataclass(frozen=True)
class SweepPolicy:
    """How long the sweeper waits before it calls a run or a delivery stuck (seconds)."""

    pending_after_seconds: float = 120.0  # a PENDING run this old should have started
    deadline_grace_seconds: float = 300.0  # the engine ends a run at its deadline by itself
    delivery_grace_seconds: float = 600.0  # SQS hands a due message back within this
    respect_leases: bool = True  # a leased delivery has an attempt in flight: leave it
    # An Express execution that neither ended the run nor could still be running (its
    # 5-minute life since the claim, plus this) ended without the engine recording it.
    express_grace_seconds: float = 60.0
    executions_lost: bool = False  # the local cloud restarted: no execution survived

    @classmethod
    def after_restart(cls) -> SweepPolicy:
        """Every execution and queue message is gone (the local cloud restarted), and so is
        every attempt that held a lease: act now."""
        return cls(
            pending_after_seconds=0.0,
            delivery_grace_seconds=0.0,
            respect_leases=False,
            executions_lost=True,
        )


class RunAction(StrEnum):
    NONE = "none"
    START = "started"  # PENDING, no execution
    RESTART = "restarted"  # RUNNING, no execution
    SETTLE = "settled"  # the execution is over, the run is not
    FAIL_START = "start_failed"  # PENDING, no execution, past the deadline
    FAIL_TIMEOUT = "timed_out"  # past the deadline (and its grace, while the execution runs)


def judge_run(
    run: ActiveRun, execution: str | None, now: datetime, policy: SweepPolicy
) -> RunAction:
    """What to do with an active run whose execution has status `execution` (None: gone)."""
    deadline = clock.parse_iso(run.deadline) if run.deadline else None
    past_deadline = deadline is not None and now >= deadline
    if execution == RUNNING:
        grace = timedelta(seconds=policy.deadline_grace_seconds)
        if deadline is not None and now >= deadline + grace:
            return RunAction.FAIL_TIMEOUT
        return RunAction.NONE
    if execution is not None:
        return RunAction.SETTLE
    if run.status is RunStatus.PENDING:
        return RunAction.FAIL_START if past_deadline else RunAction.START
    return RunAction.FAIL_TIMEOUT if past_deadline else RunAction.RESTART


def judge_express_run(run: Run, now: datetime, policy: SweepPolicy) -> RunAction:
    """What to do with an active Express run (nothing can tell whether its execution runs).

    Express executions cannot be described or listed and emit no status events, but they
    cannot outlive `EXPRESS_LIMIT_SECONDS`: a run still RUNNING that long (plus the grace)
    after its claim was left by an execution that ended without the engine recording it
    (SETTLE, `execution_failed`). A PENDING run is started again (a second execution is
    harmless: the claim is conditional) until its deadline.
    """
    past_deadline = run.deadline is not None and now >= clock.parse_iso(run.deadline)
    if run.status is RunStatus.PENDING:
        return RunAction.FAIL_START if past_deadline else RunAction.START
    if policy.executions_lost:
        return RunAction.FAIL_TIMEOUT if past_deadline else RunAction.RESTART
    claimed = clock.parse_iso(run.started_at or run.created_at)
    over = claimed + timedelta(seconds=EXPRESS_LIMIT_SECONDS + policy.express_grace_seconds)
    return RunAction.SETTLE if now >= over else RunAction.NONE


def lost_if_due_by(now: datetime, policy: SweepPolicy) -> datetime | None:
    """A pending delivery due at or before this has presumably lost its queue message;
    None: every pending delivery has.

    That is the grace before now, except after a restart of the local cloud: then every
    message is gone, including a retry not yet due (it waited, invisible, in the memory
    queue), which is enqueued again at once rather than found grace seconds after its
    due time.
    """
    if policy.executions_lost:
        return None
    return now - timedelta(seconds=policy.delivery_grace_seconds)


def delivery_lost(delivery: DueDelivery, now: datetime, policy: SweepPolicy) -> bool:
    """A pending delivery that lost its queue message (`lost_if_due_by`), with no attempt
    in flight."""
    bound = lost_if_due_by(now, policy)
    overdue = bound is None or clock.parse_iso(delivery.due_at) <= bound
    leased = delivery.lease_until_ms is not None and delivery.lease_until_ms > _ms(now)
    return overdue and not (leased and policy.respect_leases)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


@dataclass
class SweepReport:
    """What one sweep found and did (the handler's metrics; a non-zero `stuck` alarms)."""

    counts: Counter[str] = field(default_factory=Counter)
    errors: int = 0

    @property
    def stuck(self) -> int:
        """Runs and deliveries the sweeper had to act on: each was stuck."""
        acted = [a.value for a in RunAction if a is not RunAction.NONE]
        return sum(self.counts[name] for name in (*acted, "deliveries_requeued"))

    def as_dict(self) -> dict[str, int]:
        return {**dict(self.counts), "stuck": self.stuck, "errors": self.errors}


# -- the sweep ------------------------------------------------------------------------------
_MESSAGES = {
    RunAction.FAIL_START: ("start_failed", "the run's execution could not be started in time"),
    RunAction.FAIL_TIMEOUT: ("timeout", "the run did not finish within its timeout"),
}


class Sweeper:
    """One sweep over the active runs and the due deliveries (see the module docstring)."""

    def __init__(
        self,
        *,
        runs: ActiveRuns,
        executions: Executions,
        reconciler: Reconciler,
        deliveries: DueDeliveries,
        queue: Queue,
        now: Callable[[], datetime] = clock.now,
    ) -> None:
        self._runs = runs
        self._executions = executions
        self._reconciler = reconciler
        self._deliveries = deliveries
        self._queue = queue
        self._now = now

    def sweep(self, policy: SweepPolicy) -> SweepReport:
        report = SweepReport()
        self._guarded(report, "runs", lambda: self._sweep_runs(policy, report))
        self._guarded(report, "deliveries", lambda: self._sweep_deliveries(policy, report))
        return report

    def _sweep_runs(self, policy: SweepPolicy, report: SweepReport) -> None:
        now = self._now()
        alive = self._executions.running_runs()
        cutoff = clock.iso(now - timedelta(seconds=policy.pending_after_seconds))
        for run in self._runs.active_runs(created_before=cutoff):
            report.counts["runs_checked"] += 1
            work = partial(self._sweep_run, run, alive, now, policy, report)
            self._guarded(report, f"run {run.id}", work)

    def _judge(
        self, run: ActiveRun, alive: set[str], now: datetime, policy: SweepPolicy
    ) -> tuple[RunAction, str | None, EngineName]:
        """The action, the execution's status (None: none) and the run's engine. A run with
        no Standard execution is read whole: Express runs are judged by time alone."""
        execution = RUNNING if run.id in alive else self._executions.execution_status(run.id)
        if execution is not None:
            return judge_run(run, execution, now, policy), execution, STANDARD
        stored = self._runs.get(run.id)
        if stored is None or not stored.active:
            return RunAction.NONE, None, STANDARD  # it ended meanwhile
        if stored.engine != EXPRESS:
            return judge_run(run, None, now, policy), None, STANDARD
        action = judge_express_run(stored, now, policy)
        return action, EXPRESS_ENDED if action is RunAction.SETTLE else None, EXPRESS

    def _sweep_run(
        self,
        run: ActiveRun,
        alive: set[str],
        now: datetime,
        policy: SweepPolicy,
        report: SweepReport,
    ) -> None:
        action, execution, engine = self._judge(run, alive, now, policy)
        if action is RunAction.NONE:
            return
        if action in (RunAction.START, RunAction.RESTART):
            self._executions.start_run(run.id, engine)
        elif action is RunAction.SETTLE:
            change = StatusChange(name=run.id, status=str(execution))
            outcome = self._reconciler.settle(run.id, change)
            if outcome.get("action") != "failed":
                return  # it ended meanwhile
        else:
            code, message = _MESSAGES[action]
            if self._reconciler.fail(run.id, code, message) is None:
                return  # it ended meanwhile
            if execution == RUNNING:
                self._executions.stop_run(run.id, message)
        report.counts[action.value] += 1
        log.warning("run %s (%s, execution %s): %s", run.id, run.status, execution, action)

    def _sweep_deliveries(self, policy: SweepPolicy, report: SweepReport) -> None:
        now = self._now()
        bound = lost_if_due_by(now, policy)
        cutoff = EVERY_DUE_TIME if bound is None else clock.iso(bound)
        messages: list[QueueMessage] = []
        candidates: Iterator[DueDelivery] = self._deliveries.due(due_before=cutoff)
        if policy.executions_lost:  # the queue's messages are gone with the rest
            candidates = chain(candidates, self._deliveries.unqueued())
        for due in candidates:
            report.counts["deliveries_checked"] += 1
            if not delivery_lost(due, now, policy):
                continue
            again = self._deliveries.requeue(
                due.id,
                expected_gen=due.gen,
                statuses=["pending"],
                unleased_at_ms=_ms(now) if policy.respect_leases else None,
            )
            if again is not None:  # else an attempt or a requeue got there first
                messages.append(QueueMessage.of(again))
        if messages:
            self._queue.send(messages)
            report.counts["deliveries_requeued"] += len(messages)
            log.warning("re-enqueued %d overdue deliveries", len(messages))

    @staticmethod
    def _guarded(report: SweepReport, what: str, work: Callable[[], None]) -> None:
        """One item's trouble (a throttled call, an outage) must not stop the sweep."""
        try:
            work()
        except RunhookError:
            report.errors += 1
            log.exception("sweeping %s failed; the next sweep tries again", what)
