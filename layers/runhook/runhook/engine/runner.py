"""The actions the run state machine invokes (statemachines/run.asl.json).

- `advance` — claims the run on the first call (PENDING → RUNNING, only if still
  PENDING), finishes the step the machine paused on (a wait, an answered approval),
  then runs inline steps one after another until a pause, a step of another runner,
  the end of the task (outputs → COMPLETED) or a failure (FAILED). Per step: an info
  line when it starts, a result summary, a warning per retry, an error on failure;
  its result in a STEP# item; progress through `transition` + `task-run.updated`.
- `await_answer` — the approval's `.waitForTaskToken` task: stores the token and
  `waiting` on the run in one conditional update, then announces `task-run.waiting`.
- `fail` — the machine's catch-all: marks the run FAILED {code, message, nodeId}.

Rules that make this safe to retry and to race with cancel:
- DynamoDB is the source of truth. An action for a run that is no longer RUNNING
  does nothing (a run cancelled before it started ends quietly).
- Every change is a conditional `transition` on the run's status and `currentStep`,
  so a retried invocation cannot advance a run twice: it resumes from `currentStep`
  (results of finished steps are read back), and a step never starts after the run
  stopped being RUNNING (the conditional write that records step k is the check that
  step k+1 may start; retries re-read the run before each new attempt).
- Events are published after the change they announce is committed.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from pydantic import BaseModel

from runhook import clock
from runhook.bootstrap import Container
from runhook.dal.runs import RunRepository
from runhook.dal.tasks import TaskRepository
from runhook.engine import results
from runhook.engine.journal import Journal
from runhook.engine.outputs import OutputError, evaluate_outputs
from runhook.engine.state import END, MachineState, Next, StepEvent, output
from runhook.engine.steps import DEFAULT_RUNNER, Mode, StepCall, StepFailure, StepKind, get_kind
from runhook.engine.steps.approval import ApprovalKind
from runhook.errors import RunhookError
from runhook.models import ACTIVE_STATUSES, Run, RunError, RunStatus, Waiting
from runhook.settings import Settings
from runhook.tasks.templating import TemplateError

log = logging.getLogger("runhook.engine")

LAMBDA_MARGIN_SECONDS = 30.0  # left for writing results and events before Lambda's timeout
INLINE_BACKOFF_LIMIT = 10.0  # longer retry backoffs become a Wait state (no compute billed)
MAX_ERROR_MESSAGE = 2000
STOP_CHECK_SECONDS = 2.0  # how often a long step may re-read the run's status
DEFAULT_RUN_TIMEOUT = 3600


class RunNotActive(Exception):
    """The run is no longer RUNNING at the step it was expected to be at."""


@dataclass
class _Loaded:
    """One invocation's view of a run: the run, its task version, its step results."""

    run: Run
    steps: list[BaseModel]
    outputs: dict[str, str]
    records: dict[int, results.StepRecord]
    data: dict[str, Any]
    journal: Journal
    timeout_seconds: int
    final: tuple[str, Run] | None = None  # the lifecycle event to publish last
    pending: list[tuple[str, Run]] = field(default_factory=list)  # progress events not yet sent

    @property
    def total(self) -> int:
        return len(self.steps)

    def step_type(self, index: int) -> str:
        return str(getattr(self.steps[index], "type"))  # noqa: B009

    def node_id(self, index: int) -> str | None:
        return str(getattr(self.steps[index], "id")) if 0 <= index < self.total else None  # noqa: B009


@dataclass(frozen=True)
class _Definition:
    steps: list[BaseModel]
    outputs: dict[str, str]
    timeout_seconds: int


@lru_cache(maxsize=256)
def _definition(tasks: TaskRepository, task_id: str, version: int) -> _Definition | None:
    """A task version's parsed steps, outputs and timeout (immutable, so cached per container).

    The repository is part of the key so tests (and the local cloud) that switch tables
    never see another table's task.
    """
    task = tasks.get_version(task_id, version)
    if task is None:
        return None
    return _Definition(
        steps=list(task.definition.steps),
        outputs=dict(task.definition.outputs),
        timeout_seconds=task.definition.timeoutSeconds,
    )


