"""`runhook dev --sam-env`: the `--env-vars` file of `sam local`, checked without Docker.

- it names every function of the template, each with the environment the local cloud
  gives that function in-process (the deployer's `EnvironmentPlan.for_function`), except
  the endpoint (as a container reaches it) and the credentials (dummy);
- its endpoint reaches the local cloud's AWS endpoint: every resource the functions are
  told about answers, with the file's credentials and with SAM CLI's default ones;
- SAM CLI itself (its own code, from .cache/sam-venv, offline) gives each container the
  file's values, `AWS_ENDPOINT_URL` and `ALLOW_PRIVATE_TARGETS` included: SAM passes only
  variables the template declares, which is why template.yaml declares those two.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import boto3
import pytest

from runhook_dev.devcloud.cfn import load_template
from runhook_dev.devcloud.sam_env import (
    container_endpoint,
    sam_env_vars,
    write_sam_env,
)

pytestmark = pytest.mark.localcloud

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
SAM_PYTHON = ROOT / ".cache" / "sam-venv" / "bin" / "python"

# What SAM CLI computes for each function's container (samcli's own LocalLambdaRunner).
_SAM_VIEW = r"""
import json, os, sys
from samcli.commands.local.lib.local_lambda import LocalLambdaRunner
from samcli.lib.providers.sam_function_provider import SamFunctionProvider
from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider

template, env_vars = sys.argv[1], sys.argv[2]
stacks, _ = SamLocalStackProvider.get_stacks(template)
provider = SamFunctionProvider(stacks)
root = os.path.dirname(template)
runner = LocalLambdaRunner(
    local_runtime=None, function_provider=provider, cwd=root, real_path=root,
    aws_region="us-east-1", env_vars_values=json.load(open(env_vars)),
)
print(json.dumps({fn.name: runner._make_env_vars(fn).resolve() for fn in provider.get_all()}))
"""


def template_functions() -> set[str]:
    resources = load_template(TEMPLATE).get("Resources") or {}
    return {lid for lid, r in resources.items() if r.get("Type") == "AWS::Serverless::Function"}


@pytest.fixture(scope="module")
def endpoint(local_cloud: Any) -> str:
    return container_endpoint(local_cloud.aws_port, "127.0.0.1")


@pytest.fixture(scope="module")
def env_vars(local_cloud: Any, endpoint: str) -> dict[str, dict[str, str]]:
    return sam_env_vars(local_cloud.deployment, local_cloud.environment_plan, endpoint)


def test_the_container_host_defaults_to_the_name_docker_gives_the_host() -> None:
    assert container_endpoint(4566) == "http://host.docker.internal:4566"
    assert container_endpoint(4566, "10.0.0.2", 14566) == "http://10.0.0.2:14566"


def test_every_function_gets_the_environment_the_deployer_computes(
    local_cloud: Any, env_vars: dict[str, dict[str, str]], endpoint: str
) -> None:
    assert set(env_vars) == template_functions()
    plan = local_cloud.environment_plan
    for logical_id, function in local_cloud.deployment.functions.items():
        in_process = plan.for_function(function)  # what the in-process handler gets
        expected = {
            **in_process,
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
        }
        assert env_vars[logical_id] == expected, logical_id
        # Every template variable, resolved to the local cloud's names (unless a local
        # variable or an --env override replaces it, as in-process).
        replaced = {*plan.local, *plan.overrides}
        template = {k: v for k, v in function.environment.items() if k not in replaced}
        assert template.items() <= env_vars[logical_id].items()
        assert env_vars[logical_id]["TABLE_NAME"] == local_cloud.table_name
        assert env_vars[logical_id]["EVENT_BUS_NAME"] == local_cloud.bus_name
        assert env_vars[logical_id]["ALLOW_PRIVATE_TARGETS"] == "true"
        assert env_vars[logical_id]["PUBLIC_BASE_URL"] == local_cloud.api_url
        # The fixture's --env override reaches every function.
        assert env_vars[logical_id]["WEBHOOK_RETRY_SCHEDULE"] == "1,1,1,1,1,1,1"
    api = env_vars["ApiFunction"]
    assert api["STATE_MACHINE_ARN"] == local_cloud.state_machine_arn
    assert api["DELIVERIES_QUEUE_URL"] == local_cloud.queue_urls["DeliveriesQueue"]
    assert api["DELIVERIES_DLQ_URL"] == local_cloud.queue_urls["DeliveriesDLQ"]
    assert env_vars["StepFunction"]["STATE_MACHINE_ARN"] == local_cloud.state_machine_arn


@pytest.mark.parametrize(
    "credentials",
    [("test", "test"), ("defaultkey", "defaultsecret")],  # the file's; SAM CLI's defaults
    ids=["file", "sam-default"],
)
def test_the_endpoint_reaches_every_resource_the_functions_use(
    env_vars: dict[str, dict[str, str]], credentials: tuple[str, str]
) -> None:
    api = env_vars["ApiFunction"]
    session = boto3.session.Session(
        aws_access_key_id=credentials[0],
        aws_secret_access_key=credentials[1],
        region_name="us-east-1",
    )

    def client(service: str) -> Any:
        return session.client(service, endpoint_url=api["AWS_ENDPOINT_URL"])  # type: ignore[call-overload]

    table = client("dynamodb").describe_table(TableName=api["TABLE_NAME"])["Table"]
    assert table["TableStatus"] == "ACTIVE"
    queue = client("sqs").get_queue_attributes(
        QueueUrl=api["DELIVERIES_QUEUE_URL"], AttributeNames=["QueueArn"]
    )
    assert queue["Attributes"]["QueueArn"].endswith(":runhook-local-deliveries")
    machine = client("stepfunctions").describe_state_machine(
        stateMachineArn=api["STATE_MACHINE_ARN"]
    )
    assert machine["status"] == "ACTIVE"
    bus = client("events").describe_event_bus(Name=api["EVENT_BUS_NAME"])
    assert bus["Name"] == api["EVENT_BUS_NAME"]
    client("s3").head_bucket(Bucket=api["ARTIFACTS_BUCKET"])


def test_sam_cli_gives_each_container_the_files_values(
    env_vars: dict[str, dict[str, str]], endpoint: str, tmp_path: Path
) -> None:
    if not SAM_PYTHON.exists():
        pytest.fail(f"AWS SAM CLI's environment is missing ({SAM_PYTHON}): run `make install`")
    path = tmp_path / "env.json"
    write_sam_env(path, env_vars)
    assert json.loads(path.read_text()) == env_vars
    shell = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    shell |= {"AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}
    answer = subprocess.run(
        [str(SAM_PYTHON), "-c", _SAM_VIEW, str(TEMPLATE), str(path)],
        env=shell,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert answer.returncode == 0, answer.stderr
    containers: dict[str, dict[str, str]] = json.loads(answer.stdout)
    assert set(containers) == set(env_vars)
    for logical_id, container in containers.items():
        wanted = env_vars[logical_id]
        assert container["AWS_ENDPOINT_URL"] == endpoint, logical_id
        assert container["ALLOW_PRIVATE_TARGETS"] == "true", logical_id
        assert container["AWS_REGION"] == "us-east-1"
        # Every variable the template declares carries the file's value ...
        declared = {k: v for k, v in container.items() if not k.startswith("AWS_")}
        assert declared.items() <= wanted.items(), logical_id
        # ... and what does not reach the container is only what SAM sets itself
        # (credentials, region) or what the template does not declare (--env overrides).
        missing = {k for k, v in wanted.items() if container.get(k) != v}
        assert missing <= {
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "WEBHOOK_RETRY_SCHEDULE",
        }, logical_id
