"""boto3 pointed at the local cloud's AWS endpoint, without touching os.environ.

`LocalSession` is a boto3 session whose clients (and resources) default to the
endpoint: what a handler's Container gets, and what tests and tools should use
(`cloud.session()`, `cloud.client("sqs")`). `AwsClients` hands out the shared clients
of the cloud's own threads and of the test process.
"""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.config import Config

from runhook_dev.devcloud.cfn import REGION

_ENDPOINT_URL_POSITION = 5  # Session.client(service, region, api_version, use_ssl, verify, url)


class LocalSession(boto3.session.Session):
    """A boto3 session (region us-east-1, test credentials) aimed at `endpoint_url`."""

    def __init__(self, endpoint_url: str) -> None:
        # The emulators accept any key; real credentials from the shell are never sent.
        super().__init__(
            aws_access_key_id="test",
            aws_secret_access_key="test",  # noqa: S106
            region_name=REGION,
        )
        self.endpoint_url = endpoint_url

    def client(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        """`Session.client`, with `endpoint_url` defaulting to the local endpoint."""
        given = len(args) > _ENDPOINT_URL_POSITION or kwargs.get("endpoint_url") is not None
        if not given and self.endpoint_url:
            kwargs["endpoint_url"] = self.endpoint_url
        return super().client(*args, **kwargs)


class AwsClients:
    """Shared, thread-safe boto3 clients for the endpoint (one session, one model cache)."""

    def __init__(self, endpoint_url: str) -> None:
        self.endpoint_url = endpoint_url
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._session: LocalSession | None = None

    def session(self) -> LocalSession:
        """A new session of its own (boto3 sessions are not thread-safe)."""
        return LocalSession(self.endpoint_url)

    def client(self, service: str) -> Any:
        """The shared client for `service`."""
        with self._lock:
            existing = self._clients.get(service)
            if existing is None:
                existing = self._make(service)
                self._clients[service] = existing
            return existing

    def new_client(self, service: str) -> Any:
        """A client of its own (pollers hold one each: a long poll blocks its connection)."""
        with self._lock:
            return self._make(service)

    def _make(self, service: str) -> Any:
        # One session for all clients: its loader caches the service models (a session
        # per client costs ~0.5 s of CPU each). Callers hold _lock: sessions are not
        # thread-safe.
        if self._session is None:
            self._session = self.session()
        return self._session.client(
            service,  # type: ignore[call-overload]
            config=Config(
                retries={"max_attempts": 2, "mode": "standard"},
                read_timeout=65,
                max_pool_connections=20,
            ),
        )