class Engine:
    """The step function's logic. One instance per invocation (it holds the time budget)."""

    def __init__(
        self,
        *,
        runner: str = DEFAULT_RUNNER,
        remaining_ms: Callable[[], int] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        settings: Settings | None = None,
        container: Container | None = None,
    ) -> None:
        self.runner = runner
        self.container = container or Container.from_environment()
        self.settings = settings or self.container.settings
        self.runs = self.container.runs
        self.bus = self.container.bus
        self.sleep = sleep
        # What this invocation did, for the handler's metrics (step_succeeded, run_failed, …).
        self.outcomes: Counter[str] = Counter()
        self._lambda_deadline: float | None = (
            time.monotonic() + remaining_ms() / 1000.0 if remaining_ms is not None else None
        )

    # -- entry point --------------------------------------------------------------------
    def handle(self, event: dict[str, Any]) -> dict[str, Any]:
        parsed = StepEvent.model_validate(event)
        state = parsed.state
        if parsed.action == "advance":
            return self.advance(state)
        if parsed.action == "await":
            if not parsed.taskToken:
                raise ValueError("await needs a taskToken")
            return self.await_answer(state, parsed.taskToken)
        return self.fail(state)

    # -- advance ------------------------------------------------------------------------
    def advance(self, state: MachineState) -> dict[str, Any]:
        run_id = state.runId
        nxt = state.next
        if nxt is None:
            run = self._claim(run_id)
        else:
            run = self.runs.get(run_id)
            if run is not None and run.status is not RunStatus.RUNNING:
                self._republish_terminal(run)
                run = None
        if run is None:
            return output(run_id, END)
        loaded = self._load(run)
        if loaded is None:
            return output(run_id, END)
        try:
            result = self._advance(loaded, nxt, state.answer)
        finally:
            self._finish(loaded)
        return output(run_id, result)

    def _claim(self, run_id: str) -> Run | None:
        """PENDING → RUNNING. None when the run is gone or over (cancelled before it began)."""
        now = clock.now_iso()
        run = self.runs.transition(
            run_id,
            allowed_from={RunStatus.PENDING},
            changes={"status": RunStatus.RUNNING, "started_at": now, "current_step": 0},
        )
        if run is not None:
            self.outcomes["run_started"] += 1
            self._publish_now("task-run.started", run)
            return run
        current = self.runs.get(run_id)
        if current is None:
            log.warning("run %s does not exist", run_id)
            return None
        if current.status is RunStatus.RUNNING:
            return current  # a retried first invocation: carry on from currentStep
        self._republish_terminal(current)
        return None

    def _advance(self, loaded: _Loaded, nxt: Next | None, answer: Any) -> Next:
        index = loaded.run.current_step
        attempt = 1
        if nxt is not None and nxt.kind == "compute" and nxt.runner not in (None, self.runner):
            # The machine sent another runner's batch here: this deployment has no route
            # for it. Fail instead of handing it back and forth forever.
            return self._fail_run(
                loaded,
                "runner_unavailable",
                f"no {nxt.runner!r} runner is deployed for this step",
                index,
            )
        if nxt is not None and nxt.index == index and index < loaded.total:
            if nxt.kind in ("wait", "approval") and not nxt.retry:
                kind = get_kind(loaded.step_type(index))
                if self._past_deadline(loaded):
                    return self._fail_run(loaded, "timeout", self._timeout_message(loaded), index)
                try:
                    result = kind.resume(
                        self._call(loaded, index, kind, 0.0), nxt.to_state(), answer
                    )
                except StepFailure as failure:
                    self._record_failure(loaded, index, kind, failure, 1, clock.now_iso())
                    return self._fail_run(loaded, failure.code, failure.message, index)
                if not self._record_success(loaded, index, kind, result, 1, clock.now_iso()):
                    return END
                index += 1
            elif nxt.attempt:
                attempt = nxt.attempt  # a retry handed over (long backoff, Lambda time)
        return self._run_from(loaded, index, attempt)

    def _run_from(self, loaded: _Loaded, index: int, attempt: int) -> Next:
        ran = 0
        while index < loaded.total:
            kind = get_kind(loaded.step_type(index))
            remaining = self._run_remaining(loaded)
            if remaining <= 0:
                return self._fail_run(loaded, "timeout", self._timeout_message(loaded), index)
            if kind.mode is not Mode.INLINE:
                pause_next = self._pause(loaded, index, kind, remaining)
                if pause_next is not None:
                    return pause_next
                index += 1  # a zero-second wait finished inline
                continue
            if kind.runner != self.runner:
                return Next(kind="compute", index=index, runner=kind.runner)
            if ran and not self._has_time_for(loaded, index, kind):
                return Next(kind="compute", index=index, runner=self.runner)
            if not kind.quick:
                self._flush_events(loaded)  # progress so far goes out before a slow step
            outcome = self._execute(loaded, index, kind, attempt)
            if isinstance(outcome, Next):
                return outcome
            ran += 1
            index += 1
            attempt = 1
        return self._complete(loaded)

    # -- pauses ---------------------------------------------------------------------------
    def _pause(self, loaded: _Loaded, index: int, kind: StepKind, remaining: float) -> Next | None:
        """Hand a wait/approval to the machine; None when a wait of 0 s finished here."""
        started = clock.now_iso()
        call = self._call(loaded, index, kind, 0.0)
        try:
            pause = kind.pause(call, remaining)
        except (StepFailure, TemplateError) as exc:
            failure = _as_failure(exc)
            self._record_failure(loaded, index, kind, failure, 1, started)
            return self._fail_run(loaded, failure.code, failure.message, index)
        if kind.mode is Mode.WAIT:
            if pause.seconds <= 0:
                result = kind.resume(call, pause.detail, None)
                if not self._record_success(loaded, index, kind, result, 1, started):
                    return END
                return None
            return Next(kind="wait", index=index, **pause.detail)
        return Next(kind="approval", index=index, timeoutSeconds=pause.seconds)

    # -- one inline step, with its retries ---------------------------------------------------
    def _execute(self, loaded: _Loaded, index: int, kind: StepKind, attempt: int) -> Next | bool:
        """Run step `index`; True when recorded, else where the machine goes next."""
        step = loaded.steps[index]
        retry = getattr(step, "retry", None)
        max_attempts = int(retry.maxAttempts) if retry is not None else 1
        node = loaded.node_id(index)
        started = clock.now_iso()
        t0 = time.monotonic()
        while True:
            timeout = self._attempt_timeout(loaded, step, kind)
            if timeout <= 0:
                if self._past_deadline(loaded):
                    return self._fail_run(loaded, "timeout", self._timeout_message(loaded), index)
                return Next(kind="compute", index=index, runner=self.runner, attempt=attempt)
            call = self._call(loaded, index, kind, timeout, attempt, max_attempts)
            if attempt == 1 and (line := kind.describe(call)):
                loaded.journal.write("info", line, node)
            try:
                result = kind.run(call)
            except (StepFailure, TemplateError) as exc:
                failure = _as_failure(exc)
            except Exception as exc:  # a bug in a kind must fail the step, not the machine
                log.exception("step %s of run %s raised", node, loaded.run.id)
                failure = StepFailure("step_error", f"{type(exc).__name__}: {exc}")
            else:
                duration = int((time.monotonic() - t0) * 1000)
                ok = self._record_success(loaded, index, kind, result, attempt, started, duration)
                return True if ok else END
            self.outcomes["step_attempt_failed"] += 1
            if failure.retryable and attempt < max_attempts and retry is not None:
                delay = float(retry.backoffSeconds) * float(retry.backoffRate) ** (attempt - 1)
                if failure.retry_after is not None:
                    delay = max(delay, min(failure.retry_after, 300.0))
                if clock.now() + timedelta(seconds=delay) < self._deadline(loaded):
                    loaded.journal.write(
                        "warning",
                        f"attempt {attempt}/{max_attempts} failed: {failure.message}; "
                        f"retrying in {delay:g} s",
                        node,
                    )
                    loaded.journal.flush()
                    self._flush_events(loaded)
                    if delay > INLINE_BACKOFF_LIMIT or delay > self._lambda_remaining() - (
                        LAMBDA_MARGIN_SECONDS + timeout
                    ):
                        return Next(
                            kind="wait",
                            index=index,
                            seconds=max(1, math.ceil(delay)),
                            attempt=attempt + 1,
                            retry=True,
                        )
                    self.sleep(delay)
                    current = self.runs.get(loaded.run.id)
                    if current is None or current.status is not RunStatus.RUNNING:
                        loaded.journal.write(
                            "warning", "run is no longer running: retry abandoned", node
                        )
                        return END
                    attempt += 1
                    continue
                failure.message += " (no time left for another attempt before the run's timeout)"
            self._record_failure(loaded, index, kind, failure, attempt, started)
            return self._fail_run(loaded, failure.code, failure.message, index)

    def _attempt_timeout(self, loaded: _Loaded, step: BaseModel, kind: StepKind) -> float:
        configured = getattr(step, "timeoutSeconds", None) or kind.default_timeout
        return min(
            float(configured),
            self._run_remaining(loaded),
            self._lambda_remaining() - LAMBDA_MARGIN_SECONDS,
        )

    def _has_time_for(self, loaded: _Loaded, index: int, kind: StepKind) -> bool:
        """Whether this invocation can still give step `index` its full timeout."""
        step = loaded.steps[index]
        configured = float(getattr(step, "timeoutSeconds", None) or kind.default_timeout)
        return self._lambda_remaining() - LAMBDA_MARGIN_SECONDS >= min(
            configured, self._run_remaining(loaded)
        )

    # -- recording ----------------------------------------------------------------------------
    def _record_success(
        self,
        loaded: _Loaded,
        index: int,
        kind: StepKind,
        result: Any,
        attempts: int,
        started: str,
        duration_ms: int | None = None,
    ) -> bool:
        """Store the result and move progress; False when the run stopped meanwhile.

        The last step's progress is folded into the completion (one write, one event).
        """
        node = loaded.node_id(index) or ""
        self.outcomes["step_succeeded"] += 1
        self._save(
            loaded,
            results.StepRecord(
                index=index,
                step_id=node,
                kind=kind.kind,
                status="succeeded",
                result=result,
                attempts=attempts,
                started_at=started,
                finished_at=clock.now_iso(),
                duration_ms=duration_ms,
            ),
        )
        loaded.data["steps"][node] = result
        if index + 1 >= loaded.total:
            return True
        updated = self.runs.transition(
            loaded.run.id,
            allowed_from={RunStatus.RUNNING},
            changes={"current_step": index + 1},
            condition="currentStep = :k",
            condition_values={":k": index},
        )
        if updated is None:
            return self._lost_race(loaded, index)
        loaded.run = updated
        loaded.pending.append(("task-run.updated", updated))
        return True

    def _lost_race(self, loaded: _Loaded, index: int) -> bool:
        current = self.runs.get(loaded.run.id)
        if (
            current is not None
            and current.status is RunStatus.RUNNING
            and current.current_step > index
        ):
            # Another invocation of this execution already moved on (a retry overlapped).
            loaded.run = current
            return True
        loaded.journal.write("warning", "run is no longer running: stopping", loaded.node_id(index))
        return False

    def _record_failure(
        self,
        loaded: _Loaded,
        index: int,
        kind: StepKind,
        failure: StepFailure,
        attempts: int,
        started: str,
    ) -> None:
        node = loaded.node_id(index) or ""
        self.outcomes["step_failed"] += 1
        loaded.journal.write("error", f"failed: {failure.message}", node)
        self._save(
            loaded,
            results.StepRecord(
                index=index,
                step_id=node,
                kind=kind.kind,
                status="failed",
                error={"code": failure.code, "message": failure.message[:MAX_ERROR_MESSAGE]},
                attempts=attempts,
                started_at=started,
                finished_at=clock.now_iso(),
            ),
        )

    def _save(self, loaded: _Loaded, record: results.StepRecord) -> None:
        """The step's record and its log lines in one BatchWriteItem (big results: parts first)."""
        expires = results.expiry(loaded.run.deadline, self.settings.log_retention_days)
        parts, item = results.put_items(loaded.run.id, record, expires)
        if parts:
            self.container.table.batch_put(parts)
        loaded.journal.flush(extra_items=[item])

    # -- endings ----------------------------------------------------------------------------
    def _complete(self, loaded: _Loaded) -> Next:
        try:
            outputs = evaluate_outputs(loaded.outputs, loaded.data)
        except OutputError as exc:
            loaded.journal.write("error", f"outputs: {exc.message}")
            return self._fail_run(loaded, exc.code, exc.message, None, steps_done=loaded.total)
        finished = clock.now_iso()
        done = self.runs.transition(
            loaded.run.id,
            allowed_from={RunStatus.RUNNING},
            changes={
                "status": RunStatus.COMPLETED,
                "outputs": outputs,
                "finished_at": finished,
                "current_step": loaded.total,
            },
            condition="currentStep = :k",
            condition_values={":k": loaded.run.current_step},
        )
        if done is None:
            current = self.runs.get(loaded.run.id)
            if current is not None and current.status is RunStatus.COMPLETED:
                loaded.final = ("task-run.completed", current)  # a retry: say it again
            return END
        loaded.run = done
        self.outcomes["run_completed"] += 1
        loaded.journal.write("info", f"run completed ({loaded.total}/{loaded.total} steps)")
        loaded.final = ("task-run.completed", done)
        return END

    def _fail_run(
        self,
        loaded: _Loaded,
        code: str,
        message: str,
        index: int | None,
        *,
        steps_done: int | None = None,
    ) -> Next:
        node = loaded.node_id(index) if index is not None else None
        failed = _mark_failed(self.runs, loaded.run.id, code, message, node, steps_done)
        if failed is not None:
            self.outcomes["run_failed"] += 1
            loaded.run = failed
            loaded.final = ("task-run.failed", failed)
        return END

    # -- await (approval) --------------------------------------------------------------------
    def await_answer(self, state: MachineState, token: str) -> dict[str, Any]:
        """Park the approval: token + `waiting` on the run, then `task-run.waiting`."""
        nxt = state.next
        if nxt is None or nxt.index is None:
            raise ValueError("await needs next.index")
        run = self.runs.get(state.runId)
        if run is None or run.status is not RunStatus.RUNNING or run.current_step != nxt.index:
            raise RunNotActive(f"run {state.runId} is not waiting at step {nxt.index}")
        loaded = self._load(run)
        if loaded is None:
            raise RunNotActive(f"run {state.runId} has no task")
        index = nxt.index
        kind = get_kind(loaded.step_type(index))
        if not isinstance(kind, ApprovalKind):
            raise ValueError(f"step {index} is not an approval")
        call = self._call(loaded, index, kind, 0.0)
        prompt = kind.prompt(call)
        now = clock.now()
        expires = now + timedelta(seconds=nxt.timeoutSeconds or 0)
        waiting = Waiting(
            nodeId=call.node_id,
            prompt=prompt,
            since=clock.iso(now),
            expiresAt=clock.iso(expires) if nxt.timeoutSeconds else None,
        )
        updated = self.runs.transition(
            run.id,
            allowed_from={RunStatus.RUNNING},
            changes={"waiting": waiting},
            raw={"taskToken": token},
            condition="currentStep = :k",
            condition_values={":k": index},
        )
        if updated is None:
            raise RunNotActive(f"run {state.runId} stopped before its approval was parked")
        loaded.run = updated
        loaded.journal.write(
            "info", f"waiting for approval: {prompt} (expires {waiting.expiresAt})", call.node_id
        )
        loaded.final = ("task-run.waiting", updated)
        self.outcomes["approval_parked"] += 1
        self._finish(loaded, strict=True)
        return {"runId": run.id, "waiting": True}

    # -- fail (catch-all) --------------------------------------------------------------------
    def fail(self, state: MachineState) -> dict[str, Any]:
        run = self.runs.get(state.runId)
        if run is None:
            return output(state.runId, END)
        if not run.active:
            self._republish_terminal(run)
            return output(state.runId, END)
        code, message = classify_error(state, run)
        journal = Journal(run.id, self.settings.log_retention_days, self.runs)
        definition = _definition(self.container.tasks, run.task_id, run.task_version)
        steps = definition.steps if definition else []
        index = run.current_step
        node = str(getattr(steps[index], "id")) if index < len(steps) else None  # noqa: B009
        failed = _mark_failed(self.runs, run.id, code, message, node, None)
        if failed is None:
            return output(state.runId, END)
        self.outcomes["run_failed"] += 1
        journal.write("error", f"run failed: {message}", node)
        journal.flush()
        entries = journal.take_unpublished()
        batch = self.bus.log_events(failed, entries)
        batch.append(("task-run.failed", self.bus.run_detail(failed)))
        self.bus.publish(batch)
        return output(state.runId, END)

    # -- helpers -----------------------------------------------------------------------------
    def _load(self, run: Run) -> _Loaded | None:
        definition = _definition(self.container.tasks, run.task_id, run.task_version)
        journal = Journal(run.id, self.settings.log_retention_days, self.runs)
        if definition is None:
            failed = _mark_failed(
                self.runs,
                run.id,
                "task_not_found",
                "the run's task version no longer exists",
                None,
                None,
            )
            if failed is not None:
                self._publish_strict([("task-run.failed", self.bus.run_detail(failed))])
            return None
        steps = definition.steps
        # Only steps before currentStep have results a template may read.
        records = results.load(self.container.table, run.id) if run.current_step > 0 else {}
        data: dict[str, Any] = {
            "inputs": run.inputs,
            "steps": {
                str(getattr(steps[i], "id")): rec.result  # noqa: B009
                for i, rec in sorted(records.items())
                if rec.status == "succeeded" and i < len(steps)
            },
            "run": {"id": run.id, "taskId": run.task_id},
        }
        return _Loaded(
            run, steps, definition.outputs, records, data, journal, definition.timeout_seconds
        )

    def _call(
        self,
        loaded: _Loaded,
        index: int,
        kind: StepKind,
        timeout: float,
        attempt: int = 1,
        max_attempts: int = 1,
    ) -> StepCall:
        node = loaded.node_id(index)
        journal = loaded.journal

        def write(level: Any, message: str) -> None:
            journal.write(level, message, node)

        run_id = loaded.run.id
        checked = [time.monotonic(), False]

        def should_stop() -> bool:
            """Whether the run stopped being RUNNING (throttled DynamoDB read)."""
            if not checked[1] and time.monotonic() - float(checked[0]) >= STOP_CHECK_SECONDS:
                current = self.runs.get(run_id)
                checked[0] = time.monotonic()
                checked[1] = current is None or current.status is not RunStatus.RUNNING
            return bool(checked[1])

        return StepCall(
            step=loaded.steps[index],
            index=index,
            total=loaded.total,
            data=loaded.data,
            log=write,
            timeout=timeout,
            attempt=attempt,
            max_attempts=max_attempts,
            settings=self.settings,
            should_stop=should_stop,
        )

    def _deadline(self, loaded: _Loaded) -> datetime:
        if loaded.run.deadline:
            return clock.parse_iso(loaded.run.deadline)
        return clock.parse_iso(loaded.run.created_at) + timedelta(seconds=loaded.timeout_seconds)

    def _run_remaining(self, loaded: _Loaded) -> float:
        return (self._deadline(loaded) - clock.now()).total_seconds()

    def _past_deadline(self, loaded: _Loaded) -> bool:
        return self._run_remaining(loaded) <= 0

    def _timeout_message(self, loaded: _Loaded) -> str:
        return f"the run did not finish within its timeout of {loaded.timeout_seconds} s"

    def _lambda_remaining(self) -> float:
        if self._lambda_deadline is None:
            return math.inf
        return self._lambda_deadline - time.monotonic()

    def _finish(self, loaded: _Loaded, *, strict: bool = False) -> None:
        """Store pending logs; publish them with the final lifecycle event, in one call."""
        loaded.journal.flush()
        entries = loaded.journal.take_unpublished()
        batch: list[tuple[str, dict[str, Any]]] = [
            (detail_type, self.bus.run_detail(run)) for detail_type, run in loaded.pending
        ]
        loaded.pending.clear()
        if entries:
            batch.extend(self.bus.log_events(loaded.run, entries))
        if loaded.final is not None:
            detail_type, run = loaded.final
            batch.append((detail_type, self.bus.run_detail(run)))
        if not batch:
            return
        if strict or loaded.final is not None:
            self._publish_strict(batch)
        else:
            self._publish_best_effort(batch)

    def _flush_events(self, loaded: _Loaded) -> None:
        """Send the progress events held back while quick steps ran (one PutEvents)."""
        if loaded.pending:
            batch = [(t, self.bus.run_detail(run)) for t, run in loaded.pending]
            loaded.pending.clear()
            self._publish_best_effort(batch)

    def _publish_now(self, detail_type: str, run: Run) -> None:
        """Progress events: best effort (the next event carries the newer state anyway)."""
        self._publish_best_effort([(detail_type, self.bus.run_detail(run))])

    def _publish_best_effort(self, batch: list[tuple[str, dict[str, Any]]]) -> None:
        try:
            self.bus.publish(batch)
        except RunhookError:
            log.exception("publishing %s failed", [t for t, _ in batch])

    def _publish_strict(self, batch: list[tuple[str, dict[str, Any]]]) -> None:
        """Final events: raise, so the machine retries and the retry publishes them again."""
        self.bus.publish(batch)

    def _republish_terminal(self, run: Run) -> None:
        """At-least-once: an action that finds the run COMPLETED/FAILED says so again.

        This only happens when an earlier invocation committed the end and then failed
        (e.g. publishing); receivers drop the duplicate by its `sequence`.
        """
        if run.status is RunStatus.COMPLETED:
            self._publish_strict([("task-run.completed", self.bus.run_detail(run))])
        elif run.status is RunStatus.FAILED:
            self._publish_strict([("task-run.failed", self.bus.run_detail(run))])


