"""runhook.observability emits what the template's alarms and dashboard look for: namespace
`runhook`, dimensions exactly `service` + `stage`, catalogued names only."""

from __future__ import annotations

import json
import warnings

import pytest

from runhook import observability


@pytest.fixture(autouse=True)
def _stage(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STAGE", "prod")
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)


def _blob(text: str) -> dict[str, object]:
    (line,) = [line for line in text.splitlines() if line.startswith("{")]
    blob = json.loads(line)
    assert isinstance(blob, dict)
    return blob


def _dimensions(blob: dict[str, object]) -> dict[str, object]:
    (directive,) = blob["_aws"]["CloudWatchMetrics"]  # type: ignore[index]
    assert directive["Namespace"] == observability.NAMESPACE
    (names,) = directive["Dimensions"]
    return {name: blob[name] for name in names}


def test_emit_writes_one_blob_with_the_standard_dimensions(
    capsys: pytest.CaptureFixture[str],
) -> None:
    observability.emit("WebhookEndpointsAutoDisabled", 2)
    blob = _blob(capsys.readouterr().out)
    assert _dimensions(blob) == {"service": "runhook", "stage": "prod"}
    assert blob["WebhookEndpointsAutoDisabled"] == [2.0]


def test_handler_metrics_carry_the_same_dimensions(capsys: pytest.CaptureFixture[str]) -> None:
    metrics = observability.handler_metrics()
    observability.add(metrics, "SweptStuck", 0)
    metrics.flush_metrics()
    blob = _blob(capsys.readouterr().out)
    assert _dimensions(blob) == {"service": "runhook", "stage": "prod"}
    assert blob["SweptStuck"] == [0.0]


def test_handler_metrics_made_again_under_another_stage_set_it_without_a_warning(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Powertools shares dimensions between Metrics: a second handler's must not re-add
    `stage` (Powertools warned "Dimension 'stage' has already been added")."""
    monkeypatch.setenv("STAGE", "local")
    observability.handler_metrics()
    monkeypatch.setenv("STAGE", "prod")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        metrics = observability.handler_metrics()
        observability.add(metrics, "SweptStuck", 1)
        metrics.flush_metrics()
    blob = _blob(capsys.readouterr().out)
    assert _dimensions(blob) == {"service": "runhook", "stage": "prod"}


def test_an_uncatalogued_name_is_refused() -> None:
    with pytest.raises(KeyError):
        observability.emit("SomethingNew", 1)
    with pytest.raises(KeyError):
        observability.add(observability.handler_metrics(), "SomethingNew", 1)
