"""The template reader and intrinsic resolver of the local deployer (pure, no cloud)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from runhook_dev.devcloud.cfn import Resolver, TemplateError, load_template, parameter_defaults
from runhook_dev.devcloud.deployer import Deployer
from runhook_dev.devcloud.registry import FunctionRegistry

TEMPLATE = """
Parameters:
  Stage: {Type: String, Default: dev}
  Url: {Type: String, Default: ""}
Conditions:
  HasUrl: !Not [!Equals [!Ref Url, ""]]
  IsProd: !Equals [!Ref Stage, prod]
Resources:
  Bus:
    Type: AWS::Events::EventBus
    Properties: {Name: !Sub "bus-${Stage}"}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: !Sub ${AWS::StackName}-fn
      Environment:
        Variables:
          A: !If [HasUrl, !Ref Url, !Sub "https://${Bus}.${AWS::Region}.${AWS::URLSuffix}"]
          B: !GetAtt Bus.Arn
          C: !Join [",", [a, !Ref Stage, !Select [1, [x, y]]]]
          D: !Sub ["${X}-${Fn.Arn}", {X: !Ref Stage}]
          E: !If [IsProd, on-prod, !Ref AWS::NoValue]
          F: !Sub "literal ${!NotAVar}"
"""


def _resolver(tmp_path: Path, **parameters: str) -> Resolver:
    path = tmp_path / "template.yaml"
    path.write_text(TEMPLATE)
    template = load_template(path)
    params = {**parameter_defaults(template), **parameters}

    def ref(logical: str) -> Any:
        return {"Bus": "bus-x", "Fn": "stack-fn"}[logical]

    def get_att(logical: str, attribute: str) -> Any:
        return f"arn:{logical}:{attribute}"

    return Resolver(template, params, ref, get_att, stack_name="stack")


def test_short_tags_and_conditions(tmp_path: Path) -> None:
    resolver = _resolver(tmp_path)
    fn = resolver.template["Resources"]["Fn"]["Properties"]
    assert resolver.resolve(fn["FunctionName"]) == "stack-fn"
    env = resolver.resolve(fn["Environment"]["Variables"])
    assert env == {
        "A": "https://bus-x.us-east-1.amazonaws.com",
        "B": "arn:Bus:Arn",
        "C": "a,dev,y",
        "D": "dev-arn:Fn:Arn",
        "F": "literal ${NotAVar}",
    }  # E dropped: AWS::NoValue


def test_parameters_override_defaults(tmp_path: Path) -> None:
    resolver = _resolver(tmp_path, Url="http://127.0.0.1:3000", Stage="prod")
    env = resolver.resolve(resolver.template["Resources"]["Fn"]["Properties"]["Environment"])
    assert env["Variables"]["A"] == "http://127.0.0.1:3000"
    assert env["Variables"]["E"] == "on-prod"


def test_unknown_reference_is_an_error(tmp_path: Path) -> None:
    resolver = _resolver(tmp_path)
    with pytest.raises(TemplateError):
        resolver.resolve({"Ref": "Nope"})


def test_ref_to_a_functions_alias_is_its_qualified_arn(tmp_path: Path) -> None:
    """SAM's `!Ref Fn.Alias` (the run state machine invokes StepFunction's `live` alias)."""
    path = tmp_path / "template.yaml"
    path.write_text(
        """
Parameters:
  Alias: {Type: String, Default: live}
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties: {AutoPublishAlias: !Ref Alias}
  Plain:
    Type: AWS::Serverless::Function
    Properties: {}
"""
    )
    template = load_template(path)
    resolver = Resolver(
        template,
        parameter_defaults(template),
        lambda logical: logical,
        lambda logical, attribute: f"arn:aws:lambda:us-east-1:1:function:{logical}",
    )
    assert resolver.resolve({"Ref": "Fn.Alias"}) == "arn:aws:lambda:us-east-1:1:function:Fn:live"
    with pytest.raises(TemplateError, match="no AutoPublishAlias"):
        resolver.resolve({"Ref": "Plain.Alias"})
    with pytest.raises(TemplateError, match="unknown name"):
        resolver.resolve({"Ref": "Nope.Alias"})


def test_conflicting_environments_fail_loudly(tmp_path: Path) -> None:
    path = tmp_path / "template.yaml"
    path.write_text(
        """
Resources:
  One:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: one/, Handler: app.handler, Environment: {Variables: {X: "1"}}}
  Two:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: two/, Handler: app.handler, Environment: {Variables: {X: "2"}}}
"""
    )
    deployer = Deployer(load_template(path), tmp_path, lambda service: None, FunctionRegistry())
    with pytest.raises(TemplateError, match="X differs between One"):
        deployer.deploy()


def test_handlers_are_imported_by_path_under_unique_names(tmp_path: Path) -> None:
    for name in ("one", "two"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "app.py").write_text(
            f"def handler(event, context):\n    return {{'from': '{name}', 'event': event}}\n"
        )
    (tmp_path / "template.yaml").write_text(
        """
Resources:
  One:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: one/, Handler: app.handler}
  Two:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: two/, Handler: app.handler}
  Broken:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: missing/, Handler: app.handler}
"""
    )
    registry = FunctionRegistry()
    deployment = Deployer(
        load_template(tmp_path / "template.yaml"), tmp_path, lambda s: None, registry
    ).deploy()
    assert [w for w in deployment.warnings if "Broken" in w]  # said at deploy time
    one, two, broken = (registry.get(n) for n in ("One", "Two", "Broken"))
    assert one is not None and two is not None and broken is not None
    assert registry.invoke(one, 1).payload == {"from": "one", "event": 1}
    assert registry.invoke(two, 2).payload == {"from": "two", "event": 2}
    failed = registry.invoke(broken, {})
    assert failed.error
    assert failed.payload["errorType"] == "Runtime.ImportModuleError"
