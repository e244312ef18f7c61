"""Secrets never reach run logs."""

from __future__ import annotations

import pytest

from runhook.engine import redact


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("Authorization", "Bearer abc"),
        ("X-Api-Key", "short"),
        ("Cookie", "a=b"),
        ("X-Auth-Token", "t"),
        ("X-Custom", "Bearer eyJhbGciOiJIUzI1NiJ9.e30.abc"),
        ("X-Custom", "sk_live_4eC39HqLyjWDarjtT1zdp7dc"),
        ("X-Custom", "AKIAIOSFODNN7EXAMPLE1234"),
        ("X-Custom", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"),
    ],
)
def test_secret_headers_are_redacted(name: str, value: str) -> None:
    assert redact.headers({name: value}) == {name: redact.REDACTED}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("Accept", "application/json"),
        ("Content-Type", "application/json; charset=utf-8"),
        ("X-Request-Id", "order-48219"),
        ("User-Agent", "runhook/1.0"),
    ],
)
def test_plain_headers_stay(name: str, value: str) -> None:
    assert redact.headers({name: value}) == {name: value}


def test_url_query_secrets_are_redacted() -> None:
    url = redact.url("https://api.example.com/v1/orders?id=7&api_key=abc123&sig=zz&page=2")
    assert "abc123" not in url and "zz" not in url
    assert "id=7" in url and "page=2" in url
    assert redact.url("https://u:p@example.com/x") == "https://[redacted]@example.com/x"
