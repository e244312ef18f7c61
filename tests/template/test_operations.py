"""template.yaml's operations (issue 17, docs/operations.md): alarms, dashboard, access log,
gradual deploys, checkov.

The checks enumerate what they guard from the template itself (every function, every state
machine) and from runhook.observability's catalogue (every custom metric), so a function
added without its alarms, or a dashboard widget naming a metric no code emits, fails here.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runhook import observability

ROOT = Path(__file__).resolve().parents[2]
CHECKOV = (
    ROOT / ".cache" / "checkov-venv" / "bin" / "python"
)  # run as `python -m checkov.main`, like the Makefile
FUNCTION_TYPES = ("AWS::Serverless::Function", "AWS::Lambda::Function")
STATE_MACHINE_TYPES = ("AWS::Serverless::StateMachine", "AWS::StepFunctions::StateMachine")
CUSTOM_DIMENSIONS = {"service": observability.SERVICE, "stage": {"Ref": "Stage"}}


def _of_type(template: dict[str, Any], *types: str) -> dict[str, dict[str, Any]]:
    return {lid: r for lid, r in template["Resources"].items() if r["Type"] in types}


def _alarms(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {lid: r["Properties"] for lid, r in _of_type(template, "AWS::CloudWatch::Alarm").items()}


def _topic(template: dict[str, Any]) -> str:
    (topic,) = _of_type(template, "AWS::SNS::Topic")
    return topic


def _metrics(alarm: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The metrics an alarm watches: {namespace, name, dims, stat} for a single metric or
    each MetricStat of a metric-math alarm."""
    if "MetricName" in alarm:
        stat = alarm.get("Statistic") or alarm.get("ExtendedStatistic")
        yield {
            "namespace": alarm["Namespace"],
            "name": alarm["MetricName"],
            "dims": {d["Name"]: d["Value"] for d in alarm.get("Dimensions", [])},
            "stat": stat,
        }
    for query in alarm.get("Metrics", []):
        if "MetricStat" in query:
            metric = query["MetricStat"]["Metric"]
            yield {
                "namespace": metric["Namespace"],
                "name": metric["MetricName"],
                "dims": {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])},
                "stat": query["MetricStat"]["Stat"],
            }


def _watching(
    template: dict[str, Any], namespace: str, name: str, **dims: Any
) -> list[dict[str, Any]]:
    """Alarms (with their logical id) watching namespace/name with these dimensions."""
    return [
        {"id": lid, **alarm}
        for lid, alarm in _alarms(template).items()
        if any(
            m["namespace"] == namespace
            and m["name"] == name
            and all(m["dims"].get(k) == v for k, v in dims.items())
            for m in _metrics(alarm)
        )
    ]


def _notifies_topic(alarm: dict[str, Any], topic: str) -> bool:
    return {"Ref": topic} in alarm.get("AlarmActions", [])


# --- alarms -------------------------------------------------------------------------------


def test_every_alarm_notifies_the_topic(template: dict[str, Any]) -> None:
    topic = _topic(template)
    alarms = _alarms(template)
    assert alarms
    silent = [lid for lid, alarm in alarms.items() if not _notifies_topic(alarm, topic)]
    assert not silent, f"alarms without the SNS action: {silent}"
    subscription = _of_type(template, "AWS::SNS::Subscription")
    assert [s["Properties"]["Endpoint"] for s in subscription.values()] == [
        {"Ref": "AlarmSubscriptionEndpoint"}
    ]


@pytest.mark.parametrize(
    ("namespace", "metric", "queue"),
    [
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "DeliveriesDLQ"),
        ("AWS/SQS", "ApproximateAgeOfOldestMessage", "DeliveriesQueue"),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "AsyncFailuresQueue"),
    ],
)
def test_queue_alarms(template: dict[str, Any], namespace: str, metric: str, queue: str) -> None:
    assert queue in template["Resources"]
    found = _watching(template, namespace, metric, QueueName={"Fn::GetAtt": [queue, "QueueName"]})
    assert found, f"no alarm on {metric} of {queue}"
    for alarm in found:
        assert _notifies_topic(alarm, _topic(template))
        assert isinstance(alarm["Threshold"], dict) and "Ref" in alarm["Threshold"], (
            "thresholds are parameters"
        )


