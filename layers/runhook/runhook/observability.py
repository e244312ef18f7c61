"""The one place that knows runhook's custom metrics: namespace, dimensions and catalogue.

Every handler emits its EMF metrics through this module, so they all land in one namespace
with one dimension set (`service` from POWERTOOLS_SERVICE_NAME and `stage` from STAGE), and
the template's alarms and dashboard can name a metric exactly as CloudWatch stores it. A
metric's identity in CloudWatch is namespace + name + *all* its dimensions: a handler that
added its own dimension would silently fall out of every alarm. `CATALOGUE` lists every
custom metric; emitting a name that is not in it is a programming error (KeyError), and
tests/template/test_operations.py checks that the dashboard and the alarms only name
catalogued metrics. Cold starts are not a metric here (Powertools' ColdStart metric has
dimensions of its own): the dashboard counts the Logger's `cold_start` field with Logs
Insights, for every function alike.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

NAMESPACE = "runhook"
SERVICE = "runhook"  # POWERTOOLS_SERVICE_NAME in template.yaml's Globals


@dataclass(frozen=True)
class MetricSpec:
    """One custom metric: who emits it and what a non-zero value means to an operator."""

    name: str
    emitter: str  # the function (functions/<emitter>/app.py) that emits it
    meaning: str
    unit: MetricUnit = MetricUnit.Count


def _specs(emitter: str, *pairs: tuple[str, str]) -> list[MetricSpec]:
    return [MetricSpec(name, emitter, meaning) for name, meaning in pairs]


CATALOGUE: dict[str, MetricSpec] = {
    spec.name: spec
    for spec in [
        *_specs(
            "step",
            ("StepInvocations", "invocations of the run state machine's step function"),
            ("RunsStarted", "runs the engine started"),
            ("RunsCompleted", "runs that ended COMPLETED"),
            ("RunsFailed", "runs that ended FAILED"),
            ("StepsSucceeded", "steps that succeeded"),
            ("StepsFailed", "steps that failed after their retries"),
            ("StepAttemptsFailed", "failed step attempts (retried or not)"),
            ("ApprovalsWaiting", "runs parked on an approval"),
        ),
        *_specs(
            "sweeper",
            ("SweptRunsChecked", "active runs the sweeper looked at"),
            ("SweptRunsStarted", "queued runs whose execution the sweeper started"),
            ("SweptRunsRestarted", "runs whose lost execution the sweeper restarted"),
            ("SweptRunsSettled", "runs the sweeper settled from their execution's end"),
            ("SweptRunsStartFailed", "runs the sweeper failed because they could not start"),
            ("SweptRunsTimedOut", "runs the sweeper failed past their deadline"),
            ("SweptDeliveriesChecked", "pending deliveries the sweeper looked at"),
            ("SweptDeliveriesRequeued", "deliveries whose lost queue message was re-sent"),
            ("SweptStuck", "things that were stuck and had to be recovered (alarm > 0)"),
            ("SweepErrors", "items the sweeper could not handle"),
        ),
        *_specs(
            "publisher",
            ("RunEventsPublished", "run events put on the bus from the table's stream"),
            ("RunEventPublishFailures", "batches the bus refused (retried by Lambda)"),
            ("RunEventsUnheard", "run events left off the bus: no endpoint routes them"),
        ),
        *_specs(
            "scheduled_run",
            ("ScheduledRunsCreated", "runs a task's schedule started"),
            ("ScheduledRunsReplayed", "fires retried by the scheduler (the run existed already)"),
            ("ScheduledRunsSkipped", "fires skipped: the previous scheduled run was still active"),
            ("ScheduledRunsNotScheduled", "fires for a task deleted or paused since"),
            ("ScheduledRunsRefused", "fires refused (quota or inputs): worth a look"),
        ),
        *_specs(
            "webhook_send",
            ("WebhookMessages", "delivery messages received from the queue"),
            ("WebhookSucceeded", "deliveries answered 2xx"),
            ("WebhookRetry", "deliveries that failed and will be retried"),
            ("WebhookFailed", "deliveries that failed for good (dead-lettered)"),
            ("WebhookEndpointDisabled", "deliveries not sent: their endpoint is disabled"),
            ("WebhookEndpointsAutoDisabled", "endpoints disabled now after failing for days"),
            ("WebhookStaleMessage", "queue messages for a delivery already handled"),
            ("WebhookBusy", "deliveries another worker holds (redelivered later)"),
            ("WebhookSendError", "unexpected errors while sending"),
        ),
    ]
}


def stage() -> str:
    """The `stage` dimension: STAGE as the template sets it (`local` when unset)."""
    return os.environ.get("STAGE") or "local"


def default_dimensions() -> dict[str, str]:
    """Dimensions every custom metric carries besides Powertools' `service`."""
    return {"stage": stage()}


def handler_metrics() -> Metrics:
    """The Powertools Metrics of one handler module (flushed by `@metrics.log_metrics`).

    Powertools shares one dimension set between all Metrics of a process and seeds it with
    the default dimensions set before: with several handler modules in one process (the
    local cloud, the tests) `stage` would be added again, and Powertools warns "Dimension
    'stage' has already been added" whenever STAGE changed in between. So the previous
    defaults are taken out first and set once, to today's values.
    """
    metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
    dimensions = default_dimensions()
    for name in dimensions:
        metrics.dimension_set.pop(name, None)
    metrics.set_default_dimensions(**dimensions)
    return metrics


def add(metrics: Metrics, name: str, value: float) -> None:
    """Add a catalogued metric to `metrics` (its unit comes from the catalogue)."""
    spec = CATALOGUE[name]
    metrics.add_metric(name=spec.name, unit=spec.unit, value=value)


def emit(name: str, value: float) -> None:
    """Write one catalogued metric now, as its own EMF blob: nothing is shared between
    concurrent invocations (the local cloud runs handlers on threads of one process)."""
    spec = CATALOGUE[name]
    with single_metric(
        name=spec.name,
        unit=spec.unit,
        value=value,
        namespace=NAMESPACE,
        default_dimensions={"service": SERVICE, **default_dimensions()},
    ):
        pass
