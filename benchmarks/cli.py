"""Benchmark 6: the `runhook` command's start-up, beside `python -c pass`.

A CLI is used interactively and in scripts, so what it costs before doing anything is
the figure that matters: `runhook --help` (the command tree, nothing imported lazily)
and `runhook runs get` (the SDK, httpx and the output code imported, then one request
refused at once by a closed port). Each subject runs in a fresh process, round-robin in
a shuffled order, after one unmeasured warm-up round; the process's CPU time (user +
system, from the kernel's accounting of the child) is the figure less sensitive to other
load, the wall time is reported beside it. The baseline is the interpreter alone.
"""

from __future__ import annotations

import os
import random
import resource
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks import stats
from benchmarks.table import Table, ms, times

RUNHOOK = Path(sys.executable).with_name("runhook")
CLOSED_URL = "http://127.0.0.1:9"  # the discard port: nothing listens, refused at once
RUN_ID = "01936f2a-4b5c-7d8e-9f01-23456789abcd"


@dataclass
class Subject:
    name: str
    argv: list[str]
    expect_ok: bool
    cpu: list[float] = field(default_factory=list)
    wall: list[float] = field(default_factory=list)


def subjects() -> list[Subject]:
    return [
        Subject("python -c pass (baseline)", [sys.executable, "-c", "pass"], True),
        Subject("runhook --help", [str(RUNHOOK), "--help"], True),
        Subject("runhook runs get (refused)", [str(RUNHOOK), "runs", "get", RUN_ID], False),
    ]


def _once(subject: Subject) -> tuple[float, float]:
    """(CPU ms, wall ms) of one run of the subject in a fresh process."""
    env = {**os.environ, "RUNHOOK_API_URL": CLOSED_URL, "RUNHOOK_API_KEY": "rh_bench"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(subject.argv, env=env, capture_output=True, timeout=120)
    wall = (time.perf_counter() - started) * 1000
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if (done.returncode == 0) != subject.expect_ok:
        raise RuntimeError(f"{subject.name}: exit {done.returncode}: {done.stderr[-500:]!r}")
    cpu = (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000
    return cpu, wall


def measure(rounds: int, seed: int = 11) -> list[Subject]:
    items = subjects()
    order = random.Random(seed)
    for item in items:
        _once(item)  # warm-up: bytecode compiled, files in the page cache
    for _ in range(rounds):
        shuffled = items[:]
        order.shuffle(shuffled)
        for item in shuffled:
            cpu, wall = _once(item)
            item.cpu.append(cpu)
            item.wall.append(wall)
    return items


def run(quick: bool = False) -> list[Table]:
    rounds = 5 if quick else 9
    items = measure(rounds)
    base = items[0]
    table = Table(
        title=f"6. CLI start-up: one command in a fresh process (median of {rounds})",
        columns=["command", "CPU ms", "wall ms", "CPU ratio", "wall ratio"],
    )
    base_cpu, base_wall = stats.median(base.cpu), stats.median(base.wall)
    for item in items:
        cpu, wall = stats.median(item.cpu), stats.median(item.wall)
        table.add(
            item.name,
            ms(cpu, 0),
            ms(wall, 0),
            times(stats.ratio(cpu, base_cpu)),
            times(stats.ratio(wall, base_wall)),
        )
    table.notes.append(
        "CPU ms: user + system time of the child process; ratios are of the medians, to "
        "`python -c pass` measured in the same rounds. `runs get` talks to a closed port, "
        "so it measures imports and set-up, not a server."
    )
    return [table]