def test_every_state_machine_alarms_on_failed_timed_out_and_aborted_executions(
    template: dict[str, Any],
) -> None:
    machines = _of_type(template, *STATE_MACHINE_TYPES)
    assert machines
    for lid, machine in machines.items():
        name = machine["Properties"]["Name"]["Fn::Sub"]  # the alarm names it by ARN (see there)
        for metric in ("ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted"):
            found = [
                alarm
                for alarm in _alarms(template).values()
                for m in _metrics(alarm)
                if m["namespace"] == "AWS/States"
                and m["name"] == metric
                and str(m["dims"].get("StateMachineArn", {}).get("Fn::Sub", "")).endswith(
                    f":stateMachine:{name}"
                )
            ]
            assert found, f"no alarm on {metric} of {lid}"


def test_every_function_has_errors_and_throttles_alarms(template: dict[str, Any]) -> None:
    """Enumerated from the template: a function added later without alarms fails here."""
    functions = _of_type(template, *FUNCTION_TYPES)
    assert len(functions) >= 8
    missing = [
        f"{lid} {metric}"
        for lid in functions
        for metric in ("Errors", "Throttles")
        if not _watching(template, "AWS/Lambda", metric, FunctionName={"Ref": lid})
    ]
    assert not missing, f"functions without alarms: {missing}"


def test_api_alarms_on_5xx_rate_and_p90_latency(template: dict[str, Any]) -> None:
    api = {"Ref": "HttpApi"}
    (rate,) = [
        a
        for a in _watching(template, "AWS/ApiGateway", "5xx", ApiId=api)
        if _watching(template, "AWS/ApiGateway", "Count", ApiId=api)
    ]
    expression = next(q["Expression"] for q in rate["Metrics"] if q.get("ReturnData"))
    assert "errors / requests" in str(expression), "a rate, not a count"
    (latency,) = _watching(template, "AWS/ApiGateway", "Latency", ApiId=api)
    assert latency["ExtendedStatistic"] == "p90"


@pytest.mark.parametrize("metric", ["SweptStuck", "WebhookEndpointsAutoDisabled"])
def test_custom_metric_alarms(template: dict[str, Any], metric: str) -> None:
    found = _watching(template, observability.NAMESPACE, metric)
    assert found, f"no alarm on {metric}"
    for alarm in found:
        (watched,) = list(_metrics(alarm))
        assert watched["dims"] == CUSTOM_DIMENSIONS, "the dimensions the code emits"
        assert _notifies_topic(alarm, _topic(template))


def test_alarms_on_custom_metrics_name_catalogued_metrics(template: dict[str, Any]) -> None:
    for lid, alarm in _alarms(template).items():
        for m in _metrics(alarm):
            if m["namespace"] == observability.NAMESPACE:
                assert m["name"] in observability.CATALOGUE, lid
                assert m["dims"] == CUSTOM_DIMENSIONS, lid


# --- the metrics catalogue and the code -----------------------------------------------------


def _emitted_names(path: Path) -> set[str]:
    """String constants in a handler's source: where its metric names are written."""
    tree = ast.parse(path.read_text())
    return {
        n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
    }


def test_every_catalogued_metric_is_written_by_its_emitter() -> None:
    for spec in observability.CATALOGUE.values():
        source = ROOT / "functions" / spec.emitter / "app.py"
        assert spec.name in _emitted_names(source), f"{spec.name} is not emitted by {source}"


def test_handlers_emit_only_through_the_observability_module() -> None:
    """One namespace and one dimension set: no handler builds Metrics or single_metric itself."""
    for source in sorted((ROOT / "functions").glob("*/app.py")):
        text = source.read_text()
        assert "Metrics(" not in text and "single_metric" not in text, source
        assert "add_dimension" not in text, source


# --- dashboard ----------------------------------------------------------------------------


def _dashboard(template: dict[str, Any]) -> dict[str, Any]:
    (dashboard,) = _of_type(template, "AWS::CloudWatch::Dashboard").values()
    body = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    # ${Stage} and friends stay as markers: JSON-safe, checked below.
    parsed = json.loads(body)
    assert isinstance(parsed, dict)
    return parsed


