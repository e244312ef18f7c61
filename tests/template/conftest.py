"""Fixtures for the checks of template.yaml, samconfig.toml, statemachines/ and events/.

The template is read here with a small CloudFormation-aware YAML loader of its own, so these
checks do not depend on the local cloud's parser (which they help to keep honest). Tests use
these through fixtures only (the suite runs with --import-mode=importlib).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
EVENTS = ROOT / "events"
SAM_WRAPPER = ROOT / "scripts" / "sam"
SAM_CLI = ROOT / ".cache" / "sam-venv" / "bin" / "sam"


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that turns the short intrinsic tags into their long form."""


def _construct_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    if suffix == "Condition":
        return {"Condition": value}
    return {f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    data = yaml.load(path.read_text(), Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    assert isinstance(data, dict)
    return data


@dataclass(frozen=True)
class FunctionSpec:
    """An AWS::Serverless::Function of the template, as the tests need it."""

    logical_id: str
    code_dir: Path
    handler: str
    environment: dict[str, str] = field(hash=False)
    event_types: tuple[str, ...] = ()

    @property
    def dir_name(self) -> str:
        return self.code_dir.name

    @property
    def module_file(self) -> Path:
        module, _, _ = self.handler.rpartition(".")
        return self.code_dir / (module.replace(".", "/") + ".py")

    @property
    def attribute(self) -> str:
        return self.handler.rpartition(".")[2]

    @property
    def is_api(self) -> bool:
        return bool({"Api", "HttpApi"} & set(self.event_types))

    def lambda_environment(self) -> dict[str, str]:
        """What the handler sees at import on Lambda, with offline stand-ins for AWS."""
        return {
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",  # noqa: S105 - a placeholder, never a secret
            "AWS_LAMBDA_FUNCTION_NAME": f"runhook-test-{self.dir_name}",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_DISABLED": "true",
            **self.environment,
        }


ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
_PSEUDO = {
    "AWS::AccountId": ACCOUNT_ID,
    "AWS::Region": REGION,
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": "runhook-test",
    "AWS::NoValue": "",
}


class Stand_ins:  # noqa: N801 - reads as what it is
    """Resolves intrinsics to offline stand-ins: parameters to their defaults, resources to
    `runhook-test-<id>` names and ARNs, conditions evaluated. Enough for environments and
    DefinitionSubstitutions, not a CloudFormation engine."""

    def __init__(self, template: dict[str, Any]) -> None:
        self.template = template
        self.params = {
            name: str(spec.get("Default", ""))
            for name, spec in template.get("Parameters", {}).items()
        }

    def ref(self, name: str) -> str:
        if name in _PSEUDO:
            return _PSEUDO[name]
        if name in self.params:
            return self.params[name]
        rtype = self.template["Resources"].get(name, {}).get("Type", "")
        if rtype == "AWS::SQS::Queue":  # Ref of a queue is its URL
            return f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT_ID}/{self.name(name)}"
        if rtype == "AWS::Serverless::StateMachine":  # ... of a state machine, its ARN
            return self.get_att(name, "Arn")
        return self.name(name)

    @staticmethod
    def name(logical_id: str) -> str:
        return f"runhook-test-{logical_id.lower()}"

    def get_att(self, name: str, attribute: str) -> str:
        rtype = self.template["Resources"].get(name, {}).get("Type", "")
        service = {
            "AWS::Serverless::Function": "lambda",
            "AWS::SQS::Queue": "sqs",
            "AWS::Serverless::StateMachine": "states",
            "AWS::Events::EventBus": "events",
            "AWS::DynamoDB::Table": "dynamodb",
        }.get(rtype, "unknown")
        if attribute == "Arn":
            kind = {"lambda": "function:", "states": "stateMachine:", "events": "event-bus/"}
            prefix = kind.get(service, "")
            return f"arn:aws:{service}:{REGION}:{ACCOUNT_ID}:{prefix}{self.name(name)}"
        return self.name(name)

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.template.get("Conditions", {})[name]))

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict) or len(value) != 1:
            return value
        (key, arg), *_ = value.items()
        if key == "Ref":
            return self.ref(arg)
        if key == "Fn::GetAtt":
            return self.get_att(*arg)
        if key == "Fn::Sub":
            text, local = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])

            def sub(match: re.Match[str]) -> str:
                token = match.group(1)
                if token in local:
                    return str(self.resolve(local[token]))
                if "." in token and token not in _PSEUDO:
                    return self.get_att(*token.split(".", 1))
                return self.ref(token)

            return re.sub(r"\$\{([^}!][^}]*)\}", sub, text)
        if key == "Fn::If":
            name, yes, no = arg
            return self.resolve(yes if self.condition(name) else no)
        if key == "Fn::Equals":
            left, right = self.resolve(arg)
            return str(left) == str(right)
        if key == "Fn::Not":
            return not self.resolve(arg[0])
        if key == "Fn::And":
            return all(self.resolve(arg))
        if key == "Fn::Or":
            return any(self.resolve(arg))
        if key == "Condition":
            return self.condition(arg)
        if key == "Fn::Join":
            sep, items = arg
            return sep.join(str(i) for i in self.resolve(items))
        return value

    def text(self, value: Any) -> str:
        resolved = self.resolve(value)
        if isinstance(resolved, bool):
            return "true" if resolved else "false"
        return str(resolved)


