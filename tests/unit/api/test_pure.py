"""Pure pieces of the API: IP allowlists, page tokens, ids, timestamps."""

from __future__ import annotations

import pytest

from runhook import clock
from runhook.dal.pages import decode_token, encode_token
from runhook.errors import InvalidRequest
from runhook.models import OrganizationSettings
from runhook.services.authentication import ip_allowed
from runhook.services.ratelimit import limits


@pytest.mark.parametrize(
    ("ip", "allowlist", "allowed"),
    [
        ("203.0.113.7", [], True),
        ("203.0.113.7", ["203.0.113.0/24"], True),
        ("198.51.100.1", ["203.0.113.0/24"], False),
        ("2001:db8::1", ["2001:db8::/32"], True),
        ("2001:db9::1", ["2001:db8::/32", "203.0.113.0/24"], False),
        ("not-an-ip", ["0.0.0.0/0"], False),
    ],
)
def test_ip_allowlist(ip: str, allowlist: list[str], allowed: bool) -> None:
    assert ip_allowed(ip, allowlist) is allowed


def test_page_tokens_round_trip_and_reject_tampering() -> None:
    key = {"pk": "RUN#1", "sk": "RUN", "gsi2pk": "ORG#a", "gsi2sk": "2025#1"}
    fields = set(key)
    token = encode_token(key)
    assert decode_token(token, expected={"gsi2pk": "ORG#a"}, fields=fields) == key
    other_org = encode_token({**key, "gsi2pk": "ORG#b"})
    for bad in (other_org, "!!!", token[:-3], encode_token({"pk": "x"})):
        with pytest.raises(InvalidRequest):
            decode_token(bad, expected={"gsi2pk": "ORG#a"}, fields=fields)


def test_timestamps_and_ids() -> None:
    stamp = clock.now_iso()
    assert stamp.endswith("Z") and len(stamp) == 24 and stamp[19] == "."
    ids = [clock.sortable_id() for _ in range(2000)]
    assert ids == sorted(ids) and len(set(ids)) == 2000
    assert all(clock.is_uuid(i) for i in ids)
    assert not clock.is_uuid("abc") and not clock.is_uuid("9C77D908-7BF4-4E7F-9A20-2C5E7FDF2E94x")


def test_rate_limit_defaults() -> None:
    assert limits(OrganizationSettings()) == (20.0, 40)
    assert limits(OrganizationSettings(rateLimitPerSecond=100)) == (100.0, 200)
    assert limits(OrganizationSettings(rateLimitPerSecond=5, rateLimitBurst=5)) == (5.0, 5)
