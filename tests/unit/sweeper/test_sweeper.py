"""The sweeper's decisions (runhook.services.sweeper) against in-memory ports.

Runs live in the engine's `MemoryRunStore` and settle through the real `Reconciler`, so a
run the sweeper fails is failed exactly as the engine's store would fail it (only from
PENDING/RUNNING, once) and announced in the store's outbox (`MemoryRunStore.outbox`). Executions, the active-runs
index, the due-deliveries index and the queue are small fakes below. The same sweep runs
against DynamoDB Local and moto in tests/integration/sweeper.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

import pytest

from runhook import clock
from runhook.adapters.deliveries import QueueMessage
from runhook.dal.runs import ActiveRun
from runhook.dal.webhooks import DueDelivery
from runhook.engine.reconcile import Reconciler
from runhook.errors import ServiceUnavailable
from runhook.models import Run, RunStatus
from runhook.services.sweeper import (
    RunAction,
    Sweeper,
    SweepPolicy,
    delivery_lost,
    judge_run,
)
from runhook.webhook_models import Delivery, DeliveryStatus
from tests.unit.engine.fakes import MemoryRunStore

NOW = clock.now()
POLICY = SweepPolicy(
    pending_after_seconds=120, deadline_grace_seconds=300, delivery_grace_seconds=600
)
LOG = [{"id": "a", "type": "log", "message": "x"}]


# -- the pure decisions ---------------------------------------------------------------------
def active(status: RunStatus, *, deadline_in: float = 3600) -> ActiveRun:
    created = clock.iso(NOW - timedelta(hours=1))
    return ActiveRun("r", status, created, clock.iso(NOW + timedelta(seconds=deadline_in)))


@pytest.mark.parametrize(
    ("status", "execution", "deadline_in", "expected"),
    [
        (RunStatus.PENDING, None, 3600, RunAction.START),
        (RunStatus.PENDING, None, -1, RunAction.FAIL_START),
        (RunStatus.PENDING, "RUNNING", 3600, RunAction.NONE),
        (RunStatus.PENDING, "FAILED", 3600, RunAction.SETTLE),
        (RunStatus.RUNNING, None, 3600, RunAction.RESTART),
        (RunStatus.RUNNING, None, -1, RunAction.FAIL_TIMEOUT),
        (RunStatus.RUNNING, "RUNNING", 3600, RunAction.NONE),
        (RunStatus.RUNNING, "RUNNING", -299, RunAction.NONE),  # the engine's own deadline
        (RunStatus.RUNNING, "RUNNING", -301, RunAction.FAIL_TIMEOUT),
        (RunStatus.RUNNING, "SUCCEEDED", 3600, RunAction.SETTLE),
        (RunStatus.RUNNING, "TIMED_OUT", -1, RunAction.SETTLE),
        (RunStatus.RUNNING, "ABORTED", 3600, RunAction.SETTLE),
    ],
)
def test_what_happens_to_an_active_run(
    status: RunStatus, execution: str | None, deadline_in: float, expected: RunAction
) -> None:
    assert judge_run(active(status, deadline_in=deadline_in), execution, NOW, POLICY) is expected


def due(*, overdue: float, lease_in: float | None = None) -> DueDelivery:
    lease = None if lease_in is None else int((NOW.timestamp() + lease_in) * 1000)
    at = clock.iso(NOW - timedelta(seconds=overdue))
    return DueDelivery("d", "org", "ep", at, 0, at, lease)


@pytest.mark.parametrize(
    ("overdue", "lease_in", "lost"),
    [(601, None, True), (599, None, False), (601, 30, False), (601, -1, True)],
)
def test_when_a_delivery_counts_as_lost(overdue: float, lease_in: float | None, lost: bool) -> None:
    assert delivery_lost(due(overdue=overdue, lease_in=lease_in), NOW, POLICY) is lost


def test_after_a_restart_a_delivery_not_yet_due_is_lost_too() -> None:
    assert delivery_lost(due(overdue=-60), NOW, SweepPolicy.after_restart()) is True
    assert delivery_lost(due(overdue=-60), NOW, POLICY) is False


# -- fakes ------------------------------------------------------------------------------------
@dataclass
class FakeExecutions:
    """Executions by run id: status, or absent (never started / lost)."""

    status: dict[str, str] = field(default_factory=dict)
    started: list[str] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)
    described: list[str] = field(default_factory=list)
    broken: set[str] = field(default_factory=set)  # describing these raises
    engines: list[str] = field(default_factory=list)  # the engine of each start

    def running_runs(self) -> set[str]:
        return {name for name, status in self.status.items() if status == "RUNNING"}

    def execution_status(self, run_id: str) -> str | None:
        self.described.append(run_id)
        if run_id in self.broken:
            raise ServiceUnavailable(message="stepfunctions: ThrottlingException")
        return self.status.get(run_id)

    def start_run(self, run_id: str, engine: str = "standard") -> None:
        self.started.append(run_id)
        self.engines.append(engine)
        if engine == "standard":  # Express executions cannot be described or listed
            self.status.setdefault(run_id, "RUNNING")  # an existing name starts nothing

    def stop_run(self, run_id: str, cause: str) -> None:
        self.stopped.append(run_id)
        self.status[run_id] = "ABORTED"


@dataclass
class IndexedRuns:
    """The active-runs index over the store (what gsi3 holds: active runs only)."""

    store: MemoryRunStore

    def active_runs(self, *, created_before: str | None = None) -> Iterator[ActiveRun]:
        for run in list(self.store.runs.values()):
            if run.active and (created_before is None or run.created_at < created_before):
                yield ActiveRun(run.id, run.status, run.created_at, run.deadline)

    def get(self, run_id: str) -> Run | None:
        return self.store.runs.get(run_id)


@dataclass
class FakeDeliveries:
    """Pending deliveries with the repository's requeue conditions (gen, status, lease)."""

    items: dict[str, Delivery] = field(default_factory=dict)
    due_at: dict[str, str] = field(default_factory=dict)

    def add(
        self, *, overdue: float, lease_in: float | None = None, gen: int = 3, indexed: bool = True
    ) -> Delivery:
        """`indexed=False`: a first attempt, outside the due index (only SQS carries it)."""
        # The World sweeps `later` seconds after now (not after this module's import); made
        # a moment ago, so that "overdue by exactly the grace" survives ms-precision ISO times.
        made = clock.now() - timedelta(milliseconds=10)
        at = clock.iso(made - timedelta(seconds=overdue))
        lease = None if lease_in is None else int((made.timestamp() + lease_in) * 1000)
        delivery = Delivery(
            id=clock.new_id(),
            org_id="org",
            endpoint_id="ep",
            event_type="task-run.completed",
            webhook_id="wh",
            payload="{}",
            created_at=at,
            gen=gen,
            attempts=2,
            lease_until_ms=lease,
        )
        self.items[delivery.id] = delivery
        if indexed:
            self.due_at[delivery.id] = at
        return delivery

    def due(self, *, due_before: str) -> Iterator[DueDelivery]:
        for d in self.items.values():
            due_at = self.due_at.get(d.id)
            if d.status == "pending" and due_at is not None and due_at < due_before:
                yield self._entry(d, due_at)

    def unqueued(self) -> Iterator[DueDelivery]:
        for d in self.items.values():
            if d.status == "pending" and d.id not in self.due_at:
                yield self._entry(d, d.created_at)

    @staticmethod
    def _entry(d: Delivery, due_at: str) -> DueDelivery:
        return DueDelivery(
            d.id, d.org_id, d.endpoint_id, d.created_at, d.gen, due_at, d.lease_until_ms
        )

    def requeue(
        self,
        delivery_id: str,
        *,
        expected_gen: int | None = None,
        statuses: Sequence[DeliveryStatus] | None = None,
        unleased_at_ms: int | None = None,
    ) -> Delivery | None:
        d = self.items[delivery_id]
        if expected_gen is not None and d.gen != expected_gen:
            return None
        if statuses is not None and d.status not in statuses:
            return None
        lease = d.lease_until_ms
        if unleased_at_ms is not None and lease is not None and lease >= unleased_at_ms:
            return None
        again = d.model_copy(update={"gen": d.gen + 1, "lease_until_ms": None})
        self.items[delivery_id] = again
        self.due_at[delivery_id] = clock.now_iso()
        return again


