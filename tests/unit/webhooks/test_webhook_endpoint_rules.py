"""Endpoint URL rules when an endpoint is created or changed (send time re-checks)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import pytest

from runhook.errors import InvalidRequest
from runhook.services import endpoints
from runhook.settings import Settings

Validate = Callable[[str], str]


@pytest.fixture()
def deployed() -> Validate:
    """The URL rule of a deployed stage (settings.allow_private_targets off)."""
    allow = Settings(ALLOW_PRIVATE_TARGETS=False).allow_private_targets
    return partial(endpoints.validate_url, allow_private=allow)


@pytest.fixture()
def local() -> Validate:
    """The local cloud's URL rule (it allows private targets)."""
    allow = Settings(ALLOW_PRIVATE_TARGETS=True).allow_private_targets
    return partial(endpoints.validate_url, allow_private=allow)


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("http://example.com/hook", "url_must_be_https"),
        ("https://127.0.0.1/hook", "url_not_allowed"),
        ("https://10.0.0.1/hook", "url_not_allowed"),
        ("https://169.254.169.254/latest/meta-data", "url_not_allowed"),
        ("https://[::1]/hook", "url_not_allowed"),
        ("https://[fd00::1]/hook", "url_not_allowed"),
        ("https://localhost/hook", "url_not_allowed"),
        ("ftp://example.com/x", "invalid_url"),
        ("https://user:pw@example.com/x", "invalid_url"),
        ("https://", "invalid_url"),
        ("https://example.com:99999/", "invalid_url"),
        ("https://example.com/" + "a" * 3000, "invalid_url"),
    ],
)
def test_deployed_refuses(deployed: Validate, url: str, code: str) -> None:
    with pytest.raises(InvalidRequest) as err:
        deployed(url)
    assert err.value.code == code


def test_deployed_accepts_public_https(deployed: Validate) -> None:
    assert deployed(" https://hooks.example.com/runhook ") == ("https://hooks.example.com/runhook")
    assert deployed("https://93.184.216.34:8443/x")


def test_local_cloud_allows_loopback(local: Validate) -> None:
    assert local("http://127.0.0.1:8787/")
    assert local("http://localhost:8787/")


def test_events_validation() -> None:
    assert endpoints.validate_events(None) is None
    assert endpoints.validate_events([]) is None
    assert endpoints.validate_events(["task-run.succeeded"]) == ["task-run.succeeded"]
    with pytest.raises(InvalidRequest) as err:
        endpoints.validate_events(["task-run.started", "run.done"])
    assert err.value.code == "invalid_events" and "run.done" in str(err.value.extra["errors"])
