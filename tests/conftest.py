"""Shared fixtures: the local cloud (booted once per test process) and AWS clients for it.

- `local_cloud` — a `runhook_dev.devcloud.LocalCloud`: DynamoDB Local in memory, moto,
  the template deployed, the pollers running and the API served on a free port. One
  per test process (each pytest-xdist worker boots its own, on its own free ports).
  Webhook retries are compressed (WEBHOOK_RETRY_SCHEDULE=1,1,1,1,1,1,1).
  Its environment (AWS_ENDPOINT_URL, TABLE_NAME, ...) is applied to os.environ for
  the whole session, so in-process code (runhook.aws clients, repositories) talks to it.
- `container` — runhook's Container for the local cloud (repositories, bus, queues), for
  tests that set up or inspect state in-process.
- `aws` — boto3 clients and a session pointed at the local cloud's AWS endpoint
  (`runhook_dev.devcloud.testing.LocalAws`: `aws.sqs`, `aws.sfn`, `aws.client("logs")`, ...).
- `clean_env` — os.environ as it was before any local cloud (for subprocesses).
- `organizations` — makes organizations with an admin key and REST clients for them
  (`tests.support.orgs.Organizations`).
- `target` — a real HTTP server on loopback for http steps (`tests.support.loopback.Target`).
- `chromium` / `site` — Debian's Chromium (skipped with the reason when missing) and the
  browser tests' local web site (tests/browser_site).

The helpers behind these fixtures live in `tests/support/` (one copy for every suite).

Tests that need the cloud use the `local_cloud` fixture (and get the `localcloud`
marker automatically): `pytest -m "not localcloud"` runs everything else.

In a run with pytest-xdist workers (`make test`), each worker sorts its collection longest
first (`tests.support.scheduling`): the units of minutes, then tests marked `slow`, then the
rest, so no long unit is handed out last.

Do not use moto's `mock_aws` in a process that runs the local cloud: it resets every
moto backend of the process, which wipes the local cloud's queues and state machines.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from runhook_dev.devcloud import printguard
from tests.support.browser import require_chromium
from tests.support.loopback import Target
from tests.support.orgs import Organizations
from tests.support.scheduling import longest_first

# The environment before any local cloud changed it (for subprocesses of the tests).
_ORIGINAL_ENV = dict(os.environ)

# Extra environment for the handlers of the test cloud (applied before the deploy).
LOCAL_CLOUD_ENV: dict[str, str] = {
    "WEBHOOK_RETRY_SCHEDULE": "1,1,1,1,1,1,1",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    marker = pytest.mark.localcloud
    for item in items:
        if "local_cloud" in getattr(item, "fixturenames", ()):
            item.add_marker(marker)
    longest_first(items)  # workers of `make test`: the longest units first (scheduling.py)


@pytest.fixture(scope="session")
def local_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The whole service, in memory, on free ports; stopped at the end of the session."""
    from runhook_dev.devcloud import LocalCloud

    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    cloud = LocalCloud(
        in_memory=True,
        api_port=0,
        aws_port=0,
        state_dir=tmp_path_factory.mktemp(f"localcloud-{worker}"),
        env_overrides=LOCAL_CLOUD_ENV,
        # Tests that sweep invoke the sweeper themselves: a scheduled round in the middle of
        # the session would continue the runs integration tests drive without an execution.
        # The deployed default (only what an endpoint routes goes on the bus), which
        # `runhook dev` relaxes to "all" for its terminal: the suite tests what AWS runs.
        parameters={"SweepSchedule": "rate(1 day)", "RunEventsOnBus": "subscribed"},
        install_signal_handlers=True,
    )
    cloud.start()
    try:
        yield cloud
    finally:
        cloud.stop()


@pytest.fixture(scope="session")
def container(local_cloud: Any) -> Any:
    """runhook's Container (runhook.bootstrap) for the local cloud's table, queues and bus."""
    from runhook.bootstrap import Container

    return Container.from_environment(local_cloud.environment)


@pytest.fixture()
def clean_env() -> dict[str, str]:
    """The environment the test process started with (no local cloud variables in it)."""
    return dict(_ORIGINAL_ENV)


@pytest.fixture(scope="session")
def aws(local_cloud: Any) -> Any:
    """boto3 clients for the local cloud (`runhook_dev.devcloud.testing.LocalAws`)."""
    from runhook_dev.devcloud.testing import LocalAws

    return LocalAws(local_cloud)


@pytest.fixture(scope="session")
def organizations(local_cloud: Any, container: Any) -> Organizations:
    """Organizations with an admin key on the local cloud, and REST clients for them."""
    return Organizations(local_cloud, container)


@pytest.fixture()
def target() -> Iterator[Target]:
    """A real HTTP server on loopback for http steps, stopped after the test."""
    server = Target()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def chromium() -> str:
    return require_chromium()


@pytest.fixture(scope="module")
def site() -> Iterator[Any]:
    """The browser tests' local web site (tests/browser_site) on a free loopback port."""
    from tests.browser_site.server import SiteServer

    server = SiteServer().start()
    try:
        yield server
    finally:
        server.stop()


def pytest_configure(config: pytest.Config) -> None:
    """Handlers run on threads here (the local cloud, threaded tests) and Powertools prints
    their EMF lines while pytest swaps sys.stdout at every capture boundary: on CPython 3.11
    that can segfault the worker (see runhook_dev/devcloud/printguard.py)."""
    printguard.install()