def function_specs(template: dict[str, Any] | None = None) -> list[FunctionSpec]:
    template = template or load_template()
    glob = template.get("Globals", {}).get("Function", {})
    global_env = glob.get("Environment", {}).get("Variables", {})
    stand_ins = Stand_ins(template)
    specs = []
    for logical_id, resource in template["Resources"].items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = resource.get("Properties", {})
        env_vars = {**global_env, **props.get("Environment", {}).get("Variables", {})}
        # A variable set to AWS::NoValue is absent once deployed (CloudFormation drops it).
        no_value = {"Ref": "AWS::NoValue"}
        env = {k: stand_ins.text(v) for k, v in env_vars.items() if v != no_value}
        code_uri = props.get("CodeUri", glob.get("CodeUri", ""))
        handler = props.get("Handler", glob.get("Handler", ""))
        if props.get("PackageType") == "Image":  # the handler sits beside its Dockerfile
            meta = resource.get("Metadata", {})
            dockerfile = Path(meta.get("DockerContext", ".")) / meta.get("Dockerfile", "Dockerfile")
            code_uri = str(dockerfile.parent)
            handler = (props.get("ImageConfig", {}).get("Command") or [""])[0]
        events = props.get("Events", {}) or {}
        specs.append(
            FunctionSpec(
                logical_id=logical_id,
                code_dir=(ROOT / code_uri).resolve(),
                handler=handler,
                environment=env,
                event_types=tuple(e.get("Type", "") for e in events.values()),
            )
        )
    return specs


def venv_tool(name: str) -> str:
    """A console script installed beside the running interpreter (the project's .venv)."""
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if not found:
        pytest.fail(f"{name} not found next to {sys.executable}: run `make install`")
    return found


@pytest.fixture(scope="session")
def template() -> dict[str, Any]:
    return load_template()


@pytest.fixture(scope="session")
def functions(template: dict[str, Any]) -> list[FunctionSpec]:
    return function_specs(template)


@pytest.fixture
def isolated_import() -> Iterator[None]:
    """Undo the sys.path / sys.modules changes of importing a handler by file path."""
    path, modules = list(sys.path), set(sys.modules)
    yield
    sys.path[:] = path
    for name in set(sys.modules) - modules:
        if name.startswith("runhook_fn_"):
            del sys.modules[name]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """`function_spec`: one case per function of the template; `event_file`: per events/*/*.json."""
    if "function_spec" in metafunc.fixturenames:
        specs = function_specs()
        metafunc.parametrize("function_spec", specs, ids=[s.logical_id for s in specs])
    if "event_file" in metafunc.fixturenames:
        files = sorted(EVENTS.glob("*/*.json"))
        metafunc.parametrize(
            "event_file", files, ids=[f.relative_to(EVENTS).as_posix() for f in files]
        )


@pytest.fixture(scope="session")
def sam() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the project's pinned SAM CLI (through scripts/sam) from the repository root."""
    if not SAM_CLI.exists():
        pytest.fail(f"AWS SAM CLI is not installed at {SAM_CLI}: run `make install`")
    env = dict(os.environ)
    env.update(
        SAM_CLI_TELEMETRY="0",
        AWS_DEFAULT_REGION=env.get("AWS_DEFAULT_REGION") or "us-east-1",
        NO_COLOR="1",
        TERM="dumb",
    )

    def run(*args: str, timeout: float = 280, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(SAM_WRAPPER), *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )

    return run


@pytest.fixture(scope="session")
def cfn_lint() -> str:
    return venv_tool("cfn-lint")


@pytest.fixture(scope="session")
def stand_ins(template: dict[str, Any]) -> Stand_ins:
    """Intrinsics of the template resolved to offline stand-ins (see Stand_ins)."""
    return Stand_ins(template)