def _as_failure(exc: Exception) -> StepFailure:
    if isinstance(exc, StepFailure):
        return exc
    if isinstance(exc, TemplateError):
        return StepFailure("template_error", str(exc))
    return StepFailure("step_error", str(exc))


def _mark_failed(
    runs: RunRepository,
    run_id: str,
    code: str,
    message: str,
    node_id: str | None,
    steps_done: int | None,
) -> Run | None:
    changes: dict[str, Any] = {
        "status": RunStatus.FAILED,
        "error": RunError(code=code, message=message[:MAX_ERROR_MESSAGE], nodeId=node_id),
        "finished_at": clock.now_iso(),
    }
    if steps_done is not None:
        changes["current_step"] = steps_done
    return runs.transition(
        run_id,
        allowed_from=ACTIVE_STATUSES,
        changes=changes,
        remove=["waiting", "taskToken"],
    )


def classify_error(state: MachineState, run: Run) -> tuple[str, str]:
    """The run's {code, message} for an error the machine caught."""
    error = state.error or {}
    name = str(error.get("Error") or "")
    cause = error.get("Cause")
    nxt = state.next
    deadline = clock.parse_iso(run.deadline) if run.deadline else None
    past_deadline = deadline is not None and clock.now() >= deadline - timedelta(seconds=1)
    if name == "States.Timeout":
        if past_deadline:
            return "timeout", "the run did not finish within its timeout"
        if nxt is not None and nxt.kind == "approval":
            return "approval_timeout", f"no answer within {nxt.timeoutSeconds} s"
        return "timeout", "a step timed out"
    detail = ""
    if isinstance(cause, str) and cause:
        try:
            parsed = json.loads(cause)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict) and "errorMessage" in parsed:
            detail = f"{parsed.get('errorType', name)}: {parsed.get('errorMessage')}"
        else:
            detail = cause
    message = f"the engine failed: {detail or name or 'unknown error'}"
    return "internal_error", message[:MAX_ERROR_MESSAGE]
