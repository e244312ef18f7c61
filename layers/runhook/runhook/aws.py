"""boto3 clients made lazily, and the one translation of AWS failures into domain errors.

Every adapter (the table gateway, Step Functions, EventBridge, SQS, S3) follows the
Powertools constructor convention: it takes a ready `boto3_client`, or a `boto3_session`
and/or a `boto_config` to make one from, and makes its client on first use, so nothing
here runs at import time and a container pays only for the clients it uses.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypedDict

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from runhook.errors import ServiceUnavailable

# Lambda-friendly: fail fast on a dead connection, a pool big enough for the sender's threads.
DEFAULT_CONFIG = Config(
    retries={"max_attempts": 3, "mode": "standard"},
    connect_timeout=3,
    read_timeout=10,
    max_pool_connections=50,
)


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def unavailable(service: str, exc: ClientError | BotoCoreError) -> ServiceUnavailable:
    """The domain error for a failed AWS call (a 503 with Retry-After at the API)."""
    detail = (error_code(exc) or str(exc)) if isinstance(exc, ClientError) else str(exc)
    return ServiceUnavailable(message=f"{service}: {detail}")


@contextmanager
def translate_errors(service: str, *, only: frozenset[str] | None = None) -> Iterator[None]:
    """Turn AWS failures into `ServiceUnavailable` (503 with Retry-After) at the boundary.

    `only`: translate just these error codes (the transient ones) and let every other
    `ClientError` through, for callers that branch on codes such as a failed condition.
    Connection errors and timeouts (`BotoCoreError`) are always unavailability.
    """
    try:
        yield
    except ClientError as exc:
        if only is not None and error_code(exc) not in only:
            raise
        raise unavailable(service, exc) from exc
    except BotoCoreError as exc:
        raise unavailable(service, exc) from exc


class ClientOptions(TypedDict, total=False):
    """How an adapter gets its boto3 client (each adapter's `**client` keywords)."""

    boto3_client: Any  # use this client as is
    boto3_session: boto3.session.Session  # else make one from this session
    boto_config: Config  # ... with this configuration (default DEFAULT_CONFIG)
    endpoint_url: str  # ... at this endpoint (default: AWS_ENDPOINT_URL, or AWS)
    client_factory: Callable[[], Any]  # or: call this on first use (a composition root's)


class LazyClient:
    """One boto3 client for `service`, made on first use (thread-safe).

    Given `boto3_client`, that client is used as is; otherwise one is made from
    `boto3_session` (default: a new session, which reads the environment) with
    `boto_config` (default: DEFAULT_CONFIG) and `endpoint_url` (default: the
    environment's AWS_ENDPOINT_URL, if any).
    """

    def __init__(
        self,
        service: str,
        *,
        boto3_client: Any | None = None,
        boto3_session: boto3.session.Session | None = None,
        boto_config: Config | None = None,
        endpoint_url: str | None = None,
        client_factory: Callable[[], Any] | None = None,
    ) -> None:
        self.service = service
        self._client = boto3_client
        self._factory = client_factory
        self._session = boto3_session
        self._config = boto_config
        self._endpoint_url = endpoint_url
        self._lock = threading.Lock()

    def get(self) -> Any:
        client = self._client
        if client is not None:
            return client
        with self._lock:  # boto3 sessions are not thread-safe; clients are
            if self._client is None and self._factory is not None:
                self._client = self._factory()
            if self._client is None:
                session = self._session or boto3.session.Session()
                self._client = session.client(  # type: ignore[call-overload]
                    self.service,
                    config=self._config or DEFAULT_CONFIG,
                    endpoint_url=self._endpoint_url,
                )
            return self._client
