"""`runhook dev` as a user runs it: data survives a restart, no Java is left behind."""

from __future__ import annotations

import signal
import sys
import uuid
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

from tests.support.devprocess import DevProcess
from tests.support.polling import eventually

pytestmark = [pytest.mark.localcloud, pytest.mark.slow]


def java_processes(marker: str) -> list[int]:
    """Pids of live processes whose command line mentions `marker` (our state dir)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if marker in cmdline and "java" in cmdline and ") Z " not in stat:
            pids.append(int(entry.name))
    return pids


def wait_no_java(marker: str, timeout: float = 10.0) -> None:
    eventually(
        lambda: java_processes(marker),
        lambda pids: not pids,
        timeout=timeout,
        message=lambda pids: f"Java still running: {pids}",
    )


def dynamodb(endpoint: str) -> Any:
    return boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_data_survives_a_restart_and_no_java_is_left(
    tmp_path: Path, clean_env: dict[str, str]
) -> None:
    state_dir = tmp_path / "state"
    key = {"pk": {"S": "LOCALCLOUD#restart"}, "sk": {"S": "X"}}
    value = uuid.uuid4().hex

    first = DevProcess(state_dir, clean_env)
    try:
        first.wait_ready()
        assert len(java_processes(str(state_dir))) == 1
        dynamodb(first.url("AWS endpoint")).put_item(
            TableName="runhook-local", Item={**key, "v": {"S": value}}
        )
        if "(unavailable" not in first.output:
            health = httpx.get(f"{first.url('API')}/public/v1/health", timeout=10)
            assert health.status_code == 200
    finally:
        code = first.stop(signal.SIGINT)  # Ctrl-C
    assert code == 0, first.output
    assert "runhook dev: stopped" in first.output
    wait_no_java(str(state_dir), timeout=2)

    second = DevProcess(state_dir, clean_env)
    try:
        second.wait_ready()
        item = dynamodb(second.url("AWS endpoint")).get_item(TableName="runhook-local", Key=key)
        assert item["Item"]["v"]["S"] == value
        assert "table runhook-local exists (kept)" in second.output
        if "admin API key" in first.output and "RUNHOOK_DEV_API_KEY" not in clean_env:
            assert "already has one" in second.output  # the key is not printed again
    finally:
        # A killed parent cannot clean up: Java must still go (it dies with its parent).
        second.stop(signal.SIGKILL)
    wait_no_java(str(state_dir), timeout=10)
