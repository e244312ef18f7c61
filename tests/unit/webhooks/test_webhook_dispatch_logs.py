"""WebhookDispatchFunction's own log line (issue 16, cost): INFO when the event reached an
endpoint, DEBUG when it was skipped (no subscribed endpoint, not a webhook event), which is
most events and was most of a short run's CloudWatch Logs bytes."""

from __future__ import annotations

import importlib.util
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from runhook.webhooks.dispatch import DispatchResult

APP = Path(__file__).resolve().parents[3] / "functions" / "webhook_dispatch" / "app.py"


@dataclass
class _Context:
    """What Powertools' inject_lambda_context reads from a Lambda context."""

    function_name: str = "runhook-test-webhook-dispatch"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:1:function:runhook-test-webhook-dispatch"
    aws_request_id: str = "req-1"


class _Dispatcher:
    def __init__(self, result: DispatchResult) -> None:
        self.result = result

    def dispatch(self, event: dict[str, Any]) -> DispatchResult:
        return self.result


@dataclass
class _Services:
    dispatcher: _Dispatcher


def _app(monkeypatch: pytest.MonkeyPatch, level: str) -> ModuleType:
    """A fresh import of the handler module, its Logger at `level` (the stack's LogLevel)."""
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", level)
    spec = importlib.util.spec_from_file_location("webhook_dispatch_app_under_test", APP)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    module.logger.setLevel(level)  # Powertools reuses an existing logger's level otherwise
    return module


def _dispatched(
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    result: DispatchResult,
    level: str = "INFO",
) -> list[logging.LogRecord]:
    """The handler's "dispatched" records with its Logger at `level`."""
    app = _app(monkeypatch, level)
    handler = app.create_handler(_Services(_Dispatcher(result)))
    with caplog.at_level(logging.DEBUG):
        summary = handler({"id": "ev-1", "detail": {"runId": "r-1"}}, _Context())
    assert summary["eventType"] == result.event_type
    return [r for r in caplog.records if r.getMessage() == "dispatched"]


def test_a_skipped_event_is_logged_at_debug_only(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    skipped = DispatchResult(event_type="task-run.log", skipped="no subscribed endpoint")
    assert _dispatched(monkeypatch, caplog, skipped) == []  # the deployed level: INFO
    caplog.clear()
    (record,) = _dispatched(monkeypatch, caplog, skipped, level="DEBUG")
    assert record.levelno == logging.DEBUG
    assert getattr(record, "skipped") == "no subscribed endpoint"


def test_a_delivered_event_logs_its_summary_at_info(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    queued = DispatchResult(event_type="task-run.completed", created=["d-1"])
    (record,) = _dispatched(monkeypatch, caplog, queued)
    assert record.levelno == logging.INFO
    assert (getattr(record, "deliveriesCreated"), getattr(record, "skipped")) == (1, None)


def test_an_event_whose_delivery_exists_is_still_info(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A redelivered bus event: nothing new was queued, but it reached an endpoint."""
    again = DispatchResult(event_type="task-run.completed", existing=["d-1"])
    (record,) = _dispatched(monkeypatch, caplog, again)
    assert record.levelno == logging.INFO
