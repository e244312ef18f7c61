"""What ships to Lambda holds no development code.

The code layer (template.yaml's AWS::Serverless::LayerVersion: its ContentUri, as `sam build`
copies it) and the browser function's image (its Dockerfile's COPY lines) must not contain
the local cloud, the CLI, the admin tooling or the receiver tools (`runhook_dev`: devcloud/,
cli.py, admin.py, admin_cli.py, webhooks_cli.py, listen.py, verify.py), nor list a
development-only package in the layer's requirements. When a `sam build` output is there
(.aws-sam/build/<layer>), it is inspected too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAM_BUILD = ROOT / ".aws-sam" / "build"

# Folders and modules that moved to runhook_dev (devtools/) and must never come back.
DEV_FOLDERS = {"runhook_dev", "devcloud", "devtools"}
DEV_MODULES = {"cli.py", "admin_cli.py", "webhooks_cli.py", "listen.py", "verify.py"}
DEV_TOP_LEVEL = {"runhook/admin.py"}  # runhook/api/routes/admin.py is the API's and stays
DEV_PACKAGES = {"moto", "werkzeug", "uvicorn", "pytest", "hypothesis", "cfn-lint", "runhook"}
SKIPPED = {"__pycache__"}


def shipped_files(folder: Path) -> list[Path]:
    """The files under `folder` a build copies (no caches, no *.egg-info), relative to it."""
    return sorted(
        path.relative_to(folder)
        for path in folder.rglob("*")
        if path.is_file()
        and not any(p in SKIPPED or p.endswith(".egg-info") for p in path.relative_to(folder).parts)
    )


def dev_code(folder: Path, files: Iterable[Path]) -> list[str]:
    """The development files among `files` (relative to `folder`), each with the reason."""
    found = []
    for file in files:
        text = file.as_posix()
        if DEV_FOLDERS & set(file.parts[:-1]):
            found.append(f"{text}: a development package's folder")
        elif file.name in DEV_MODULES or any(text.endswith(t) for t in DEV_TOP_LEVEL):
            found.append(f"{text}: a development tool's module")
        elif file.suffix == ".py" and re.search(
            r"^\s*(from|import)\s+runhook_dev\b", (folder / file).read_text(), re.MULTILINE
        ):
            found.append(f"{text}: imports runhook_dev")
    return found


def requirement_names(requirements: Path) -> set[str]:
    names = set()
    for line in requirements.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            names.add(re.split(r"[\s\[<>=!~;]", line, maxsplit=1)[0].lower().replace("_", "-"))
    return names


def layer_folders(template: dict[str, Any]) -> dict[str, Path]:
    return {
        logical_id: ROOT / resource["Properties"]["ContentUri"]
        for logical_id, resource in template["Resources"].items()
        if resource.get("Type") == "AWS::Serverless::LayerVersion"
    }


def docker_copies(dockerfile: Path, context: Path) -> list[Path]:
    """The sources of the Dockerfile's COPY lines (relative to the build context)."""
    sources = []
    for line in dockerfile.read_text().splitlines():
        words = line.split()
        if words[:1] == ["COPY"]:
            args = [w for w in words[1:] if not w.startswith("--")]
            sources += [context / source for source in args[:-1]]
    return sources


def test_the_code_layer_holds_no_development_code(template: dict[str, Any]) -> None:
    layers = layer_folders(template)
    assert layers, "template.yaml has no AWS::Serverless::LayerVersion"
    for logical_id, folder in layers.items():
        files = shipped_files(folder)
        assert Path("runhook/__init__.py") in files, f"{logical_id}: no runhook package"
        assert not dev_code(folder, files), f"{logical_id} ships {dev_code(folder, files)}"


def test_the_layer_installs_no_development_package(template: dict[str, Any]) -> None:
    for logical_id, folder in layer_folders(template).items():
        requirements = folder / "requirements.txt"
        if requirements.is_file():
            extra = requirement_names(requirements) & DEV_PACKAGES
            assert not extra, f"{logical_id} installs {sorted(extra)}"


def test_the_browser_image_holds_no_development_code(template: dict[str, Any]) -> None:
    images = {
        lid: res.get("Metadata", {})
        for lid, res in template["Resources"].items()
        if res.get("Properties", {}).get("PackageType") == "Image"
    }
    assert images, "no container image function in template.yaml"
    for logical_id, meta in images.items():
        context = ROOT / meta.get("DockerContext", ".")
        copies = docker_copies(context / meta.get("Dockerfile", "Dockerfile"), context)
        assert any(source.name == "runhook" for source in copies), f"{logical_id}: no runhook"
        for source in copies:
            assert source.exists(), f"{logical_id}: COPY {source} does not exist"
            if source.is_dir():
                found = dev_code(source, shipped_files(source))
            else:
                found = dev_code(source.parent, [Path(source.name)])
            assert not found, f"{logical_id} copies {source.relative_to(ROOT)}: {found}"


def test_the_built_layer_holds_no_development_code(template: dict[str, Any]) -> None:
    built = [SAM_BUILD / logical_id / "python" for logical_id in layer_folders(template)]
    built = [folder for folder in built if folder.is_dir()]
    if not built:
        pytest.skip(
            f"no `sam build` output in {SAM_BUILD.relative_to(ROOT)} (the source is checked)"
        )
    for folder in built:
        ours = [f for f in shipped_files(folder) if f.parts[0] in {"runhook", "runhook_dev"}]
        assert Path("runhook/__init__.py") in ours, f"{folder}: no runhook package"
        assert not dev_code(folder, ours), f"{folder} holds {dev_code(folder, ours)}"


# --- the checks can fail -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ("runhook/devcloud/cloud.py", ""),
        ("runhook_dev/__init__.py", ""),
        ("runhook/cli.py", ""),
        ("runhook/admin.py", ""),
        ("runhook/webhooks/listen.py", ""),
        ("runhook/webhooks/verify.py", ""),
        ("runhook/engine/helper.py", "from runhook_dev.devcloud import LocalCloud\n"),
    ],
)
def test_development_code_is_seen(tmp_path: Path, path: str, text: str) -> None:
    (tmp_path / "runhook" / "api" / "routes").mkdir(parents=True)
    (tmp_path / "runhook" / "__init__.py").write_text("")
    (tmp_path / "runhook" / "api" / "routes" / "admin.py").write_text("")  # allowed
    assert dev_code(tmp_path, shipped_files(tmp_path)) == []
    (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / path).write_text(text)
    assert [line.split(":")[0] for line in dev_code(tmp_path, shipped_files(tmp_path))] == [path]


def test_a_development_requirement_is_seen(tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("# pinned\nboto3==1.0\nmoto[server]==5.1 ; python_version>'3'\n")
    assert requirement_names(requirements) & DEV_PACKAGES == {"moto"}


def test_docker_copies_are_read(tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM x\nCOPY --chown=1 a/b ./b\nCOPY c d ./\nRUN COPY no\n")
    assert docker_copies(dockerfile, tmp_path) == [tmp_path / "a/b", tmp_path / "c", tmp_path / "d"]