def _dashboard_metrics(dashboard: dict[str, Any]) -> list[list[Any]]:
    rows = []
    for widget in dashboard["widgets"]:
        for row in widget.get("properties", {}).get("metrics", []):
            rows.append([item for item in row if not isinstance(item, dict)])
    return rows


def test_dashboard_names_metrics_the_code_emits(template: dict[str, Any]) -> None:
    rows = _dashboard_metrics(_dashboard(template))
    custom = [row for row in rows if row[0] == observability.NAMESPACE]
    assert custom, "the dashboard shows no runhook metric"
    for row in rows:
        assert len(row) >= 2 and len(row) % 2 == 0, f"no shorthand rows: {row}"
    for row in custom:
        name, dims = row[1], dict(zip(row[2::2], row[3::2], strict=True))
        assert name in observability.CATALOGUE, f"{name} is not emitted (not catalogued)"
        assert dims == {"service": observability.SERVICE, "stage": "${Stage}"}, row
    shown = {row[1] for row in custom}
    for wanted in ("RunsStarted", "RunsCompleted", "RunsFailed", "WebhookSucceeded"):
        assert wanted in shown


def test_dashboard_references_resources_that_exist(template: dict[str, Any]) -> None:
    body = template["Resources"]["OperationsDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    params = set(template["Parameters"])
    for token in re.findall(r"\$\{([^}]+)\}", body):
        logical = token.split(".", 1)[0]
        assert token.startswith("AWS::") or logical in template["Resources"] or logical in params
    names = {
        r["Properties"]["FunctionName"]["Fn::Sub"]
        for r in _of_type(template, *FUNCTION_TYPES).values()
    }
    for row in _dashboard_metrics(_dashboard(template)):
        if row[0] == "AWS/Lambda":
            assert row[3] in names, f"{row[3]} is not a function of the template"


# --- access logs ----------------------------------------------------------------------------


def test_http_api_access_log_is_json_with_the_fields_and_retention(
    template: dict[str, Any],
) -> None:
    settings = template["Resources"]["HttpApi"]["Properties"]["AccessLogSettings"]
    group, attribute = settings["DestinationArn"]["Fn::GetAtt"]
    assert attribute == "Arn"
    log_group = template["Resources"][group]
    assert log_group["Type"] == "AWS::Logs::LogGroup"
    assert log_group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    fields = json.loads(settings["Format"])
    values = set(fields.values())
    for variable in (
        "$context.requestId",
        "$context.routeKey",
        "$context.status",
        "$context.responseLatency",
        "$context.integrationErrorMessage",
    ):
        assert variable in values, variable


# --- gradual deploys --------------------------------------------------------------------------


def _overrides(env: str) -> dict[str, str]:
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    text = config[env]["deploy"]["parameters"]["parameter_overrides"]
    return dict(item.split("=", 1) for item in text.split())


def _condition(template: dict[str, Any], spec: Any, params: dict[str, str]) -> Any:
    """The little of CloudFormation the deployment conditions use (Not, Equals, Ref)."""
    if isinstance(spec, dict) and len(spec) == 1:
        ((key, arg),) = spec.items()
        if key == "Ref":
            return params.get(arg, str(template["Parameters"][arg].get("Default", "")))
        if key == "Fn::Not":
            return not _condition(template, arg[0], params)
        if key == "Fn::Equals":
            left, right = (_condition(template, item, params) for item in arg)
            return str(left) == str(right)
        if key == "Condition":
            return _condition(template, template["Conditions"][arg], params)
    return spec


def _deploy_alarms(template: dict[str, Any], function: str, params: dict[str, str]) -> list[Any]:
    preference = template["Resources"][function]["Properties"]["DeploymentPreference"]
    alarms = preference["Alarms"]
    if isinstance(alarms, dict) and "Fn::If" in alarms:
        name, yes, no = alarms["Fn::If"]
        alarms = yes if _condition(template, {"Condition": name}, params) else no
    return [a for a in alarms if a != {"Ref": "AWS::NoValue"}]


@pytest.mark.parametrize("function", ["ApiFunction", "StepFunction"])
def test_prod_deploys_gradually_and_rolls_back_on_alarms(
    template: dict[str, Any], function: str
) -> None:
    props = template["Resources"][function]["Properties"]
    assert props["AutoPublishAlias"]
    assert props["DeploymentPreference"]["Type"] == {"Ref": "DeploymentType"}
    prod = _overrides("prod")
    assert prod["DeploymentType"] in template["Parameters"]["DeploymentType"]["AllowedValues"]
    assert prod["DeploymentType"].startswith(("Canary", "Linear"))
    alarms = _deploy_alarms(template, function, prod)
    assert {"Ref": f"{function}ErrorsAlarm"} in alarms
    for alarm in alarms:
        assert template["Resources"][alarm["Ref"]]["Type"] == "AWS::CloudWatch::Alarm"
    if function == "ApiFunction":
        assert {"Ref": "ApiServerErrorRateAlarm"} in alarms
        assert {"Ref": "ApiLatencyP90Alarm"} in alarms
    # dev stays fast: all at once, and no alarm can hold a dev deploy up
    dev = _overrides("dev")
    assert dev["DeploymentType"] == "AllAtOnce"
    assert _deploy_alarms(template, function, dev) == []


def test_a_step_code_rollout_watches_both_run_machines(template: dict[str, Any]) -> None:
    """Issue 16: short runs execute the step code on the Express machine, so a canary of
    StepFunction rolls back on either machine's failed executions."""
    alarms = _deploy_alarms(template, "StepFunction", _overrides("prod"))
    assert {"Ref": "RunExecutionsFailedAlarm"} in alarms
    assert {"Ref": "ExpressRunExecutionsFailedAlarm"} in alarms
    rows = _dashboard_metrics(_dashboard(template))
    assert ["AWS/States", "ExecutionTime", "StateMachineArn", "${ExpressRunStateMachine}"] in rows


def test_the_routes_and_the_machine_invoke_the_published_alias(template: dict[str, Any]) -> None:
    """Without this a canary would shift nothing: callers of $LATEST skip the alias."""
    machine = template["Resources"]["RunStateMachine"]["Properties"]
    assert machine["DefinitionSubstitutions"]["StepFunctionArn"] == {"Ref": "StepFunction.Alias"}
    alias = template["Resources"]["ApiFunction"]["Properties"]["AutoPublishAlias"]
    body = json.dumps(template["Resources"]["HttpApi"]["Properties"]["DefinitionBody"])
    assert f"-api:{alias}/invocations" in body


def test_table_and_bucket_survive_stack_deletion(template: dict[str, Any]) -> None:
    for lid in ("Table", "ArtifactsBucket"):
        resource = template["Resources"][lid]
        assert resource["DeletionPolicy"] == "Retain", lid
        assert resource["UpdateReplacePolicy"] == "Retain", lid


# --- checkov ----------------------------------------------------------------------------------


def test_checkov_skips_carry_their_reason(template: dict[str, Any]) -> None:
    for lid, resource in template["Resources"].items():
        skips = (resource.get("Metadata") or {}).get("checkov", {}).get("skip", [])
        for skip in skips:
            assert re.fullmatch(r"CKV2?_AWS_\d+", skip["id"]), (lid, skip)
            assert len(skip.get("comment", "")) > 40, f"{lid} skips {skip['id']} without a reason"


@pytest.mark.slow
def test_checkov_has_no_unexplained_failure() -> None:
    if not CHECKOV.exists():
        pytest.fail(f"checkov's environment is missing ({CHECKOV}): run `make install`")
    result = subprocess.run(
        [str(CHECKOV), "-m", "checkov.main", "--file", "template.yaml"]
        + ["--framework", "cloudformation", "-o", "json"],
        cwd=ROOT,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE"},
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    report = json.loads(result.stdout)
    failed = [f"{c['check_id']} {c['resource']}" for c in report["results"]["failed_checks"]]
    assert not failed, failed
    assert result.returncode == 0, result.stderr
    assert report["summary"]["passed"] > 0
    skipped = report["results"]["skipped_checks"]
    assert all(c["check_result"].get("suppress_comment") for c in skipped)
