"""`runhook smoke` against the local cloud: what an operator runs after a deploy
(docs/operations.md). It must pass on a healthy stack, with and without a receiver, leave
nothing behind, and exit non-zero when a check fails."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from runhook_client import Runhook
from tests.e2e.webhooks.webhook_helpers import Receiver
from tests.support.loopback import Answer
from tests.support.orgs import Organization, Organizations

pytestmark = pytest.mark.localcloud


def smoke(api_url: str, key: str, *args: str) -> subprocess.CompletedProcess[str]:
    """In a subprocess, as an operator runs it (the local cloud's threads log to ours)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNHOOK_API")}
    return subprocess.run(
        [sys.executable, "-m", "runhook_dev.cli", "smoke", "--url", api_url, "--key", key, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture()
def org(organizations: Organizations) -> Organization:
    return organizations.create("smoke")


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    made = Receiver()
    yield made
    made.stop()


def _leftovers(api_url: str, key: str) -> tuple[list[Any], list[Any]]:
    with Runhook(key, base_url=api_url) as sdk:
        return list(sdk.tasks.list()), sdk.webhooks.endpoints.list()


def test_smoke_passes_without_a_receiver_and_cleans_up(local_cloud: Any, org: Organization) -> None:
    done = smoke(local_cloud.api_url, org.key, "--timeout", "60")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok     the run completes" in done.stdout
    assert "recorded" in done.stdout  # the delivery record, without a receiver
    assert _leftovers(local_cloud.api_url, org.key) == ([], [])


def test_smoke_delivers_to_a_given_receiver(
    local_cloud: Any, org: Organization, receiver: Receiver
) -> None:
    done = smoke(local_cloud.api_url, org.key, "--receiver-url", receiver.url, "--timeout", "60")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "answered 200" in done.stdout
    assert [r.event for r in receiver.received()] == ["task-run.completed"]
    assert _leftovers(local_cloud.api_url, org.key) == ([], [])


def test_smoke_fails_when_the_delivery_fails_and_still_cleans_up(
    local_cloud: Any, org: Organization, receiver: Receiver
) -> None:
    receiver.behave = lambda _receiver, _request: Answer(status=410)  # "gone": failed for good
    done = smoke(local_cloud.api_url, org.key, "--receiver-url", receiver.url, "--timeout", "60")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAILED its webhook delivery" in done.stdout
    assert "smoke test FAILED" in done.stderr
    assert _leftovers(local_cloud.api_url, org.key) == ([], [])


def test_smoke_fails_on_a_rejected_key(local_cloud: Any) -> None:
    done = smoke(local_cloud.api_url, "sk_test_not_a_key", "--timeout", "5")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAILED the API accepts the key" in done.stdout