@dataclass
class FakeQueue:
    sent: list[QueueMessage] = field(default_factory=list)

    def send(self, messages: Sequence[QueueMessage]) -> None:
        self.sent.extend(messages)


@dataclass
class World:
    store: MemoryRunStore = field(default_factory=MemoryRunStore)
    executions: FakeExecutions = field(default_factory=FakeExecutions)
    deliveries: FakeDeliveries = field(default_factory=FakeDeliveries)
    queue: FakeQueue = field(default_factory=FakeQueue)
    later: float = 600.0  # the sweep happens this many seconds after the runs were made

    def sweep(self, policy: SweepPolicy = POLICY) -> dict[str, int]:
        now = clock.now() + timedelta(seconds=self.later)
        sweeper = Sweeper(
            runs=IndexedRuns(self.store),
            executions=self.executions,
            reconciler=Reconciler(self.store),
            deliveries=self.deliveries,
            queue=self.queue,
            now=lambda: now,
        )
        return sweeper.sweep(policy).as_dict()

    def pending(self, *, timeout: int = 7200) -> Run:
        return self.store.add_run(LOG, timeout=timeout)

    def running(self, *, timeout: int = 7200) -> Run:
        run = self.pending(timeout=timeout)
        claimed = self.store.claim(run.id, started_at=clock.now_iso())
        assert claimed is not None
        return claimed

    def status(self, run: Run) -> RunStatus:
        return self.store.runs[run.id].status

    def code(self, run: Run) -> str | None:
        error = self.store.runs[run.id].error
        return error.code if error else None


