"""No stored setting can brick an organization (issue 12 §3).

A fuzzer once PATCHed `rateLimitPerSecond: 5e-324`: it was accepted, and from then on every
request of the organization, the PATCH that would undo it included, answered 500 (an
OverflowError in the rate limiter). Bad values are now refused with a 400 that changes
nothing, and values already in the table (written before the bounds, or by hand) are read
through the same bounds, so the organization keeps working and can PATCH them back.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from runhook import keys

pytestmark = pytest.mark.localcloud


def _client(api_base: str, key: str) -> httpx.Client:
    return httpx.Client(base_url=api_base, headers={"Authorization": f"Bearer {key}"}, timeout=30)


def test_the_brick_case_is_refused_and_the_org_keeps_working(
    api_base: str, new_org: Callable[..., str]
) -> None:
    with _client(api_base, new_org("Brick")) as c:
        before = c.get("/organization").json()["organization"]
        refused = c.patch(
            "/organization", json={"rateLimitPerSecond": 5e-324, "monthlyRunQuota": 7}
        )
        assert refused.status_code == 400, refused.text
        body = refused.json()
        assert body["detail"] == "invalid_body"
        assert [e["path"] for e in body["errors"]] == ["rateLimitPerSecond"]
        # Nothing changed (not even the valid field of the same PATCH), and the org works.
        after = c.get("/organization")
        assert after.status_code == 200, after.text
        assert after.json()["organization"]["rateLimit"] == before["rateLimit"]
        assert after.json()["organization"]["usage"]["limit"] == before["usage"]["limit"]
        assert c.get("/task-runs").status_code == 200
        ok = c.patch("/organization", json={"rateLimitPerSecond": 0.5, "rateLimitBurst": 20})
        assert ok.status_code == 200, ok.text
        assert ok.json()["organization"]["rateLimit"] == {"perSecond": 0.5, "burst": 20}


@pytest.mark.parametrize(
    "change",
    [
        {"rateLimitPerSecond": 0},
        {"rateLimitPerSecond": -1},
        {"rateLimitPerSecond": 0.05},
        {"rateLimitPerSecond": 1e6},
        {"rateLimitPerSecond": 1e308},
        {"rateLimitPerSecond": True},
        {"rateLimitBurst": 0},
        {"rateLimitBurst": 10**7},
        {"rateLimitBurst": 2.5},
        {"rateLimitBurst": 2**70},
        {"monthlyRunQuota": -1},
        {"monthlyRunQuota": 10**12},
        {"monthlyRunQuota": 1.5},
        {"ipAllowlist": ["127.0.0.1/32"] * 101},
        {"ipAllowlist": ["127.0.0.1/32" + " " * 100]},
    ],
)
def test_out_of_range_settings_are_400_and_change_nothing(
    api: httpx.Client, change: dict[str, Any]
) -> None:
    before = api.get("/organization").json()["organization"]
    resp = api.patch("/organization", json=change)
    assert resp.status_code == 400, resp.text
    assert resp.json()["detail"] == "invalid_body"
    after = api.get("/organization").json()["organization"]
    assert {k: after[k] for k in ("ipAllowlist", "rateLimit")} == {
        k: before[k] for k in ("ipAllowlist", "rateLimit")
    }
    assert after["usage"]["limit"] == before["usage"]["limit"]


@pytest.mark.parametrize("raw", [b'{"rateLimitPerSecond": NaN}', b'{"rateLimitBurst": 1e999}'])
def test_non_finite_numbers_are_400(api: httpx.Client, raw: bytes) -> None:
    resp = api.patch("/organization", content=raw, headers={"content-type": "application/json"})
    assert (resp.status_code, resp.json()["detail"]) == (400, "invalid_body")


def test_the_bounds_are_in_the_openapi_document(api_base: str) -> None:
    spec = httpx.get(f"{api_base}/openapi.json").json()
    body = spec["components"]["schemas"]["PatchOrganizationBody"]["properties"]

    def bounds(prop: dict[str, Any]) -> dict[str, Any]:
        (schema,) = [s for s in prop.get("anyOf", [prop]) if s.get("type") != "null"]
        return {k: v for k, v in schema.items() if k in {"minimum", "maximum", "maxItems"}}

    assert bounds(body["rateLimitPerSecond"]) == {"minimum": 0.1, "maximum": 10_000}
    assert bounds(body["rateLimitBurst"]) == {"minimum": 1, "maximum": 100_000}
    assert bounds(body["monthlyRunQuota"]) == {"minimum": 0, "maximum": 1_000_000_000}
    assert bounds(body["ipAllowlist"]) == {"maxItems": 100}
    task = spec["components"]["schemas"]["TaskDefinition"]["properties"]
    assert (task["timeoutSeconds"]["minimum"], task["timeoutSeconds"]["maximum"]) == (1, 31_536_000)
    retry = spec["components"]["schemas"]["Retry"]["properties"]
    assert retry["maxAttempts"]["maximum"] == 10
    assert retry["backoffSeconds"]["maximum"] == 300


# -- values already in the table ---------------------------------------------------------

STORED_BAD: list[Any] = [
    {"S": json.dumps({"rateLimitPerSecond": 5e-324})},  # the brick, written before the bounds
    {"S": '{"rateLimitPerSecond": NaN, "rateLimitBurst": Infinity}'},
    {"S": json.dumps({"rateLimitPerSecond": "fast", "rateLimitBurst": [1], "monthlyRunQuota": {}})},
    {"S": json.dumps({"rateLimitPerSecond": 1e300, "rateLimitBurst": 1e300})},
    # Clamped to the slowest rate (0.1/s) with the default burst (40): a few requests pass.
    {"S": json.dumps({"rateLimitPerSecond": 0, "monthlyRunQuota": -4})},
    {"S": json.dumps({"rateLimitBurst": True, "monthlyRunQuota": 10**40})},
    {"S": json.dumps({"ipAllowlist": ["127.0.0.0/8", "not a cidr", 7]})},
    {"S": json.dumps({"ipAllowlist": "127.0.0.0/8"})},
    {"S": "{not json"},
    {"S": json.dumps([1, 2, 3])},
    {"N": "5"},
    # An older item stored the settings as a native map (numbers as Decimals).
    {"M": {"rateLimitPerSecond": {"N": "1E-130"}, "rateLimitBurst": {"N": "9E+125"}}},
]


def _write_settings(container: Any, org_id: str, value: dict[str, Any]) -> None:
    """Write the organization's `settings` attribute as raw DynamoDB, bypassing every check."""
    container.table.client.update_item(
        TableName=container.table.name,
        Key={"pk": {"S": keys.org_pk(org_id)}, "sk": {"S": keys.ORG_SK}},
        UpdateExpression="SET settings = :s",
        ExpressionAttributeValues={":s": value},
    )


