"""The test runner's own setup does what the suite relies on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

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


@pytest.mark.slow
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


@pytest.mark.slow
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


def test_the_longest_units_are_handed_out_first(monkeypatch: pytest.MonkeyPatch) -> None:
    """`make test`'s workers get the units of minutes first (tests/support/scheduling.py), in
    LONGEST_FIRST's order, then the `slow` tests, then the rest; each tier keeps its order."""
    from tests.support.scheduling import LONGEST_FIRST, longest_first

    def item(nodeid: str, group: str | None = None, slow: bool = False) -> Any:
        marks = {"xdist_group": pytest.mark.xdist_group(group).mark} if group else {}
        if slow:
            marks["slow"] = pytest.mark.slow.mark
        return SimpleNamespace(nodeid=nodeid, get_closest_marker=marks.get)

    load = item("tests/e2e/webhooks/test_webhooks_load.py::test_thousand_events_to_three_endpoints")
    browser = [item(f"tests/unit/browser/test_session.py::test_{n}", "browser") for n in "ab"]
    build = item("tests/template/test_template_tools.py::test_sam_build", "sam_build", slow=True)
    slow = item("tests/localcloud/test_localcloud_crash.py::test_crash", slow=True)
    plain = [item(f"tests/unit/test_{n}.py::test_it") for n in "xyz"]
    other_group = item("tests/template/test_import_budget.py::test_budget", "import_budget")
    collected = [plain[0], *browser[:1], slow, other_group, build, plain[1], load]
    collected += [browser[1], plain[2]]

    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    items = list(collected)
    longest_first(items)
    assert items == collected  # `-n 0`: the collection order

    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw0")
    longest_first(items)
    assert LONGEST_FIRST[:3] == (
        "tests/e2e/webhooks/test_webhooks_load.py::",
        "@browser",
        "@sam_build",
    )
    assert items == [load, *browser, build, slow, plain[0], other_group, plain[1], plain[2]]


def test_every_longest_first_entry_names_a_test_file_or_group() -> None:
    """A renamed file or group would silently drop out of LONGEST_FIRST: it must name one."""
    from tests.support.scheduling import LONGEST_FIRST

    root = Path(__file__).resolve().parents[2]
    sources = "\n".join(p.read_text() for p in (root / "tests").rglob("test_*.py"))
    for entry in LONGEST_FIRST:
        if entry.startswith("@"):
            assert f'xdist_group("{entry[1:]}")' in sources, entry
        else:
            assert (root / entry.split("::")[0]).is_file(), entry
