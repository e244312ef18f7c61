"""Fixtures of the webhook tests: receivers and a fresh organization on the local cloud."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.e2e.webhooks.webhook_helpers import Behaviour, Org, Receiver
from tests.support.orgs import Organizations

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
def org(organizations: Organizations, container: Any) -> Iterator[Org]:
    """A fresh organization with an admin key (generous rate limits)."""
    made = organizations.create("webhooks")
    with organizations.client(made) as client:
        yield Org(made.id, made.key, client, container.bus)
