"""template.yaml through the real tools: cfn-lint, `sam validate --lint`, `sam build`.

All of them run offline. `sam build` runs without a container and needs python3.12 (the
Lambda runtime) on PATH: scripts/sam finds it (PATH, then pyenv) or fails clearly.
"""

from __future__ import annotations

import fcntl
import functools
import json
import os
import re
import shutil
import subprocess
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.template.conftest import FunctionSpec

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
SAM_WRAPPER = ROOT / "scripts" / "sam"

Sam = Callable[..., subprocess.CompletedProcess[str]]

# Lambda's limit for a function's code and all its layers, unzipped.
LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024


def _output(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"


def _cfn_lint(cfn_lint: str, template: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [cfn_lint, "--format", "parseable", str(template)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.slow
def test_cfn_lint_passes(cfn_lint: str) -> None:
    result = _cfn_lint(cfn_lint, TEMPLATE)
    assert result.returncode == 0, _output(result)


@pytest.mark.slow
def test_cfn_lint_catches_a_broken_copy(cfn_lint: str, tmp_path: Path) -> None:
    """Run from the repository root (so with any .cfnlintrc there), cfn-lint still reports errors."""
    broken = tmp_path / "template.yaml"
    text = TEMPLATE.read_text()
    assert "maxReceiveCount: " in text
    broken.write_text(re.sub(r"maxReceiveCount: \S+", "maxReceiveCount: banana", text, count=1))
    result = _cfn_lint(cfn_lint, broken)
    assert result.returncode != 0, _output(result)
    assert "banana" in result.stdout


@pytest.mark.slow
def test_sam_validate_lint(sam: Sam) -> None:
    result = sam("validate", "--lint", "--template", str(TEMPLATE))
    assert result.returncode == 0, _output(result)
    assert "is a valid SAM Template" in result.stdout + result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("config_env", ["dev", "staging", "prod"])
def test_sam_validate_with_each_config_env(sam: Sam, config_env: str) -> None:
    """sam reads the environment from samconfig.toml: its `lint = true` and its stack name."""
    result = sam("validate", "--config-env", config_env, "--debug")
    assert result.returncode == 0, _output(result)
    assert "is a valid SAM Template" in result.stdout + result.stderr
    loaded = re.search(r"Configuration values are: (\{.*\})", result.stderr)
    assert loaded, _output(result)
    assert f"'stack_name': 'runhook-{config_env}'" in loaded.group(1)
    assert "'lint': True" in loaded.group(1)


def test_sam_validate_rejects_a_malformed_samconfig(sam: Sam, tmp_path: Path) -> None:
    broken = tmp_path / "samconfig.toml"
    broken.write_text(
        (ROOT / "samconfig.toml")
        .read_text()
        .replace("[dev.deploy.parameters]", "[dev.deploy.parameters", 1)
    )
    result = sam("validate", "--lint", "--config-file", str(broken), "--config-env", "dev")
    assert result.returncode != 0, _output(result)


def test_samconfig_environments() -> None:
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    for env in ("dev", "staging", "prod"):
        deploy = config[env]["deploy"]["parameters"]
        stack = config[env]["global"]["parameters"]["stack_name"]
        assert stack == f"runhook-{env}"
        assert f"Stage={env}" in deploy["parameter_overrides"].split()
        assert set(deploy["capabilities"].split()) == {"CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"}
        assert deploy["resolve_s3"] is True
        assert deploy.get("confirm_changeset", False) is (env == "prod")


# --- sam build --------------------------------------------------------------------------------


def _image_functions(template: dict[str, Any]) -> list[str]:
    """Container image functions (the browser function): `sam build` needs Docker for them."""
    return sorted(
        lid
        for lid, res in template["Resources"].items()
        if res.get("Type") == "AWS::Serverless::Function"
        and res.get("Properties", {}).get("PackageType") == "Image"
    )


@functools.lru_cache(maxsize=1)
def _docker() -> bool:
    """A Docker daemon answers (a docker CLI alone is not enough to build an image)."""
    if shutil.which("docker") is None:
        return False
    try:
        probe = subprocess.run(
            ["docker", "info"], capture_output=True, timeout=30, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


@pytest.fixture(scope="module")
def sam_build(sam: Sam, tmp_path_factory: pytest.TempPathFactory, template: dict[str, Any]) -> Path:
    """`sam build` (no container) into a temporary folder; the build cache in .cache/ lets
    an unchanged function or layer be copied instead of rebuilt on a warm machine. Image
    functions are excluded when there is no Docker (test_sam_build_of_image_functions).

    One build per test run: the tests share an xdist group, and a file lock in the run's
    shared temporary folder makes any other worker reuse the first one's build."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    root = shared / "sam-build"
    build_dir = root / "build"
    with (shared / "sam-build.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        outcome_file = root / "outcome.json"
        if not outcome_file.exists():
            root.mkdir(exist_ok=True)
            excluded = [] if _docker() else _image_functions(template)
            result = sam(
                "build",
                "--template",
                str(TEMPLATE),
                "--build-dir",
                str(build_dir),
                "--cached",
                "--cache-dir",
                str(ROOT / ".cache" / "sam-build-cache"),
                "--parallel",
                *(arg for lid in excluded for arg in ("--exclude", lid)),
                timeout=840,
                cwd=root,  # sam keeps .aws-sam/deps in the working directory
            )
            outcome_file.write_text(
                json.dumps({"output": _output(result), "ok": result.returncode == 0})
            )
        outcome = json.loads(outcome_file.read_text())
    assert outcome["ok"], outcome["output"]
    assert "Build Succeeded" in outcome["output"]
    return build_dir


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


@pytest.mark.slow
@pytest.mark.xdist_group("sam_build")  # one build, on one worker
@pytest.mark.timeout(900)  # the first one builds: a cold build downloads every wheel
def test_sam_build_packages_every_function(
    sam_build: Path, functions: list[FunctionSpec], template: dict[str, Any]
) -> None:
    assert (sam_build / "template.yaml").is_file()
    layer = sam_build / "RunhookLayer" / "python"
    assert (layer / "runhook" / "__init__.py").is_file(), "the layer lacks the runhook package"
    layer_size = _size(layer)
    images = _image_functions(template)
    for spec in functions:
        if spec.logical_id in images:
            continue  # a container image: test_sam_build_of_image_functions
        built = sam_build / spec.logical_id
        module = spec.module_file.relative_to(spec.code_dir)
        assert (built / module).is_file(), f"{spec.logical_id}: {module} not in the build"
        total = _size(built) + layer_size
        assert total < LAMBDA_UNZIPPED_LIMIT, f"{spec.logical_id}: {total} bytes with the layer"
        has_fastapi = (built / "fastapi").is_dir()
        assert has_fastapi == spec.is_api, f"{spec.logical_id}: fastapi packaged={has_fastapi}"


@pytest.mark.slow
@pytest.mark.xdist_group("sam_build")  # one build, on one worker
@pytest.mark.timeout(900)  # the first one builds: a cold build downloads every wheel
def test_sam_build_of_image_functions(
    request: pytest.FixtureRequest, template: dict[str, Any]
) -> None:
    images = _image_functions(template)
    if not images:
        pytest.skip("the template has no container image function")
    if not _docker():
        pytest.skip(
            f"sam build of {', '.join(images)} (PackageType: Image) needs Docker, which this "
            "machine lacks: it was excluded from the build; cfn-lint and sam validate --lint "
            "still check its definition, and its handler is imported by test_handlers"
        )
    sam_build: Path = request.getfixturevalue("sam_build")  # only then: a build is slow
    built = (sam_build / "template.yaml").read_text()
    for logical_id in images:
        assert logical_id in built


@pytest.mark.slow
@pytest.mark.xdist_group("sam_build")  # one build, on one worker
@pytest.mark.timeout(900)  # the first one builds: a cold build downloads every wheel
def test_sam_build_takes_arm64_wheels(sam_build: Path, template: dict[str, Any]) -> None:
    """Compiled dependencies are the Lambda runtime's (CPython 3.12, aarch64), not this host's."""
    architectures = template["Globals"]["Function"]["Architectures"]
    assert architectures == ["arm64"]
    compiled = list((sam_build / "RunhookLayer" / "python").rglob("*.so"))
    assert compiled, "no compiled module in the layer (pydantic-core should be one)"
    for so in compiled:
        assert re.search(r"cpython-312-aarch64-linux-gnu\.so$|abi3\.so$", so.name), so


def test_sam_build_without_the_runtime_python_says_why(tmp_path: Path) -> None:
    """scripts/sam fails with a clear message when python3.<runtime> cannot be found."""
    env = {
        **os.environ,
        "LAMBDA_PYTHON_VERSION": "3.99",
        "PYENV_ROOT": str(tmp_path),
        "SAM_CLI": "/bin/true",
    }
    result = subprocess.run(
        [str(SAM_WRAPPER), "build"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 1, _output(result)
    assert "needs Python 3.99" in result.stderr
