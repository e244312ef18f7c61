"""The `runhook` command without a server: fast --help, one-line errors, legacy commands."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from runhook_dev.cli import build_parser, main


def test_help_imports_neither_the_sdk_nor_rich_nor_the_local_cloud() -> None:
    probe = (
        "import sys\n"
        "from runhook_dev.cli import main\n"
        "main(['--help'])\n"
        "heavy = [m for m in ('httpx', 'rich', 'pydantic', 'runhook_client', "
        "'runhook_dev.devcloud', 'boto3', 'yaml') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert "HEAVY []" in out
    assert "tasks" in out and "runs" in out and "dev" in out and "admin" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["runs", "start"], "Missing argument 'TASK_ID'"),
        (["runs", "start", "t", "--input", "novalue"], "expected key=value"),
        (["runs", "start", "t", "--input-json", "n={"], "the value is not JSON"),
        (["runs", "list", "--since", "yesterday"], "a duration like 30m"),
        (["tasks", "apply", "-f", "/no/such/task.yaml"], "cannot read /no/such/task.yaml"),
        (["runs", "resume", "r"], "say --approve or --reject"),
        (["runs", "get", "r", "--output", "xml"], "'xml' is not one of"),
    ],
)
def test_bad_input_is_one_line_and_a_non_zero_exit(
    argv: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RUNHOOK_API_KEY", "sk_test_unused")
    monkeypatch.setenv("RUNHOOK_API_URL", "http://127.0.0.1:9")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("runhook: error: ") and message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_a_group_without_a_command_prints_its_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    err = capsys.readouterr().err
    assert err.startswith("Usage: runhook") and "runs" in err and "error" not in err
    assert main(["runs"]) == 2
    assert "resume" in capsys.readouterr().err


def test_no_key_and_an_unreachable_service_are_one_line_errors(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RUNHOOK_API_KEY", raising=False)
    assert main(["runs", "get", "r"]) == 2
    assert "no API key" in capsys.readouterr().err
    assert main(["runs", "get", "r", "--api-key", "k", "--api-url", "http://127.0.0.1:9"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("runhook: error: cannot reach http://127.0.0.1:9")
    assert len(err.strip().splitlines()) == 1


def test_the_legacy_commands_keep_their_argparse_flags(capsys: pytest.CaptureFixture[str]) -> None:
    args = build_parser().parse_args(["dev"])
    assert args.func.__module__ == "runhook_dev.devcloud.command"
    assert main(["webhooks", "listen", "--help"]) == 0
    assert "--forward-to" in capsys.readouterr().out
    assert main(["admin", "bootstrap", "--help"]) == 0
    assert "--test-key" in capsys.readouterr().out
    env = {**os.environ, "RUNHOOK_DEBUG": ""}
    done = subprocess.run(
        [sys.executable, "-m", "runhook_dev.cli", "admin", "bootstrap"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 2 and "--table" in done.stderr  # argparse's own usage error


# What each resource type the local deployer creates is emulated by, as `runhook dev --help`
# must name it; None: nothing to name (IAM is not emulated, a layer is only the code).
_EMULATED_BY = {
    "AWS::DynamoDB::Table": "DynamoDB Local",
    "AWS::SQS::Queue": "SQS",
    "AWS::Events::EventBus": "EventBridge",
    "AWS::Events::Rule": "EventBridge",
    "AWS::Scheduler::ScheduleGroup": "EventBridge Scheduler",
    "AWS::S3::Bucket": "S3",
    "AWS::KMS::Key": "KMS",
    "AWS::Logs::LogGroup": "CloudWatch Logs",
    "AWS::Serverless::StateMachine": "Step Functions",
    "AWS::StepFunctions::StateMachine": "Step Functions",
    "AWS::Serverless::Function": "Lambda Invoke",
    "AWS::Lambda::Function": "Lambda Invoke",
    "AWS::Serverless::Api": "the API is served",
    "AWS::Serverless::HttpApi": "the API is served",
    "AWS::IAM::Role": None,
    "AWS::Serverless::LayerVersion": None,
}


def test_dev_help_names_every_service_the_local_cloud_emulates(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from runhook_dev.devcloud.resources import RESOURCE_KINDS

    unlisted = set(RESOURCE_KINDS) - set(_EMULATED_BY)
    assert not unlisted, f"say what emulates {sorted(unlisted)} (here and in `dev --help`)"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["dev", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    missing = {name for name in _EMULATED_BY.values() if name and name not in text}
    assert not missing, f"`runhook dev --help` does not name {sorted(missing)}"
