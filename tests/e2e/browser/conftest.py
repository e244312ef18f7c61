"""Fixtures of the browser steps' end-to-end tests: an organization on the local cloud
(the local web site `site` and Debian's Chromium `chromium` come from tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.engine.engine_e2e import Api
from tests.support.browser import wait_no_chromium
from tests.support.orgs import Organizations

pytestmark = pytest.mark.localcloud


@pytest.fixture(scope="session")
def browser_api(organizations: Organizations, chromium: str) -> Iterator[Api]:
    org = organizations.create("browser")
    with organizations.client(org) as client:
        yield Api(client, organizations.cloud, org.id)
    left = wait_no_chromium()
    assert not left, f"Chromium processes left after the browser tests: {sorted(left)}"
