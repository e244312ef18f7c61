"""Fixtures of the webhook tests: receivers and a fresh organization on the local cloud."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.webhooks.webhook_helpers import Behaviour, Org, Receiver

pytestmark = pytest.mark.localcloud


@pytest.fixture()
def receivers() -> Iterator[Callable[..., Receiver]]:
    """`receivers(behave=None, port=0)` makes a receiver, stopped after the test."""
    made: list[Receiver] = []

    def make(behave: Behaviour | None = None, port: int = 0) -> Receiver:
        receiver = Receiver(behave, port)
        made.append(receiver)
        return receiver

    yield make
    for receiver in made:
        receiver.stop()


@pytest.fixture()
def org(local_cloud: Any, container: Any) -> Iterator[Org]:
    """A fresh organization with an admin key (generous rate limits)."""
    from runhook_dev.admin import bootstrap_organization

    org_id, key = bootstrap_organization(
        f"webhooks {uuid.uuid4().hex[:6]}",
        live=False,
        settings={"rateLimitPerSecond": 5000, "rateLimitBurst": 10000},
        container=container,
    )
    assert key
    with httpx.Client(
        base_url=f"{local_cloud.api_url}/public/v1",
        headers={"Authorization": f"Bearer {key}"},
        timeout=60,
    ) as client:
        yield Org(org_id, key, client, container.bus)
