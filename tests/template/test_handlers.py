"""Every function's Handler in template.yaml resolves to a callable, and imports only what a
deployed function may: non-API functions never import FastAPI (cold start), and nothing
deployed imports the local cloud (runhook_dev.devcloud) or moto.

Each handler is imported in a fresh interpreter, by file path under a unique module name, with
the function's folder first on sys.path (as Lambda's /var/task) and the function's template
Environment (intrinsics replaced by stand-ins): that is a cold start, and it leaves the test
process (and its local cloud) untouched.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.template.conftest import FunctionSpec

ROOT = Path(__file__).resolve().parents[2]

_CHILD = r"""
import importlib.util, inspect, json, sys, traceback
path, attribute, module_name, code_dir = sys.argv[1:5]
sys.path.insert(0, code_dir)
out = {"error": None, "callable": False, "takes_event_and_context": False}
try:
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    handler = getattr(module, attribute, None)
    out["callable"] = callable(handler)
    if callable(handler):
        try:
            inspect.signature(handler).bind(object(), object())
            out["takes_event_and_context"] = True
        except (TypeError, ValueError):
            pass
except BaseException:
    out["error"] = traceback.format_exc()
out["modules"] = sorted(sys.modules)
print(json.dumps(out))
"""

_cache: dict[str, dict[str, Any]] = {}


def cold_import(spec: FunctionSpec) -> dict[str, Any]:
    """Import the handler in a fresh interpreter (once per function per test process)."""
    if spec.logical_id in _cache:
        return _cache[spec.logical_id]
    if not spec.module_file.is_file():
        pytest.fail(
            f"{spec.logical_id}: Handler {spec.handler!r} needs "
            f"{spec.module_file.relative_to(ROOT)}, which does not exist"
        )
    keep = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "TMPDIR"}}
    env = {**keep, **spec.lambda_environment(), "PYTHONDONTWRITEBYTECODE": "1"}
    module_name = f"runhook_fn_{spec.dir_name}_{spec.module_file.stem}"
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            _CHILD,
            str(spec.module_file),
            spec.attribute,
            module_name,
            str(spec.code_dir),
        ],
        cwd=spec.code_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines, f"no output from the import of {spec.module_file}: {result.stderr}"
    out: dict[str, Any] = json.loads(lines[-1])
    _cache[spec.logical_id] = out
    return out


def _top_level(modules: list[str], *names: str) -> list[str]:
    return [m for m in modules if m.split(".")[0] in names]


def test_handler_resolves_to_a_callable(function_spec: FunctionSpec) -> None:
    out = cold_import(function_spec)
    assert out["error"] is None, f"{function_spec.logical_id}: import failed\n{out['error']}"
    assert out["callable"], f"{function_spec.logical_id}: {function_spec.handler} is not callable"
    assert out["takes_event_and_context"], (
        f"{function_spec.logical_id}: {function_spec.handler} cannot be called (event, context)"
    )


def test_only_api_functions_import_fastapi(function_spec: FunctionSpec) -> None:
    out = cold_import(function_spec)
    assert out["error"] is None, out["error"]
    web = _top_level(out["modules"], "fastapi", "starlette", "uvicorn")
    if function_spec.is_api:
        # The check can see an import: the API function really does import FastAPI.
        assert "fastapi" in web
    else:
        assert not web, f"{function_spec.logical_id} imports {web} (cold start: keep it out)"


def test_deployed_code_does_not_import_the_local_cloud(function_spec: FunctionSpec) -> None:
    out = cold_import(function_spec)
    assert out["error"] is None, out["error"]
    assert "runhook" in out["modules"], "the handler should use the runhook layer"
    local = [
        m
        for m in out["modules"]
        if m == "runhook_dev.devcloud" or m.startswith("runhook_dev.devcloud.")
    ]
    local += _top_level(out["modules"], "moto", "werkzeug", "pytest")
    assert not local, f"{function_spec.logical_id} imports {local}"


def test_functions_do_not_import_one_another(functions: list[FunctionSpec]) -> None:
    dirs = {spec.dir_name for spec in functions}
    problems = []
    for file in sorted((ROOT / "functions").rglob("*.py")):
        tree = ast.parse(file.read_text(), filename=str(file))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top == "functions" or top in dirs - {file.parent.name}:
                    problems.append(f"{file.relative_to(ROOT)} imports {name}")
    assert not problems, "; ".join(problems)


def test_every_function_folder_is_in_the_template(functions: list[FunctionSpec]) -> None:
    declared = {spec.code_dir for spec in functions}
    on_disk = {p.resolve() for p in (ROOT / "functions").iterdir() if p.is_dir()}
    on_disk = {p for p in on_disk if p.name != "__pycache__"}
    assert on_disk <= declared, (
        f"not in template.yaml: {sorted(p.name for p in on_disk - declared)}"
    )
    assert all(spec.code_dir.parent == (ROOT / "functions").resolve() for spec in functions)
