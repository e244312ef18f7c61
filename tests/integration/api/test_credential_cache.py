"""Verified keys remembered for a few seconds (issue 16), against DynamoDB Local.

Two Containers on one table stand for two API containers: `here` authenticates (its cache
on a clock the test moves) and makes changes through its own services; `elsewhere` makes
changes the way another container would, which `here` only learns of when its window ends.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from runhook.bootstrap import Container
from runhook.dal.auth import generate_key
from runhook.errors import Forbidden, Unauthorized
from runhook.models import OrganizationSettings, Principal
from runhook.services.authentication import Authenticator
from runhook.services.credentials import CredentialCache
from runhook.services.organization import OrganizationService
from runhook.services.ratelimit import RateLimiter

IP = "127.0.0.1"
TTL = 5.0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Counted:
    """Counts the calls of one repository method (the real one still answers)."""

    def __init__(self, target: Any, name: str) -> None:
        self.calls = 0
        real = getattr(target, name)

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            return real(*args, **kwargs)

        setattr(target, name, counted)


@pytest.fixture()
def here(local_cloud: Any) -> tuple[Container, Authenticator, OrganizationService, Clock]:
    container = Container.from_environment(local_cloud.environment)
    clock = Clock()
    cache = CredentialCache(ttl=TTL, monotonic=clock)
    authenticator = Authenticator(container.auth, RateLimiter(container.limits), cache)
    service = OrganizationService(container.auth, container.quota, cache)
    return container, authenticator, service, clock


@pytest.fixture()
def elsewhere(local_cloud: Any) -> Container:
    return Container.from_environment(local_cloud.environment)


@pytest.fixture()
def org(organizations: Any) -> Any:
    return organizations.create("Cache")


def _admin(authenticator: Authenticator, secret: str) -> Principal:
    return authenticator.authenticate(secret, IP)


def test_a_remembered_key_is_not_read_again_within_its_window(here: Any, org: Any) -> None:
    container, authenticator, _, clock = here
    lookups, org_reads = Counted(container.auth, "lookup_key"), Counted(container.auth, "get_org")
    touches = Counted(container.auth, "touch_key")
    for _ in range(5):
        assert _admin(authenticator, org.key).org_id == org.id
    assert (lookups.calls, org_reads.calls) == (1, 1)
    # lastUsedAt was written once, and the remembered key knows it: no touch per request.
    assert touches.calls == 1
    clock.now += TTL
    _admin(authenticator, org.key)
    assert (lookups.calls, org_reads.calls, touches.calls) == (2, 2, 1)


def test_a_revocation_elsewhere_applies_when_the_window_ends(
    here: Any, elsewhere: Container, org: Any
) -> None:
    container, authenticator, _, clock = here
    key, secret = elsewhere.auth.create_key(org.id, "short-lived", ["runs"])
    assert _admin(authenticator, secret).key_id == key.id
    assert elsewhere.auth.revoke_key(org.id, key.id)
    clock.now += TTL - 0.5
    assert _admin(authenticator, secret).key_id == key.id, "remembered for up to the window"
    clock.now += 0.5
    with pytest.raises(Unauthorized):
        _admin(authenticator, secret)


def test_a_revocation_here_applies_at_once(here: Any, org: Any) -> None:
    container, authenticator, service, _ = here
    key, secret = container.auth.create_key(org.id, "revoked here", ["runs"])
    caller = _admin(authenticator, org.key)
    assert _admin(authenticator, secret).key_id == key.id
    service.revoke_key(caller, key.id)
    with pytest.raises(Unauthorized):
        _admin(authenticator, secret)


def test_a_settings_change_here_applies_at_once(here: Any, org: Any) -> None:
    _, authenticator, service, _ = here
    caller = _admin(authenticator, org.key)
    closed = OrganizationSettings(ipAllowlist=["2001:db8::/32"])
    service.update(caller, closed, IP, force=True)
    with pytest.raises(Forbidden):
        _admin(authenticator, org.key)


def test_an_unknown_key_is_not_remembered(
    here: Any, elsewhere: Container, org: Any, new_secret: Callable[[], str]
) -> None:
    """A key created on another container works here at once, even right after a miss."""
    _, authenticator, _, _ = here
    secret = new_secret()
    with pytest.raises(Unauthorized):
        _admin(authenticator, secret)
    key, _ = elsewhere.auth.create_key(org.id, "new", ["runs"], secret=secret, live=False)
    assert _admin(authenticator, secret).key_id == key.id


@pytest.fixture()
def new_secret() -> Callable[[], str]:
    return lambda: generate_key(live=False)
