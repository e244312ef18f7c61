"""Chromium processes of one browser session, found and ended through /proc (Linux).

Every session launches Chromium with a unique user-data directory; the browser process
carries it on its command line, and its helpers (zygote, renderers, GPU/utility
processes) are its descendants. That is enough to end exactly one session's processes
(on cancel, on a hard deadline, after a crash) without touching anyone else's, and to
measure their memory (PSS) for the benchmarks.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterable
from pathlib import Path

PROC = Path("/proc")


def _cmdline(pid: int) -> str:
    try:
        raw = (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode("utf-8", errors="replace")


def _ppid(pid: int) -> int | None:
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # "pid (comm) state ppid ...": comm may contain spaces and parentheses.
    try:
        return int(stat.rsplit(")", 1)[1].split()[1])
    except (IndexError, ValueError):
        return None


def _pids() -> list[int]:
    try:
        return [int(p.name) for p in PROC.iterdir() if p.name.isdigit()]
    except OSError:
        return []


def parent(pid: int) -> int | None:
    """The parent of `pid` (None once it is gone)."""
    return _ppid(pid)


def alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie has exited: it only waits for its parent to reap it)."""
    try:
        state = (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def descendants(roots: Iterable[int]) -> set[int]:
    """`roots` and every process below them."""
    found = set(roots)
    if not found:
        return found
    children: dict[int, list[int]] = {}
    for pid in _pids():
        parent = _ppid(pid)
        if parent is not None:
            children.setdefault(parent, []).append(pid)
    todo = list(found)
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def session_processes(marker: str) -> set[int]:
    """Live processes whose command line holds `marker` (the user-data dir), and their tree."""
    me = os.getpid()
    roots = [pid for pid in _pids() if pid != me and marker in _cmdline(pid)]
    return {pid for pid in descendants(roots) if alive(pid)}


def processes_of(executable: str) -> set[int]:
    """Live processes running `executable` (e.g. /usr/lib/chromium/chromium)."""
    out = set()
    for pid in _pids():
        try:
            exe = os.readlink(PROC / str(pid) / "exe")
        except OSError:
            continue
        if exe == executable and alive(pid):
            out.add(pid)
    return out


def kill(pids: Iterable[int], wait: float = 3.0) -> set[int]:
    """SIGKILL `pids`; wait up to `wait` s for them to go. Returns those still alive."""
    targets = set(pids)
    for pid in targets:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + wait
    left = {pid for pid in targets if alive(pid)}
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = {pid for pid in left if alive(pid)}
    return left


def end_session(marker: str, wait: float = 3.0) -> set[int]:
    """SIGKILL the session's processes until none is left (or `wait` s have passed).

    One snapshot is not enough: a process the browser forks between the scan of /proc
    and the signals is in no snapshot. Returns the processes still alive at the end."""
    deadline = time.monotonic() + wait
    while True:
        found = session_processes(marker)
        if not found:
            return set()
        left = kill(found, max(0.0, deadline - time.monotonic()))
        if time.monotonic() >= deadline:
            return left | session_processes(marker)


def pss_kb(pids: Iterable[int]) -> int:
    """Proportional set size of `pids` together, in KiB (shared pages counted once)."""
    total = 0
    for pid in pids:
        try:
            text = (PROC / str(pid) / "smaps_rollup").read_text()
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith("Pss:"):
                total += int(line.split()[1])
                break
    return total
