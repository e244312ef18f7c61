"""What `runhook dev` prints: one readable line per request and per run event.

The handlers log JSON (Powertools' Logger, one object a line, plus EMF metric lines),
which is what CloudWatch wants and a developer does not. By default (`--log-format
text`) the terminal shows instead, like `sam local` or the Stripe CLI:

    12:00:01 POST /public/v1/tasks/t_1/runs 201 34 ms
    12:00:01 run r_1 started RUNNING step 0/3
    12:00:02 run r_1 step fetch log: fetched 3 items
    12:00:02 run r_1 completed COMPLETED step 3/3

and, condensed, the handlers' warnings and errors (`WARNING runhook-local-step: ...`);
their INFO lines and the metric lines are left out. `--log-format json` prints the raw
stream as before (every handler line, as deployed). Request lines come from `RequestLog`
(an ASGI wrapper of the API); run events from the EventBridge events the outbox puts on
the bus, as the dispatcher sees them (`ActivityHub.event_listener`).
"""

from __future__ import annotations

import io
import json
import logging
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, TextIO

LOG_FORMATS = ("text", "json")
REQUESTS = logging.getLogger("devcloud.requests")
RUNS = logging.getLogger("devcloud.runs")
LOGGERS = (REQUESTS, RUNS)
RUN_EVENT_PREFIX = "task-run."

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def request_line(method: str, path: str, status: int, millis: float) -> str:
    return f"{method} {path} {status} {millis:.0f} ms"


class RequestLog:
    """Wraps the API: logs `method path status ms` on `devcloud.requests` per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "http" or not REQUESTS.isEnabledFor(logging.INFO):
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        status = [500]  # what the server answers when the app raises

        async def watched(message: MutableMapping[str, Any]) -> None:
            if message.get("type") == "http.response.start":
                status[0] = int(message.get("status", 500))
            await send(message)

        try:
            await self.app(scope, receive, watched)
        finally:
            path = str(scope.get("path", ""))
            millis = (time.perf_counter() - began) * 1000
            REQUESTS.info(request_line(str(scope.get("method", "")), path, status[0], millis))


def run_event_lines(detail_type: str, detail: dict[str, Any]) -> list[str]:
    """Readable lines for one of runhook's run events (none for other events)."""
    if not detail_type.startswith(RUN_EVENT_PREFIX):
        return []
    run_id = str(detail.get("runId") or (detail.get("run") or {}).get("id") or "?")
    kind = detail_type[len(RUN_EVENT_PREFIX) :]
    entries = detail.get("logEntries")
    if isinstance(entries, list):
        return [_log_entry_line(run_id, entry) for entry in entries if isinstance(entry, dict)]
    run = detail.get("run")
    if not isinstance(run, dict):
        run = {}
    line = f"run {run_id} {kind} {run.get('status', '')}".rstrip()
    progress = run.get("progress")
    if isinstance(progress, dict):
        line += f" step {progress.get('currentStep')}/{progress.get('stepsTotal')}"
    error = run.get("error")
    if isinstance(error, dict) and error:
        line += f" error {error.get('code') or error.get('type') or ''}: {error.get('message', '')}"
    return [line]


def _log_entry_line(run_id: str, entry: dict[str, Any]) -> str:
    step = entry.get("stepId") or entry.get("step")
    where = f" step {step}" if step else ""
    level = str(entry.get("level") or "").upper()
    shown = f" {level}" if level and level != "INFO" else ""
    return f"run {run_id}{where}{shown} log: {entry.get('message', '')}"


def log_put_events(entries: list[dict[str, Any]]) -> None:
    """The `ActivityHub.event_listener` of the text format: a line per run event."""
    for entry in entries:
        try:
            detail = json.loads(str(entry.get("Detail") or "{}"))
        except ValueError:
            continue
        if isinstance(detail, dict):
            for line in run_event_lines(str(entry.get("DetailType") or ""), detail):
                RUNS.info(line)


def readable_handler_line(line: str) -> str | None:
    """What the text format prints for one line a handler wrote to stdout: non-JSON text
    as it is, a Powertools WARNING/ERROR condensed, nothing for INFO/DEBUG and metrics."""
    text = line.strip()
    if not text.startswith("{"):
        return line
    try:
        record = json.loads(text)
    except ValueError:
        return line
    if not isinstance(record, dict) or "_aws" in record:  # an EMF metric line
        return None
    level = str(record.get("level") or "INFO").upper()
    if level in ("INFO", "DEBUG"):
        return None
    where = record.get("function_name") or record.get("service") or "handler"
    out = f"{time.strftime('%H:%M:%S')} {level:<7} {where}: {record.get('message', '')}"
    if record.get("exception"):
        out += "\n" + str(record["exception"])
    return out


class ReadableStdout(io.TextIOBase):
    """stdout for the text format: whole lines through `readable_handler_line`."""

    def __init__(self, target: TextIO) -> None:
        self.target = target
        self._lock = threading.Lock()
        self._partial = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        with self._lock:
            lines = (self._partial + text).split("\n")
            self._partial = lines.pop()
            for line in lines:
                shown = readable_handler_line(line)
                if shown is not None:
                    self.target.write(shown + "\n")
        return len(text)

    def flush(self) -> None:
        with self._lock:
            self.target.flush()

    def isatty(self) -> bool:
        return self.target.isatty()

    def fileno(self) -> int:  # for code that hands stdout to a child process
        return self.target.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.target, "encoding", "utf-8")
