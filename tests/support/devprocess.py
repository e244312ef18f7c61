"""`runhook dev` in a subprocess, as a user runs it (the local cloud's restart and crash
tests): its output collected line by line, its URLs read from the banner, stopped by a
signal (SIGINT is Ctrl-C, SIGKILL a crash)."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.support.polling import eventually

RUNHOOK = Path(sys.executable).with_name("runhook")
ROOT = Path(__file__).resolve().parents[2]


class CollectedProcess:
    """A subprocess started with stdout piped (stderr merged into it): its output collected
    line by line on a daemon thread, readable while it runs."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)


class DevProcess(CollectedProcess):
    """`runhook dev` in a subprocess, its output collected line by line."""

    def __init__(self, state_dir: Path, env: dict[str, str], *extra: str) -> None:
        """`extra`: more arguments of `runhook dev` (e.g. `--env KEY=VALUE`)."""
        process = subprocess.Popen(
            [
                str(RUNHOOK),
                "dev",
                "--state-dir",
                str(state_dir),
                "--port",
                "0",
                "--aws-port",
                "0",
                *extra,
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        super().__init__(process)

    def wait_ready(self, timeout: float = 180.0) -> None:
        # Quiet, `runhook dev` is ready in ~5-10 s; on a 2-core machine loaded by other
        # suites (load 30-40) one full test run saw the deploy alone take over 60 s.
        def ready() -> bool:
            if "runhook dev: ready" in self.output:
                return True
            if self.process.poll() is not None:
                pytest.fail(f"runhook dev exited with {self.process.returncode}:\n{self.output}")
            return False

        eventually(
            ready,
            timeout=timeout,
            message=lambda _: f"runhook dev not ready within {timeout} s:\n{self.output}",
        )

    def url(self, label: str) -> str:
        match = re.search(rf"^\s+{label}\s+(http://127\.0\.0\.1:\d+)", self.output, re.MULTILINE)
        assert match, f"no {label} URL in:\n{self.output}"
        return match.group(1)

    def stop(self, sig: int, timeout: float = 30.0) -> int:
        self.process.send_signal(sig)
        code = self.process.wait(timeout)
        self._reader.join(5)
        return code
