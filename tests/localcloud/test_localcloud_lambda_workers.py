"""`runhook dev --lambda-workers N` runs the template's handlers in worker processes of their
own, and they die with it (Ctrl-C, SIGKILL).

As a user runs it (a subprocess): the banner says where handlers run, a run created
through the API completes and its step function ran in the worker (the worker's
`GET /invocations` counts it), and no worker is left behind after Ctrl-C or after the
cloud's process is killed.
"""

from __future__ import annotations

import re
import secrets
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.localcloud.test_localcloud_api_workers import run_once
from tests.localcloud.workers import lambda_workers_of, wait_no_workers
from tests.support.devprocess import RUNHOOK, DevProcess

pytestmark = [
    pytest.mark.localcloud,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc"),
]

# Boot spawns Java and the workers beside the cloud; on a loaded 2-core machine that takes
# more than the usual minute. The API stays in-process (fewer processes to boot).
BOOT_TIMEOUT = 180.0


def invocations(dev: DevProcess) -> dict[str, int]:
    """What the worker at the banner's URL ran, by logical id."""
    match = re.search(r"worker process(?:es)? at (http://127\.0\.0\.1:\d+)", dev.output)
    assert match, dev.output
    counts: dict[str, int] = httpx.get(f"{match.group(1)}/invocations", timeout=10).json()
    return counts


def test_handlers_run_in_workers_that_stop_with_runhook_dev(
    tmp_path: Path, clean_env: dict[str, str]
) -> None:
    key = "sk_test_" + secrets.token_urlsafe(32)
    env = {**clean_env, "RUNHOOK_DEV_API_KEY": key}
    dev = DevProcess(
        tmp_path / "state", env, "--in-memory", "--api-workers", "0", "--lambda-workers", "1"
    )
    try:
        dev.wait_ready(BOOT_TIMEOUT)
        workers = lambda_workers_of(dev.process.pid)
        assert len(workers) == 1, dev.output
        assert "Lambda: handlers in 1 worker process at http://127.0.0.1:" in dev.output
        assert invocations(dev).get("StepFunction", 0) == 0
        run_once(dev, key)
        # The run's step function ran in the worker (at least its first invocation).
        assert invocations(dev).get("StepFunction", 0) >= 1, dev.output
    finally:
        code = dev.stop(signal.SIGINT)
    assert code == 0, dev.output
    wait_no_workers(workers)


def test_no_lambda_worker_outlives_a_killed_runhook_dev(
    tmp_path: Path, clean_env: dict[str, str]
) -> None:
    dev = DevProcess(
        tmp_path / "state", clean_env, "--in-memory", "--api-workers", "0", "--lambda-workers", "2"
    )
    try:
        dev.wait_ready(BOOT_TIMEOUT)
        workers = lambda_workers_of(dev.process.pid)
        assert len(workers) == 2, dev.output
        assert "Lambda: handlers in 2 worker processes at http://127.0.0.1:" in dev.output
    finally:
        dev.process.kill()
        dev.process.wait(10)
    wait_no_workers(workers)  # their lifeline (stdin) ended with the cloud's process


def test_lambda_workers_and_a_lambda_endpoint_are_refused_together(
    clean_env: dict[str, str], tmp_path: Path
) -> None:
    answer = subprocess.run(
        [
            str(RUNHOOK),
            "dev",
            "--in-memory",
            "--state-dir",
            str(tmp_path),
            "--lambda-workers",
            "1",
            "--lambda-endpoint",
            "http://127.0.0.1:3001",
        ],
        env=clean_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert answer.returncode == 2, answer.stdout + answer.stderr
    assert "--lambda-workers and --lambda-endpoint: choose one" in answer.stderr
