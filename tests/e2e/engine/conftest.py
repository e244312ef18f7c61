"""Fixtures of the engine's end-to-end tests: an organization on the local cloud and a
real HTTP server for http steps to call."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.engine.engine_e2e import Api
from tests.unit.engine.engine_support import Target

pytestmark = pytest.mark.localcloud


@pytest.fixture(scope="session")
def api(local_cloud: Any) -> Iterator[Api]:
    from runhook_dev.admin import bootstrap_organization

    org_id, key = bootstrap_organization(
        f"engine {uuid.uuid4().hex[:6]}",
        live=False,
        settings={"rateLimitPerSecond": 5000, "rateLimitBurst": 10000},
    )
    assert key
    with httpx.Client(
        base_url=f"{local_cloud.api_url}/public/v1",
        headers={"Authorization": f"Bearer {key}"},
        timeout=60,
    ) as client:
        yield Api(client, local_cloud, org_id)


@pytest.fixture()
def target() -> Iterator[Target]:
    server = Target()
    yield server
    server.stop()