@pytest.fixture()
def w() -> World:
    return World()


# -- runs -------------------------------------------------------------------------------------
def test_a_pending_run_without_an_execution_is_started(w: World) -> None:
    run = w.pending()
    report = w.sweep()
    assert w.executions.started == [run.id]
    assert w.status(run) is RunStatus.PENDING  # the engine claims it, not the sweeper
    assert (report["started"], report["stuck"]) == (1, 1)


def test_runs_whose_execution_runs_cost_no_describe(w: World) -> None:
    runs = [w.running(), w.pending()]
    for run in runs:
        w.executions.status[run.id] = "RUNNING"
    report = w.sweep()
    assert w.executions.described == []
    assert w.executions.started == [] and report["stuck"] == 0
    assert report["runs_checked"] == 2


def test_young_runs_are_left_to_their_execution(w: World) -> None:
    w.later = 60.0  # younger than pending_after_seconds
    w.pending()
    w.running()
    report = w.sweep()
    assert w.executions.started == [] and report.get("runs_checked", 0) == 0


def test_after_a_restart_young_runs_are_picked_up_at_once(w: World) -> None:
    w.later = 0.001
    pending, running = w.pending(), w.running()
    report = w.sweep(SweepPolicy.after_restart())
    assert sorted(w.executions.started) == sorted([pending.id, running.id])
    assert (report["started"], report["restarted"]) == (1, 1)


def test_a_running_run_whose_execution_is_gone_is_restarted(w: World) -> None:
    run = w.running()
    report = w.sweep()
    assert w.executions.started == [run.id]
    assert w.status(run) is RunStatus.RUNNING  # the new execution continues it
    assert report["restarted"] == 1 and "task-run.failed" not in w.store.outbox


def test_a_run_whose_execution_ended_is_failed_like_the_reconciler_does(w: World) -> None:
    failed, succeeded = w.running(), w.running()
    w.executions.status.update({failed.id: "FAILED", succeeded.id: "SUCCEEDED"})
    report = w.sweep()
    assert w.status(failed) is w.status(succeeded) is RunStatus.FAILED
    assert w.code(failed) == w.code(succeeded) == "execution_failed"
    assert w.store.outbox.count("task-run.failed") == 2
    assert report["settled"] == 2 and w.executions.started == []


