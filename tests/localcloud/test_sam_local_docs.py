"""The `sam local` commands of README.md ("With Docker: sam local") and events/README.md are
commands that work, for both paths (the container's and the local cloud's by hand).

- every `runhook dev …` line parses with `runhook dev`'s own parser;
- every `sam local …` line names a function of the template and an event file that exist,
  passes `--env-vars` and `--region us-east-1`, and is accepted by the SAM CLI itself
  (.cache/sam-venv): run with no container runtime reachable, it must get as far as
  looking for Docker, which SAM does after parsing options and reading the event;
- every by-hand `aws … lambda invoke` names a function the local cloud (or, for the
  start-lambda one, the template) knows, with a payload file that exists.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest

from runhook_dev.cli import build_parser
from runhook_dev.devcloud.cfn import load_template

ROOT = Path(__file__).resolve().parents[2]
SAM = ROOT / ".cache" / "sam-venv" / "bin" / "sam"
NO_DOCKER = "requires a container runtime"


def _readme_section() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index("## With Docker: `sam local`")
    return text[start : text.index("\n## ", start + 1)]


def _commands(text: str, prefix: str) -> list[list[str]]:
    """The lines of fenced code blocks that start with `prefix`, comments dropped."""
    found = []
    for block in re.findall(r"(?ms)^\s*```[a-z]*\n(.*?)^\s*```", text):
        for line in block.splitlines():
            if line.strip().startswith(prefix):
                found.append(shlex.split(line, comments=True))
    return found


DOCS = {
    "README.md": _readme_section(),
    "events/README.md": (ROOT / "events" / "README.md").read_text(),
}


def _all(prefix: str) -> list[Any]:
    return [
        pytest.param(words, id=f"{doc}:{' '.join(words[:4])}")
        for doc, text in DOCS.items()
        for words in _commands(text, prefix)
    ]


def _functions() -> set[str]:
    resources = load_template(ROOT / "template.yaml").get("Resources") or {}
    return {lid for lid, r in resources.items() if r.get("Type") == "AWS::Serverless::Function"}


def test_the_docs_have_the_commands() -> None:
    readme = _readme_section()
    for prefix in (
        "runhook dev --sam-env",
        "sam build",
        "sam local start-lambda",
        "sam local start-api",
    ):
        assert prefix in readme, prefix
    assert "sam local invoke" in DOCS["events/README.md"]


@pytest.mark.parametrize("words", _all("runhook dev"))
def test_runhook_dev_lines_parse(words: list[str]) -> None:
    args = build_parser().parse_args(words[1:])  # SystemExit on an unknown option
    assert args.command == "dev"


@pytest.mark.parametrize("words", _all("sam local"))
def test_sam_local_lines_are_accepted_by_the_sam_cli(words: list[str], tmp_path: Path) -> None:
    assert words[words.index("--region") + 1] == "us-east-1"
    env_vars = words.index("--env-vars") + 1
    assert words[env_vars] == "env.json"
    if words[2] == "invoke":
        assert words[3] in _functions()
        assert (ROOT / words[words.index("-e") + 1]).is_file()
    if not SAM.exists():
        pytest.fail(f"AWS SAM CLI's environment is missing ({SAM}): run `make install`")
    (tmp_path / "env.json").write_text("{}")
    command = [str(SAM), *words[1:]]
    command[env_vars] = str(tmp_path / "env.json")
    shell = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DOCKER_"))}
    shell |= {"DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock", "SAM_CLI_TELEMETRY": "0"}
    answer = subprocess.run(
        command, cwd=ROOT, env=shell, capture_output=True, text=True, timeout=180, check=False
    )
    output = answer.stdout + answer.stderr
    assert answer.returncode != 0
    assert NO_DOCKER in output, output  # options, template and event file were accepted


@pytest.mark.parametrize("words", _all("aws --endpoint-url"))
def test_by_hand_invokes_name_real_functions(words: list[str], local_cloud: Any) -> None:
    assert words[words.index("--region") + 1] == "us-east-1"
    name = words[words.index("--function-name") + 1]
    payload = words[words.index("--payload") + 1]
    assert payload.startswith("fileb://")
    assert (ROOT / payload.removeprefix("fileb://")).is_file()
    if words[words.index("--endpoint-url") + 1].endswith(":3001"):  # sam local start-lambda
        assert name in _functions()
    else:
        assert local_cloud.registry.get(name) is not None
