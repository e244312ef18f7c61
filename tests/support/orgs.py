"""Organizations on the local cloud, each with an admin key, and REST clients for them.

Every suite that talks to the API needs "an organization + a client": it is made here
once. Organizations are created in-process, like `runhook admin bootstrap` does, with a
unique name; keys are test keys (`sk_test_...`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

# Rate limits that let load and concurrency tests measure the service, not the limiter.
GENEROUS_LIMITS: Mapping[str, object] = {"rateLimitPerSecond": 5000, "rateLimitBurst": 10000}


@dataclass(frozen=True)
class Organization:
    id: str
    key: str  # the admin key's secret


def api_client(base_url: str, key: str | None = None, *, timeout: float = 60.0) -> httpx.Client:
    """An httpx client for `base_url` (…/public/v1) sending `key` as a bearer token."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.Client(base_url=base_url, headers=headers, timeout=timeout)


class Organizations:
    """Makes organizations on one local cloud (the `organizations` fixture)."""

    def __init__(self, cloud: Any, container: Any) -> None:
        self.cloud = cloud
        self.container = container  # runhook.bootstrap.Container of the local cloud

    @property
    def api_base(self) -> str:
        return f"{self.cloud.api_url}/public/v1"

    def create(
        self, label: str, *, settings: Mapping[str, object] | None = GENEROUS_LIMITS
    ) -> Organization:
        """A new organization named `label` plus a random suffix, with an admin key.

        `settings` are the organization's stored settings (None: the service's defaults).
        """
        from runhook_dev.admin import bootstrap_organization

        org_id, key = bootstrap_organization(
            f"{label} {uuid.uuid4().hex[:6]}",
            live=False,
            settings=dict(settings) if settings is not None else None,
            container=self.container,
        )
        assert key, "a new organization gets an admin key"
        return Organization(org_id, key)

    @contextmanager
    def client(
        self, org: Organization | str | None, *, timeout: float = 60.0
    ) -> Iterator[httpx.Client]:
        """A REST client for the organization (or a raw key; None: no key), closed on exit."""
        key = org.key if isinstance(org, Organization) else org
        with api_client(self.api_base, key, timeout=timeout) as client:
            yield client
