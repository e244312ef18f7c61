"""Task schedules as deployed (docs/schedules.md): one schedule group, a role that may invoke
only the scheduled-run function, and the API allowed just what it needs of the scheduler."""

from __future__ import annotations

import json
from typing import Any


def _statements(policies: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for policy in policies or []:
        if isinstance(policy, dict) and "Statement" in policy:
            out.extend(policy["Statement"])
        elif isinstance(policy, dict) and "PolicyDocument" in policy:
            out.extend(policy["PolicyDocument"]["Statement"])
    return out


def test_the_group_and_the_target_function(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    assert resources["TaskScheduleGroup"]["Type"] == "AWS::Scheduler::ScheduleGroup"
    target = resources["ScheduledRunFunction"]
    assert target["Type"] == "AWS::Serverless::Function"
    assert target["Properties"]["CodeUri"] == "functions/scheduled_run/"
    assert target["Properties"]["Handler"] == "app.handler"


def test_the_scheduler_role_may_invoke_only_the_target(template: dict[str, Any]) -> None:
    role = template["Resources"]["SchedulerRole"]
    assert role["Type"] == "AWS::IAM::Role"
    trust = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "scheduler.amazonaws.com"}]
    statements = _statements(role["Properties"]["Policies"])
    assert statements == [
        {
            "Effect": "Allow",
            "Action": "lambda:InvokeFunction",
            "Resource": {"Fn::GetAtt": ["ScheduledRunFunction", "Arn"]},
        }
    ]


def test_the_api_manages_only_task_schedules_and_passes_only_that_role(
    template: dict[str, Any],
) -> None:
    api = template["Resources"]["ApiFunction"]["Properties"]
    variables = api["Environment"]["Variables"]
    assert variables["SCHEDULE_GROUP_NAME"] == {"Ref": "TaskScheduleGroup"}
    assert variables["SCHEDULED_RUN_FUNCTION_ARN"] == {
        "Fn::GetAtt": ["ScheduledRunFunction", "Arn"]
    }
    assert variables["SCHEDULER_ROLE_ARN"] == {"Fn::GetAtt": ["SchedulerRole", "Arn"]}
    statements = _statements(api["Policies"])
    scheduler = [s for s in statements if "scheduler:" in json.dumps(s["Action"])]
    assert len(scheduler) == 1
    assert sorted(scheduler[0]["Action"]) == [
        "scheduler:CreateSchedule",
        "scheduler:DeleteSchedule",
        "scheduler:UpdateSchedule",
    ]
    assert "${TaskScheduleGroup}/task-*" in json.dumps(scheduler[0]["Resource"])
    [pass_role] = [s for s in statements if s["Action"] == ["iam:PassRole"]]
    assert pass_role["Resource"] == {"Fn::GetAtt": ["SchedulerRole", "Arn"]}
    assert pass_role["Condition"] == {
        "StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}
    }


def test_no_other_function_touches_the_scheduler(template: dict[str, Any]) -> None:
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function" or logical_id == "ApiFunction":
            continue
        assert "scheduler:" not in json.dumps(resource["Properties"].get("Policies"))
        assert "iam:PassRole" not in json.dumps(resource["Properties"].get("Policies"))
