"""PublisherFunction's metrics: `RunEventsUnheard` counts the events left off the bus
(RUN_EVENTS_ON_BUS=subscribed), beside `RunEventsPublished`; it is written only when some
were left off, so a deployment with `all` never shows it."""

from __future__ import annotations

import importlib.util
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from runhook.outbox import PublishResult
from tests.unit.webhooks.test_webhook_dispatch_logs import _Context

APP = Path(__file__).resolve().parents[3] / "functions" / "publisher" / "app.py"


class _Outbox:
    def __init__(self, result: PublishResult) -> None:
        self.result = result

    def publish(self, changes: Any) -> PublishResult:
        return self.result


@dataclass
class _Services:
    outbox: _Outbox


def _app(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    spec = importlib.util.spec_from_file_location("publisher_app_under_test", APP)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    return module


def _metrics(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], result: PublishResult
) -> dict[str, Any]:
    handler = _app(monkeypatch).create_handler(_Services(_Outbox(result)))  # type: ignore[arg-type]
    capsys.readouterr()
    assert handler({"Records": []}, _Context()) == {"batchItemFailures": []}
    blobs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert blobs, "no metrics written"
    merged: dict[str, Any] = {}
    for blob in blobs:
        merged.update(blob)
    return merged


def test_events_left_off_the_bus_are_counted(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    metrics = _metrics(monkeypatch, capsys, PublishResult(1, retry_from=None, unheard=2))
    assert metrics["RunEventsPublished"] == [1.0]
    assert metrics["RunEventsUnheard"] == [2.0]


def test_nothing_left_off_writes_no_unheard_metric(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    metrics = _metrics(monkeypatch, capsys, PublishResult(3, retry_from=None))
    assert metrics["RunEventsPublished"] == [3.0]
    assert "RunEventsUnheard" not in metrics
