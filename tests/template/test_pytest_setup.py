"""The test runner's own setup does what the suite relies on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PROBE = """
import os
import pytest


@pytest.mark.xdist_group("probe")
@pytest.mark.parametrize("n", range(4))
def test_grouped(n):
    out = os.environ["PROBE_OUT"]
    with open(os.path.join(out, str(n)), "w") as f:
        f.write(os.environ["PYTEST_XDIST_WORKER"])
"""


def test_xdist_groups_keep_their_tests_on_one_worker(tmp_path: Path) -> None:
    """`make test` runs `-n 2 --dist loadgroup`: an xdist_group (one sam build, one browser)
    must land on a single worker. pytest 9.2 with pytest-xdist 3.8 silently breaks this."""
    (tmp_path / "test_probe.py").write_text(PROBE)
    out = tmp_path / "workers"
    out.mkdir()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-n",
            "2",
            "--dist",
            "loadgroup",
            "-s",
            "-q",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(tmp_path),
            str(tmp_path),
        ],
        cwd=tmp_path,
        env={**os.environ, "PROBE_OUT": str(out)},
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    written = sorted(out.iterdir())
    assert len(written) == 4, result.stdout
    workers = {f.read_text() for f in written}
    assert len(workers) == 1, f"the group ran on {sorted(workers)}"


CRASH_PROBE = """
import os
import pytest


@pytest.mark.xdist_group("crashing")
@pytest.mark.parametrize("n", range(3))
def test_grouped(n):
    if n == 1:
        os.abort()


@pytest.mark.parametrize("n", range(6))
def test_plain(n):
    pass
"""


def make_test_pytest_flags() -> list[str]:
    """The xdist flags of the Makefile's `test` recipe (what CI runs)."""
    makefile = (Path(__file__).resolve().parents[2] / "Makefile").read_text()
    recipe = makefile.split("\ntest:", 1)[1].split("\n")[1]
    words = recipe.split()
    start = next(i for i, w in enumerate(words) if w.endswith("/pytest"))
    return [w for w in words[start + 1 :] if not w.startswith("$(")]


def test_a_crashed_worker_ends_the_run_instead_of_hanging_it(tmp_path: Path) -> None:
    """A worker killed by a fatal signal must end `make test` with the test named, not hang.

    pytest-xdist 3.8 under `--dist loadgroup` replaces a crashed worker and then can wait forever
    (pytest-xdist#1323/#1327/#1378); CI once spent its whole 90 minutes that way. The Makefile's
    flags must make such a run end quickly and fail."""
    (tmp_path / "test_crash_probe.py").write_text(CRASH_PROBE)
    flags = make_test_pytest_flags()
    assert "--max-worker-restart=0" in flags
    result = subprocess.run(
        [sys.executable, "-m", "pytest", *flags, "-p", "no:cacheprovider", "-p", "no:faulthandler"]
        + ["--rootdir", str(tmp_path), str(tmp_path)],
        cwd=tmp_path,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "test_grouped[1]" in output, output