@pytest.mark.parametrize("stored", STORED_BAD, ids=lambda v: json.dumps(v)[:60])
def test_a_bad_value_in_the_table_does_not_brick_the_org(
    organizations: Any, container: Any, stored: dict[str, Any]
) -> None:
    org = organizations.create("Stored", settings=None)
    _write_settings(container, org.id, stored)
    with organizations.client(org) as c:
        for _ in range(3):  # the rate-limit window is computed on every request
            listed = c.get("/task-runs")
            assert listed.status_code == 200, listed.text
        described = c.get("/organization")
        assert described.status_code == 200, described.text
        organization = described.json()["organization"]
        rate = organization["rateLimit"]
        assert rate["perSecond"] is None or 0.1 <= rate["perSecond"] <= 10_000
        assert rate["burst"] is None or 1 <= rate["burst"] <= 100_000
        assert 0 <= organization["usage"]["limit"] <= 1_000_000_000
        fixed = c.patch("/organization", json={"rateLimitPerSecond": 50, "rateLimitBurst": 100})
        assert fixed.status_code == 200, fixed.text
        assert fixed.json()["organization"]["rateLimit"] == {"perSecond": 50, "burst": 100}
        assert c.get("/task-runs").status_code == 200
    # The PATCH wrote the settings back whole: what is stored now is within the bounds.
    stored_now = container.auth.get_org(org.id).settings
    assert stored_now.rateLimitPerSecond == 50 and stored_now.rateLimitBurst == 100


def test_a_stored_allowlist_without_a_valid_entry_fails_closed(
    organizations: Any, container: Any
) -> None:
    """An access control that cannot be read refuses (403), it does not open up or 500."""
    org = organizations.create("Closed", settings=None)
    _write_settings(container, org.id, {"S": json.dumps({"ipAllowlist": ["nonsense", 5]})})
    with organizations.client(org) as c:
        resp = c.get("/task-runs")
        assert (resp.status_code, resp.json()["detail"]) == (403, "ip_not_allowed")


def test_a_stored_tiny_rate_is_clamped_not_ignored(organizations: Any, container: Any) -> None:
    """An out-of-range number is clamped to its bound (the owner meant "slow"), so a rate of
    1e-9/s acts as the slowest allowed rate: a burst of 2 then 429."""
    org = organizations.create("Slow", settings=None)
    stored = {"S": json.dumps({"rateLimitPerSecond": 1e-9, "rateLimitBurst": 2})}
    _write_settings(container, org.id, stored)
    with organizations.client(org) as c:
        statuses = [c.get("/task-runs").status_code for _ in range(4)]
        assert statuses[:2] == [200, 200] and 429 in statuses[2:], statuses
        described = c.get("/organization")
        assert described.status_code == 429  # still limited; but never a 500
