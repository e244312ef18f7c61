"""Fixtures of the engine's end-to-end tests: an organization on the local cloud (the
`target` HTTP server for http steps to call comes from tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.engine.engine_e2e import Api
from tests.support.orgs import Organizations

pytestmark = pytest.mark.localcloud


@pytest.fixture(scope="session")
def api(organizations: Organizations) -> Iterator[Api]:
    org = organizations.create("engine")
    with organizations.client(org) as client:
        yield Api(client, organizations.cloud, org.id)
