"""`runhook dev`'s terminal: a readable line per request and run event by default,
`--log-format json` for the handlers' raw JSON stream.

The formatting rules without a cloud, then `runhook dev` itself in a subprocess (text
format): a request and a run show as one line each, no handler JSON reaches the terminal.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from runhook_dev.devcloud import terminal
from runhook_dev.devcloud.command import configure_logging
from tests.support.devprocess import DevProcess
from tests.support.polling import eventually

RUN = {"id": "r-1", "status": "RUNNING", "progress": {"currentStep": 1, "stepsTotal": 3}}
POWERTOOLS_INFO = {
    "level": "INFO",
    "location": "handler:54",
    "message": "swept",
    "function_name": "runhook-local-sweeper",
}


def test_a_lifecycle_event_is_one_line_with_run_status_and_step() -> None:
    lines = terminal.run_event_lines("task-run.updated", {"runId": "r-1", "run": RUN})
    assert lines == ["run r-1 updated RUNNING step 1/3"]
    failed = {**RUN, "status": "FAILED", "error": {"code": "step_failed", "message": "boom"}}
    [line] = terminal.run_event_lines("task-run.failed", {"runId": "r-1", "run": failed})
    assert line.startswith("run r-1 failed FAILED step 1/3") and "step_failed: boom" in line


def test_log_events_are_a_line_per_entry_and_other_events_none() -> None:
    detail = {
        "runId": "r-1",
        "logEntries": [
            {"message": "fetched 3 items", "level": "info", "stepId": "fetch"},
            {"message": "slow answer", "level": "warning"},
        ],
    }
    assert terminal.run_event_lines("task-run.log", detail) == [
        "run r-1 step fetch log: fetched 3 items",
        "run r-1 WARNING log: slow answer",
    ]
    assert terminal.run_event_lines("Step Functions Execution Status Change", {}) == []


def test_handler_json_is_condensed_to_warnings_and_errors() -> None:
    assert terminal.readable_handler_line(json.dumps(POWERTOOLS_INFO)) is None
    metric = {"_aws": {"CloudWatchMetrics": []}, "RunEventsPublished": [0.0]}
    assert terminal.readable_handler_line(json.dumps(metric)) is None
    warning = {**POWERTOOLS_INFO, "level": "WARNING", "message": "endpoint e-1 disabled"}
    shown = terminal.readable_handler_line(json.dumps(warning))
    assert shown is not None
    assert re.fullmatch(
        r"\d\d:\d\d:\d\d WARNING runhook-local-sweeper: endpoint e-1 disabled", shown
    )
    assert terminal.readable_handler_line("runhook dev: ready") == "runhook dev: ready"
    assert terminal.readable_handler_line("{not json") == "{not json"


def test_readable_stdout_filters_whole_lines_written_in_pieces() -> None:
    target = io.StringIO()
    out = terminal.ReadableStdout(target)  # type: ignore[arg-type]
    text = json.dumps(POWERTOOLS_INFO)
    out.write(text[:10])
    out.write(text[10:] + "\nhello ")
    out.write("world\n")
    assert target.getvalue() == "hello world\n"


def test_request_log_gives_method_path_status_and_time(caplog: pytest.LogCaptureFixture) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 201, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    async def call() -> None:
        transport = httpx.ASGITransport(app=terminal.RequestLog(app))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            assert (await client.post("/public/v1/tasks/t-1/runs")).status_code == 201

    with caplog.at_level(logging.INFO, logger="devcloud.requests"):
        asyncio.run(call())
    [record] = [r for r in caplog.records if r.name == "devcloud.requests"]
    assert re.fullmatch(r"POST /public/v1/tasks/t-1/runs 201 \d+ ms", record.getMessage())


@pytest.fixture()
def logging_restored() -> Iterator[None]:
    root = logging.getLogger()
    stdout, handlers, level = sys.stdout, root.handlers[:], root.level
    loggers = [(lg, lg.handlers[:], lg.level, lg.propagate) for lg in terminal.LOGGERS]
    yield
    sys.stdout = stdout
    root.handlers[:] = handlers
    root.setLevel(level)
    for logger, handlers, level, propagate in loggers:
        logger.handlers, logger.propagate = handlers, propagate
        logger.setLevel(level)


@pytest.mark.usefixtures("logging_restored")
def test_json_format_leaves_stdout_raw_and_the_summary_lines_off() -> None:
    before = sys.stdout
    configure_logging("INFO", "json")
    assert sys.stdout is before
    assert not terminal.RUNS.isEnabledFor(logging.INFO)
    assert not terminal.REQUESTS.isEnabledFor(logging.INFO)
    configure_logging("INFO", "text")
    assert isinstance(sys.stdout, terminal.ReadableStdout)
    assert terminal.RUNS.isEnabledFor(logging.INFO)
    assert terminal.REQUESTS.isEnabledFor(logging.INFO)


@pytest.mark.slow
def test_runhook_dev_prints_a_line_per_request_and_run_event(
    tmp_path: Path, clean_env: dict[str, str]
) -> None:
    dev = DevProcess(tmp_path / "state", clean_env, "--in-memory")
    try:
        dev.wait_ready(timeout=240)  # a loaded 2-core machine boots slowly
        key = re.search(r"admin API key  (\S+)", dev.output)
        task = re.search(r"demo task +(\S+)", dev.output)
        assert key and task, dev.output
        api = httpx.Client(
            base_url=f"{dev.url('API')}/public/v1",
            headers={"Authorization": f"Bearer {key.group(1)}"},
            timeout=30,
        )
        answer = api.post(f"/tasks/{task.group(1)}/runs", json={"inputs": {"name": "you"}})
        assert answer.status_code == 202, answer.text
        run_id = answer.json()["run"]["id"]
        eventually(
            lambda: f"run {run_id} completed COMPLETED" in dev.output,
            timeout=60,
            message=lambda _: dev.output,
        )
    finally:
        dev.stop(signal.SIGINT)
    path = f"/public/v1/tasks/{task.group(1)}/runs"
    assert re.search(rf"\d\d:\d\d:\d\d POST {re.escape(path)} 202 \d+ ms", dev.output)
    assert f"run {run_id} started RUNNING" in dev.output
    assert f"run {run_id} log: Hello, you!" in dev.output
    raw = [line for line in dev.lines if line.lstrip().startswith("{")]
    assert raw == [], raw[:3]
