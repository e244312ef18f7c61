"""Request dependencies: the container's use cases, who is calling and from where.

The app's Container (runhook.bootstrap) lives on `app.state.container`; each route
asks for the use case it calls (`runs: Runs`, `tasks: Tasks`, ...), never for a
repository. Authentication is runhook.services.authentication; this module only reads
the HTTP parts (the key's header, the caller's address).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from runhook.bootstrap import Container
from runhook.errors import Forbidden
from runhook.models import Principal, Scope
from runhook.settings import Settings

if TYPE_CHECKING:
    # Annotations only: the container imports a service when a request first uses it
    # (the `Runs`, `Tasks`, ... aliases below name them only for type checkers).
    from runhook.services.artifacts import ArtifactService
    from runhook.services.browser_sessions import BrowserSessionService
    from runhook.services.bulk_cancel import BulkCancelService
    from runhook.services.endpoints import EndpointService
    from runhook.services.health import HealthCheck
    from runhook.services.organization import OrganizationService
    from runhook.services.replay import ReplayService
    from runhook.services.runs import RunService
    from runhook.services.secrets import SecretService
    from runhook.services.tasks import TaskService

bearer_scheme = HTTPBearer(auto_error=False, description="`Authorization: Bearer sk_live_…`")
api_key_scheme = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="The same key, Kapso style"
)

_container_lock = threading.Lock()
# What an environment-configured app's container is made of: rebuilt when one changes.
_ENVIRONMENT_KEYS = (
    *(info.alias or name for name, info in Settings.model_fields.items()),
    "AWS_ENDPOINT_URL",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
)


def container_of(request: Request) -> Container:
    """The app's container (`create_app(container)`).

    An app made without one (the local cloud serves `runhook.api.app:app` in its own
    process) builds it from os.environ on its first request, and again whenever those
    variables change (a local cloud restarted in the same process).
    """
    state = request.app.state
    container: Container | None = state.container
    if container is not None:
        return container
    key = tuple(os.environ.get(name) for name in _ENVIRONMENT_KEYS)
    with _container_lock:
        if getattr(state, "environment_key", None) != key:
            state.environment_container = Container.from_environment()
            state.environment_key = key
        built: Container = state.environment_container
        return built


def source_ip(request: Request) -> str:
    """The caller's address: API Gateway's request context on AWS, the socket locally."""
    event: dict[str, Any] | None = request.scope.get("aws.event")
    if event:
        ip = event.get("requestContext", {}).get("http", {}).get("sourceIp")
        if ip:
            return str(ip)
    hops = container_of(request).settings.trusted_proxy_hops
    forwarded = request.headers.get("x-forwarded-for")
    if hops and forwarded:
        chain = [part.strip() for part in forwarded.split(",") if part.strip()]
        if len(chain) >= hops:
            return chain[-hops]
    return request.client.host if request.client else ""


def principal(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)],
    header_key: Annotated[str | None, Security(api_key_scheme)],
) -> Principal:
    """Authenticate the key, then apply the organization's IP allowlist and rate limit."""
    secret = bearer.credentials if bearer else header_key
    return container_of(request).authenticator.authenticate(secret, source_ip(request))


def require(scope: Scope) -> Callable[[Principal], Principal]:
    def _check(caller: Annotated[Principal, Depends(principal)]) -> Principal:
        if not caller.can(scope):
            raise Forbidden("forbidden")
        return caller

    return _check


Caller = Annotated[Principal, Depends(require("runs"))]
Admin = Annotated[Principal, Depends(require("admin"))]


def _runs(request: Request) -> RunService:
    return container_of(request).run_service


def _tasks(request: Request) -> TaskService:
    return container_of(request).task_service


def _organization(request: Request) -> OrganizationService:
    return container_of(request).organization_service


def _endpoints(request: Request) -> EndpointService:
    return container_of(request).endpoint_service


def _replays(request: Request) -> ReplayService:
    return container_of(request).replay_service


def _artifacts(request: Request) -> ArtifactService:
    return container_of(request).artifact_service


def _health(request: Request) -> HealthCheck:
    return container_of(request).health_check


def _bulk_cancels(request: Request) -> BulkCancelService:  # issue 14
    return container_of(request).bulk_cancel_service


def _provided(provider: Callable[[Request], Any]) -> Any:
    """A dependency parameter's run-time annotation: what `provider` returns, untyped."""
    return Annotated[Any, Depends(provider)]


if TYPE_CHECKING:
    Runs = Annotated[RunService, Depends(_runs)]
    Tasks = Annotated[TaskService, Depends(_tasks)]
    Organizations = Annotated[OrganizationService, Depends(_organization)]
    Endpoints = Annotated[EndpointService, Depends(_endpoints)]
    Replays = Annotated[ReplayService, Depends(_replays)]
    Artifacts = Annotated[ArtifactService, Depends(_artifacts)]
    Health = Annotated[HealthCheck, Depends(_health)]
    BulkCancels = Annotated[BulkCancelService, Depends(_bulk_cancels)]
else:
    # FastAPI reads only the Depends of a dependency parameter, never its type: at run
    # time the aliases need not import the services (~160 ms of the API's cold start).
    Runs = _provided(_runs)
    Tasks = _provided(_tasks)
    Organizations = _provided(_organization)
    Endpoints = _provided(_endpoints)
    Replays = _provided(_replays)
    Artifacts = _provided(_artifacts)
    Health = _provided(_health)
    BulkCancels = _provided(_bulk_cancels)


# -- organization secrets and browser sessions (docs/secrets.md) ----------------------------
def _secrets(request: Request) -> SecretService:
    return container_of(request).secret_service


def _browser_sessions(request: Request) -> BrowserSessionService:
    return container_of(request).browser_session_service


if TYPE_CHECKING:
    Secrets = Annotated[SecretService, Depends(_secrets)]
    BrowserSessions = Annotated[BrowserSessionService, Depends(_browser_sessions)]
else:
    Secrets = _provided(_secrets)
    BrowserSessions = _provided(_browser_sessions)