def test_a_pending_run_past_its_deadline_fails_start_failed(w: World) -> None:
    run = w.pending(timeout=300)
    report = w.sweep()
    assert (w.status(run), w.code(run)) == (RunStatus.FAILED, "start_failed")
    assert w.executions.started == [] and report["start_failed"] == 1
    assert w.store.outbox.count("task-run.failed") == 1


def test_a_lost_run_past_its_deadline_fails_timeout(w: World) -> None:
    run = w.running(timeout=300)
    report = w.sweep()
    assert (w.status(run), w.code(run)) == (RunStatus.FAILED, "timeout")
    assert w.executions.started == [] and report["timed_out"] == 1


def test_a_run_far_past_its_deadline_fails_and_its_execution_is_stopped(w: World) -> None:
    within, beyond = w.running(timeout=400), w.running(timeout=200)  # sweep at +600 s
    w.executions.status.update({within.id: "RUNNING", beyond.id: "RUNNING"})
    report = w.sweep()
    assert w.status(within) is RunStatus.RUNNING  # still within the 300 s grace
    assert (w.status(beyond), w.code(beyond)) == (RunStatus.FAILED, "timeout")
    assert w.executions.stopped == [beyond.id] and report["timed_out"] == 1


def test_a_run_that_ends_meanwhile_is_left_alone(w: World) -> None:
    run = w.running(timeout=300)
    w.store.cancel(run.id)  # between the index read and the sweeper's write

    class Stale(IndexedRuns):
        def active_runs(self, *, created_before: str | None = None) -> Iterator[ActiveRun]:
            r = self.store.runs[run.id]
            yield ActiveRun(r.id, RunStatus.RUNNING, r.created_at, r.deadline)

    sweeper = Sweeper(
        runs=Stale(w.store),
        executions=w.executions,
        reconciler=Reconciler(w.store),
        deliveries=w.deliveries,
        queue=w.queue,
        now=lambda: clock.now() + timedelta(seconds=600),
    )
    report = sweeper.sweep(POLICY).as_dict()
    assert w.status(run) is RunStatus.CANCELLED
    assert report["stuck"] == 0 and "task-run.failed" not in w.store.outbox


def test_trouble_with_one_run_does_not_stop_the_sweep(w: World) -> None:
    broken, fine = w.running(), w.running()
    w.executions.broken.add(broken.id)
    report = w.sweep()
    assert w.executions.started == [fine.id]
    assert report["errors"] == 1 and report["restarted"] == 1


# -- deliveries -------------------------------------------------------------------------------
def test_an_overdue_delivery_is_enqueued_again_under_a_new_generation(w: World) -> None:
    lost = w.deliveries.add(overdue=0)  # due when the runs were made: +600 s at the sweep
    report = w.sweep()
    assert [(m.delivery_id, m.gen) for m in w.queue.sent] == [(lost.id, lost.gen + 1)]
    again = w.deliveries.items[lost.id]
    assert again.webhook_id == lost.webhook_id  # the receiver sees the same webhook-id
    assert report["deliveries_requeued"] == 1 and report["stuck"] == 1


def test_deliveries_in_flight_or_not_yet_overdue_are_left_to_the_queue(w: World) -> None:
    leased = w.deliveries.add(overdue=0, lease_in=900)  # an attempt holds it
    recent = w.deliveries.add(overdue=-100)  # due 500 s ago at the sweep: within the grace
    report = w.sweep()
    assert w.queue.sent == []
    assert w.deliveries.items[leased.id].gen == leased.gen
    assert w.deliveries.items[recent.id].gen == recent.gen
    assert report.get("deliveries_requeued", 0) == 0


def test_after_a_restart_every_pending_delivery_is_enqueued_again(w: World) -> None:
    """Its queue lived in memory: a retry not yet due lost its (invisible) message too,
    and a scheduled sweep would find it only the grace (10 min) after its due time."""
    w.later = 0.001
    first = w.deliveries.add(overdue=1)
    killed = w.deliveries.add(overdue=0.5, lease_in=50)  # its attempt died with the process
    retry = w.deliveries.add(overdue=-60)  # its retry was due in a minute
    w.sweep(SweepPolicy.after_restart())
    assert sorted(m.delivery_id for m in w.queue.sent) == sorted([first.id, killed.id, retry.id])


