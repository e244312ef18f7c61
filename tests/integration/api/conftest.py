"""Fixtures for the REST API tests: real HTTP against the local cloud."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.support.orgs import Organizations

pytestmark = pytest.mark.localcloud

NOOP_TASK: dict[str, Any] = {
    "name": "Greeter",
    "inputs": {
        "type": "object",
        "properties": {
            "name": {"type": "string", "default": "world"},
            "times": {"type": "integer"},
        },
    },
    "steps": [
        {"id": "greet", "type": "log", "message": "Hello {{ inputs.name }}"},
        {"id": "pause", "type": "wait", "seconds": 30},
    ],
    "outputs": {"name": "inputs.name"},
    "timeoutSeconds": 600,
}


@pytest.fixture(scope="session")
def api_base(organizations: Organizations) -> str:
    return organizations.api_base


@pytest.fixture(scope="session")
def new_org(organizations: Organizations) -> Callable[..., str]:
    """`new_org(name)`: a new organization (the service's default limits); its admin key."""

    def make(name: str = "Test org") -> str:
        return organizations.create(name, settings=None).key

    return make


@pytest.fixture(scope="session")
def org_key(new_org: Callable[..., str], api_base: str) -> str:
    """An organization whose rate limit leaves room for the concurrency tests."""
    key = new_org("API tests")
    resp = httpx.patch(
        f"{api_base}/organization",
        headers={"Authorization": f"Bearer {key}"},
        json={"rateLimitPerSecond": 1000, "rateLimitBurst": 2000},
    )
    assert resp.status_code == 200, resp.text
    return key


@pytest.fixture()
def api(organizations: Organizations, org_key: str) -> Iterator[httpx.Client]:
    with organizations.client(org_key, timeout=30) as client:
        yield client


@pytest.fixture()
def task_id(api: httpx.Client) -> str:
    resp = api.post("/tasks", json=NOOP_TASK)
    assert resp.status_code == 201, resp.text
    return str(resp.json()["task"]["id"])
