"""The worker processes (API, Lambda) of a `runhook dev` subprocess, read from /proc (Linux)."""

from __future__ import annotations

from pathlib import Path

from tests.support.polling import eventually

WORKER_MODULE = "runhook_dev.devcloud.api_workers"
LAMBDA_WORKER_MODULE = "runhook_dev.devcloud.lambda_workers"


def api_workers_of(parent: int) -> list[int]:
    """Live processes running the API worker module whose parent is `parent`."""
    return workers_of(parent, WORKER_MODULE)


def lambda_workers_of(parent: int) -> list[int]:
    """Live processes running the Lambda worker module whose parent is `parent`."""
    return workers_of(parent, LAMBDA_WORKER_MODULE)


def workers_of(parent: int, module: str) -> list[int]:
    """Live processes running `module` whose parent is `parent`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        state, ppid = fields[0], int(fields[1])
        if module in cmdline and state != "Z" and ppid == parent:
            found.append(int(entry.name))
    return found


def wait_no_workers(workers: list[int], timeout: float = 10.0) -> None:
    """Fail unless every process of `workers` is gone (or a zombie) within `timeout`."""
    eventually(
        lambda: [pid for pid in workers if _alive(pid)],
        lambda left: not left,
        timeout=timeout,
        message=lambda left: f"workers left behind: {left}",
    )


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