def test_a_scheduled_sweep_leaves_a_retry_not_yet_due_to_its_message(w: World) -> None:
    w.deliveries.add(overdue=-60)
    assert w.sweep().get("deliveries_requeued", 0) == 0 and w.queue.sent == []


def test_first_attempts_are_left_to_sqs_until_a_restart_loses_the_queue(w: World) -> None:
    """A first attempt is outside the due index (issue 16): however old, a scheduled sweep
    leaves it to its queue message; after a restart (the queue was in memory) it is
    enqueued again, leased or not."""
    waiting = w.deliveries.add(overdue=3600, indexed=False)
    killed = w.deliveries.add(overdue=0.5, lease_in=50, indexed=False)
    assert w.sweep().get("deliveries_requeued", 0) == 0 and w.queue.sent == []
    w.later = 0.001
    report = w.sweep(SweepPolicy.after_restart())
    assert sorted((m.delivery_id, m.gen) for m in w.queue.sent) == sorted(
        [(waiting.id, waiting.gen + 1), (killed.id, killed.gen + 1)]
    )
    assert report["deliveries_requeued"] == 2


def test_a_sweep_that_finds_nothing_reports_zero_stuck(w: World) -> None:
    assert w.sweep() == {"stuck": 0, "errors": 0}


def test_the_report_names_what_it_found(w: World) -> None:
    w.pending()
    w.deliveries.add(overdue=0)
    report = w.sweep()
    assert report == {
        "runs_checked": 1,
        "started": 1,
        "deliveries_checked": 1,
        "deliveries_requeued": 1,
        "stuck": 2,
        "errors": 0,
    }


# -- Express runs (issue 16): no status events, no DescribeExecution: judged by time ----------
def express(w: World, run: Run) -> Run:
    """`run` as the API would have made it for the Express machine."""
    routed = w.store.runs[run.id].model_copy(update={"engine": "express"})
    w.store.runs[run.id] = routed
    return routed


def test_an_express_run_whose_execution_ended_unrecorded_is_settled(w: World) -> None:
    """The execution died (5-minute limit, MarkFailed failed too) and told no one: once
    it cannot be running any more, the sweeper fails the run as the reconciler would."""
    run = express(w, w.running(timeout=240))
    w.later = 300 + 61.0  # past the Express limit + grace since the claim
    report = w.sweep()
    assert w.status(run) is RunStatus.FAILED and w.code(run) == "execution_failed"
    assert "Express" in (w.store.runs[run.id].error or pytest.fail()).message
    assert w.store.outbox.count("task-run.failed") == 1
    assert (report["settled"], report["stuck"]) == (1, 1)
    assert w.executions.started == [] and w.executions.stopped == []
    assert w.sweep()["stuck"] == 0  # the next sweep finds nothing to do


def test_an_express_run_that_may_still_be_running_is_left_alone(w: World) -> None:
    run = express(w, w.running(timeout=240))
    w.later = 300 + 59.0
    report = w.sweep()
    assert w.status(run) is RunStatus.RUNNING and report["stuck"] == 0
    assert w.executions.started == []  # never a second execution for a running run


def test_a_pending_express_run_is_started_on_express_until_its_deadline(w: World) -> None:
    run = express(w, w.pending(timeout=240))
    w.later = 130.0
    assert w.sweep()["started"] == 1
    assert (w.executions.started, w.executions.engines) == ([run.id], ["express"])
    assert w.status(run) is RunStatus.PENDING
    w.later = 241.0
    assert w.sweep()["start_failed"] == 1
    assert w.code(run) == "start_failed"


def test_after_a_restart_a_running_express_run_continues_on_express(w: World) -> None:
    run = express(w, w.running(timeout=240))
    w.later = 10.0
    assert w.sweep(SweepPolicy.after_restart())["restarted"] == 1
    assert w.executions.engines == ["express"] and w.status(run) is RunStatus.RUNNING


def test_a_standard_run_without_execution_still_restarts_on_standard(w: World) -> None:
    run = w.running()
    w.sweep()
    assert (w.executions.started, w.executions.engines) == ([run.id], ["standard"])
