"""Fixtures for the REST API tests: real HTTP against the local cloud."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

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
def api_base(local_cloud: Any) -> str:
    return f"{local_cloud.api_url}/public/v1"


@pytest.fixture(scope="session")
def new_org(local_cloud: Any) -> Callable[..., str]:
    """Create an organization with an admin key (in-process, like `runhook admin bootstrap`)."""
    from runhook_dev.admin import bootstrap_organization

    def make(name: str = "Test org") -> str:
        _, secret = bootstrap_organization(f"{name} {uuid.uuid4().hex[:6]}", live=False)
        assert secret
        return secret

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


def client_for(api_base: str, key: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.Client(base_url=api_base, headers=headers, timeout=30)


@pytest.fixture()
def api(api_base: str, org_key: str) -> Iterator[httpx.Client]:
    with client_for(api_base, org_key) as client:
        yield client


@pytest.fixture()
def task_id(api: httpx.Client) -> str:
    resp = api.post("/tasks", json=NOOP_TASK)
    assert resp.status_code == 201, resp.text
    return str(resp.json()["task"]["id"])
