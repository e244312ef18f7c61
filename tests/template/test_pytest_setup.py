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
