"""The authenticator's memory of verified keys (runhook.services.credentials): pure, with a
clock the test moves."""

from __future__ import annotations

import pytest

from runhook.dal.auth import FoundKey
from runhook.models import ApiKey, Organization
from runhook.services.credentials import MAX_TTL_SECONDS, CredentialCache, Credentials


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def credentials(key_hash: str, org_id: str = "org-1") -> Credentials:
    key = ApiKey(
        id=f"key-{key_hash}",
        org_id=org_id,
        name="k",
        prefix="sk_test_abcd",
        scopes=[],
        created_at="2026-11-30T00:00:00Z",
    )
    return Credentials(FoundKey(key, key_hash), Organization(id=org_id))


def test_remembered_until_the_window_ends_then_read_again() -> None:
    clock = Clock()
    cache = CredentialCache(ttl=5, monotonic=clock)
    known = credentials("h1")
    assert cache.get("h1") is None
    cache.put(known)
    clock.now += 4.9
    assert cache.get("h1") is known
    clock.now += 0.1
    assert cache.get("h1") is None
    assert cache.size == 0  # an expired entry is dropped when found


def test_ttl_zero_remembers_nothing_and_the_ttl_is_bounded() -> None:
    off = CredentialCache(ttl=0)
    off.put(credentials("h1"))
    assert (off.enabled, off.get("h1"), off.size) == (False, None, 0)
    assert CredentialCache(ttl=10**6).ttl == MAX_TTL_SECONDS
    assert CredentialCache(ttl=-1).enabled is False


def test_the_oldest_key_goes_first_when_full() -> None:
    cache = CredentialCache(ttl=60, max_entries=2, monotonic=Clock())
    for name in ("a", "b", "c"):
        cache.put(credentials(name))
    assert (cache.get("a"), cache.size) == (None, 2)
    assert cache.get("b") is not None and cache.get("c") is not None


def test_forget_org_drops_only_that_organizations_keys() -> None:
    cache = CredentialCache(ttl=60, monotonic=Clock())
    cache.put(credentials("a", "org-1"))
    cache.put(credentials("b", "org-1"))
    cache.put(credentials("c", "org-2"))
    cache.forget_org("org-1")
    assert [cache.get(h) is not None for h in ("a", "b", "c")] == [False, False, True]


def test_refresh_replaces_the_record_but_keeps_its_window() -> None:
    clock = Clock()
    cache = CredentialCache(ttl=5, monotonic=clock)
    cache.put(credentials("a"))
    clock.now += 4
    newer = credentials("a", "org-1")
    cache.refresh(newer)
    assert cache.get("a") is newer
    clock.now += 1
    assert cache.get("a") is None, "a refresh must not extend the window"
    cache.refresh(credentials("b"))  # not remembered: nothing to refresh
    assert cache.get("b") is None


@pytest.mark.parametrize("ttl", [0.0, 5.0])
def test_an_empty_cache_is_still_a_cache(ttl: float) -> None:
    """An empty cache must not read as "no cache" (the authenticator once replaced an
    empty one with a disabled one because it had __len__)."""
    from runhook.services.authentication import Authenticator

    cache = CredentialCache(ttl=ttl)
    authenticator = Authenticator(None, None, cache)  # type: ignore[arg-type]
    assert authenticator.credentials is cache


def test_a_read_under_way_while_the_container_forgot_is_not_remembered() -> None:
    """A request reads a key while another request of the same container revokes it: the
    revocation forgets the organization, and the first request's (older) read must not be
    remembered afterwards, or the revoked key would keep working here for a whole window."""
    cache = CredentialCache(ttl=60, monotonic=Clock())
    mark = cache.reading()
    cache.forget_org("org-1")  # the revocation, between the read and its put
    cache.put(credentials("a"), since=mark)
    assert cache.get("a") is None
    cache.put(credentials("a"), since=cache.reading())  # a read begun after it is kept
    assert cache.get("a") is not None
