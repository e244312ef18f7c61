"""`make bench`: every benchmark, each in a fresh process, one table each beside its baseline.

    python -m benchmarks [--only coldstart,api,webhooks,runs,cost,cli,localcloud,browser] [--quick]

Prints the machine (CPUs, model, RAM) and its load before and after each benchmark (the
figures are only as quiet as the machine), then the tables. The whole output is also
written to .cache/bench/latest.txt; each benchmark's own log (the local cloud's handler
logs) to .cache/bench/logs/<name>.log.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks import machine
from benchmarks.table import Table

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / ".cache" / "bench"
BENCHMARKS = ["coldstart", "api", "webhooks", "runs", "cost", "cli", "localcloud", "browser"]
BROWSER_SCRIPT = ROOT / "scripts" / "bench_browser.py"
CHILD_TIMEOUT = 900


class Output:
    """Prints and keeps every line (for latest.txt)."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, text: str = "") -> None:
        print(text, flush=True)
        self.lines.append(text)


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10
    ).stdout.strip()


def _commit() -> str:
    try:
        sha = _git("rev-parse", "--short", "HEAD")
        dirty = _git("status", "--porcelain", "--untracked-files=no")
        return sha + (" (with uncommitted changes)" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def run_child(name: str, quick: bool, out: Output) -> bool:
    logs = OUT_DIR / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    result_file = OUT_DIR / f"{name}.json"
    result_file.unlink(missing_ok=True)
    log_file = logs / f"{name}.log"
    argv = [sys.executable, "-m", "benchmarks.child", name, str(result_file)]
    if quick:
        argv.append("--quick")
    started = time.monotonic()
    with log_file.open("w") as log:
        try:
            code = subprocess.run(
                argv,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                timeout=CHILD_TIMEOUT,
            ).returncode
        except subprocess.TimeoutExpired:
            code = -1
    elapsed = time.monotonic() - started
    if not result_file.exists():
        out(f"!! {name}: no result (exit {code}); see {log_file.relative_to(ROOT)}")
        out()
        return False
    result = json.loads(result_file.read_text())
    if not result.get("ok"):
        out(f"!! {name} failed: {result.get('error')}; see {log_file.relative_to(ROOT)}")
        out()
        return False
    for data in result["tables"]:
        out(Table.from_dict(data).render())
        out()
    out(
        f"   [{name}: {elapsed:.0f} s; {result['load_before']} before, "
        f"{result['load_after']} after]"
    )
    out()
    return True


def run_browser(out: Output) -> bool:
    """The browser-steps benchmark is its own script (scripts/bench_browser.py)."""
    if not BROWSER_SCRIPT.exists():
        return True
    out("== Browser steps (scripts/bench_browser.py)")
    started = time.monotonic()
    try:
        result = subprocess.run(
            [sys.executable, str(BROWSER_SCRIPT)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=CHILD_TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        out(f"!! browser benchmark timed out after {CHILD_TIMEOUT} s")
        return False
    for line in result.stdout.rstrip().splitlines():
        out(line)
    if result.returncode != 0:
        out(f"!! scripts/bench_browser.py exited {result.returncode}: {result.stderr[-1500:]}")
    out(f"   [browser: {time.monotonic() - started:.0f} s; {machine.load()} after]")
    out()
    return result.returncode == 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--only", help="comma-separated: " + ",".join(BENCHMARKS))
    parser.add_argument("--quick", action="store_true", help="shorter runs (noisier figures)")
    args = parser.parse_args(argv)
    chosen = args.only.split(",") if args.only else BENCHMARKS
    unknown = set(chosen) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")

    out = Output()
    began = time.monotonic()
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    out(f"runhook benchmarks — {now}, commit {_commit()}")
    out(f"machine: {machine.describe()}")
    out(f"{machine.load()} at start (other work on this machine makes every figure noisier)")
    out()
    ok = True
    for name in chosen:
        ok = run_child(name, args.quick, out) and ok
        if name == "browser":  # table 7 (benchmarks/browser.py), then the memory figures
            ok = run_browser(out) and ok
    out(f"total {time.monotonic() - began:.0f} s; {machine.load()} at the end")
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    (OUT_DIR / "latest.txt").write_text("\n".join(out.lines) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
