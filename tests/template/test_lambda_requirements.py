"""The Lambda requirements files stay in step with pyproject.toml and requirements.lock."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "lambda_requirements.py"


@pytest.fixture(scope="module")
def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("runhook_lambda_requirements", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_requirements_files_match_pyproject_and_lock(generator: ModuleType) -> None:
    pins = generator.read_lock()
    for target in generator.targets():
        expected = generator.render(target, pins)
        rel = target.path.relative_to(ROOT)
        assert target.path.exists(), f"{rel} is missing: run `make layer-requirements`"
        assert target.path.read_text() == expected, f"{rel} drifted: run `make layer-requirements`"


def test_check_command_passes() -> None:
    """`scripts/lambda_requirements.py --check` (the command-line form) agrees."""
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr


def test_every_declared_dependency_is_locked_within_its_range() -> None:
    """pyproject.toml and requirements.lock agree (else: `make lock`)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = list(project["dependencies"])
    for group in project.get("optional-dependencies", {}).values():
        declared += group
    locked: dict[str, str] = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        name, sep, version = line.partition("==")
        if sep:
            locked[canonicalize_name(name)] = version.strip()
    problems = []
    for raw in declared:
        req = Requirement(raw)
        name = canonicalize_name(req.name)
        if name == "runhook" or (req.marker and not req.marker.evaluate()):
            continue
        if name not in locked:
            problems.append(f"{req.name} is not in requirements.lock")
        elif not req.specifier.contains(locked[name], prereleases=True):
            problems.append(f"{req.name}=={locked[name]} does not satisfy {raw!r}")
    assert not problems, "; ".join(problems) + " — run `make lock`"


def test_layer_pins_the_runtime_closure(generator: ModuleType) -> None:
    """The layer carries what `runhook` needs on Lambda, every line an exact pin."""
    layer = (ROOT / "layers" / "runhook" / "requirements.txt").read_text().splitlines()
    pins = [line for line in layer if line and not line.startswith("#")]
    assert pins and all("==" in line for line in pins)
    names = {canonicalize_name(line.split("==")[0]) for line in pins}
    assert {"aws-lambda-powertools", "pydantic", "pydantic-core", "boto3"} <= names
    assert not {"fastapi", "mangum", "moto", "pytest"} & names
    api = (ROOT / "functions" / "api" / "requirements.txt").read_text()
    assert "fastapi==" in api and "mangum==" in api
