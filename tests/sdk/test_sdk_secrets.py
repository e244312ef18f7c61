"""The SDK's secrets operations on the local cloud, sync and async: put, list, delete,
forgetting a browser session; the value never comes back."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from runhook_client import AsyncRunhook, NotFound, Runhook, Secret
from runhook_client.errors import InvalidRequest
from tests.support.orgs import Organizations

pytestmark = pytest.mark.localcloud


def test_the_sync_client_puts_lists_and_deletes_secrets(
    organizations: Organizations, local_cloud: Any
) -> None:
    org = organizations.create("sdk secrets")
    value = f"v-{uuid.uuid4().hex}"
    with Runhook(org.key, base_url=local_cloud.api_url) as client:
        made = client.secrets.put("SHOP_PASSWORD", value, description="shop")
        assert isinstance(made, Secret) and made.name == "SHOP_PASSWORD"
        assert made.description == "shop" and made.created_at is not None
        assert value not in made.model_dump_json()
        assert [s.name for s in client.secrets.list()] == ["SHOP_PASSWORD"]
        with pytest.raises(InvalidRequest) as bad:
            client.secrets.put("lower", value)
        assert bad.value.detail == "invalid_secret_name"
        client.secrets.delete("SHOP_PASSWORD")
        assert client.secrets.list() == []
        with pytest.raises(NotFound):
            client.secrets.delete("SHOP_PASSWORD")
        with pytest.raises(NotFound) as gone:
            client.secrets.forget_browser_session("shop-login")
        assert gone.value.detail == "browser_session_not_found"


def test_the_async_client_does_the_same(organizations: Organizations, local_cloud: Any) -> None:
    org = organizations.create("sdk secrets async")

    async def flow() -> list[str]:
        async with AsyncRunhook(org.key, base_url=local_cloud.api_url) as client:
            await client.secrets.put("API_TOKEN", "token-123456")
            names = [s.name for s in await client.secrets.list()]
            await client.secrets.delete("API_TOKEN")
            assert await client.secrets.list() == []
            return names

    assert asyncio.run(flow()) == ["API_TOKEN"]


def test_a_run_error_names_its_artifacts_when_it_has_any() -> None:
    from runhook_client import RunError

    failed = RunError.model_validate(
        {"code": "browser_timeout", "message": "m", "nodeId": "b", "artifacts": ["b-failure.png"]}
    )
    assert failed.artifacts == ["b-failure.png"]
    assert RunError.model_validate({"code": "http_error", "message": "m"}).artifacts == []
