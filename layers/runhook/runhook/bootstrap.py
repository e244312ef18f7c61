"""The composition root: one `Container` per Lambda container (or per local function).

A handler builds its Container once per cold start (`Container.from_environment()`),
or is given one (`create_handler(container)`: tests and the local cloud, which build
it from the function's template Environment and a session pointed at the local AWS
endpoint). Everything in it is built lazily, once, on first use: the table gateway,
the repositories, the AWS adapters and the use cases, so a function pays only for the
parts it touches, and nothing is built (nor any AWS call made) at import. boto3
clients come from one session (making a session per client costs ~0.5 s of CPU).

Nothing else reads configuration: settings are passed in, never fetched from a global.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast, overload

import boto3
from botocore.config import Config

from runhook.aws import DEFAULT_CONFIG
from runhook.settings import Settings

if TYPE_CHECKING:
    from runhook.adapters.artifacts import S3Artifacts
    from runhook.adapters.browser_sessions import S3BrowserSessions
    from runhook.adapters.deliveries import DeliveryQueue
    from runhook.adapters.events import EventBus
    from runhook.adapters.kms import KmsCipher
    from runhook.adapters.scheduler import EventBridgeSchedules
    from runhook.adapters.stepfunctions import StepFunctions
    from runhook.dal.auth import AuthRepository
    from runhook.dal.limits import LimitsRepository
    from runhook.dal.run_store import DynamoRunStore
    from runhook.dal.runs import RunRepository
    from runhook.dal.secrets import SecretRepository
    from runhook.dal.table import Table
    from runhook.dal.tasks import TaskRepository
    from runhook.dal.webhooks import WebhookRepository
    from runhook.engine.factory import EngineDependencies
    from runhook.outbox import Outbox
    from runhook.services.artifacts import ArtifactService
    from runhook.services.authentication import Authenticator
    from runhook.services.browser_sessions import BrowserSessionService
    from runhook.services.bulk_cancel import BulkCancelService
    from runhook.services.credentials import CredentialCache
    from runhook.services.endpoints import EndpointService
    from runhook.services.health import HealthCheck
    from runhook.services.organization import OrganizationService
    from runhook.services.quota import Quota
    from runhook.services.replay import ReplayService
    from runhook.services.runs import RunService
    from runhook.services.schedules import ScheduledRuns, TaskSchedules
    from runhook.services.secrets import SecretService
    from runhook.services.sweeper import Sweeper, SweepPolicy
    from runhook.services.tasks import TaskService
    from runhook.webhooks.dispatch import Dispatcher
    from runhook.webhooks.send import Sender

T = TypeVar("T")


class _Once(Generic[T]):
    """A lazily built, then cached, attribute (thread-safe: built exactly once)."""

    def __init__(self, build: Callable[[Container], T]) -> None:
        self.build = build
        self.name = build.__name__

    @overload
    def __get__(self, container: None, owner: type) -> _Once[T]: ...
    @overload
    def __get__(self, container: Container, owner: type) -> T: ...
    def __get__(self, container: Container | None, owner: type) -> T | _Once[T]:
        if container is None:
            return self
        built = container.__dict__.get(self.name, _MISSING)
        if built is _MISSING:
            with container._lock:  # reentrant: building one part may build another
                built = container.__dict__.get(self.name, _MISSING)
                if built is _MISSING:
                    built = self.build(container)
                    container.__dict__[self.name] = built
        return cast(T, built)


_MISSING = object()


def once(build: Callable[[Container], T]) -> _Once[T]:
    return _Once(build)


class Container:
    """The dependencies of one function, built once each, on first use.

    Lazy imports inside the builders keep a function's cold start to what it uses
    (the webhook sender never imports the API's services, nor the run engine's).

    Over ~250 lines on purpose: a flat list of small lazy builders, one per dependency,
    is the whole wiring in one place; split by area, a builder's inputs would live in
    another class.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        boto3_session: boto3.session.Session | None = None,
        boto_config: Config | None = None,
        endpoint_url: str | None = None,
    ) -> None:
        self.settings = settings
        self._session = boto3_session
        self.boto_config = boto_config or DEFAULT_CONFIG
        self.endpoint_url = endpoint_url
        self._lock = threading.RLock()

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Container:
        """The container of the function whose environment is `environ` (default: ours).

        With an explicit `environ` (the local cloud's per-function variables), the AWS
        region, credentials and endpoint are read from it too, not from os.environ.
        """
        if environ is None:
            return cls(Settings.from_environment())
        session = boto3.session.Session(
            aws_access_key_id=environ.get("AWS_ACCESS_KEY_ID"),
            aws_secret_access_key=environ.get("AWS_SECRET_ACCESS_KEY"),
            aws_session_token=environ.get("AWS_SESSION_TOKEN"),
            region_name=environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION"),
        )
        return cls(
            Settings.from_environment(environ),
            boto3_session=session,
            endpoint_url=environ.get("AWS_ENDPOINT_URL"),
        )

    @property
    def session(self) -> boto3.session.Session:
        """The boto3 session every client of this container comes from (made on first use)."""
        with self._lock:
            if self._session is None:
                self._session = boto3.session.Session()
            return self._session

    def client(self, service: str) -> Any:
        """A new boto3 client of this container's session (made under the container's lock:
        sessions are not thread-safe)."""
        with self._lock:
            return self.session.client(  # type: ignore[call-overload]
                service, config=self.boto_config, endpoint_url=self.endpoint_url
            )

    # -- infrastructure ---------------------------------------------------------------------
    @once
    def table(self) -> Table:
        from runhook.dal.table import Table

        return Table(self.settings.table_name, client_factory=partial(self.client, "dynamodb"))

    @once
    def sfn(self) -> StepFunctions:
        from runhook.adapters.stepfunctions import StepFunctions

        return StepFunctions(
            self.settings.state_machine_arn,
            express_state_machine_arn=self.settings.express_state_machine_arn,
            client_factory=partial(self.client, "stepfunctions"),
        )

    @once
    def bus(self) -> EventBus:
        from runhook.adapters.events import EventBus

        return EventBus(self.settings.event_bus_name, client_factory=partial(self.client, "events"))

    @once
    def outbox(self) -> Outbox:
        """Run events from the table's stream onto the bus (the publisher function)."""
        from runhook.outbox import Outbox

        if self.settings.run_events_on_bus == "all":
            return Outbox(self.bus, self.settings.public_base_url)
        # The endpoints' repository is built on the first publish, not at INIT.
        return Outbox(
            self.bus,
            self.settings.public_base_url,
            audience=lambda org_id: self.webhooks.endpoints.routes(org_id, consistent=True),
        )

    @once
    def delivery_queue(self) -> DeliveryQueue:
        from runhook.adapters.deliveries import DeliveryQueue

        return DeliveryQueue(
            self.settings.deliveries_queue_url,
            self.settings.deliveries_dlq_url,
            client_factory=partial(self.client, "sqs"),
        )

    @once
    def artifacts(self) -> S3Artifacts:
        from runhook.adapters.artifacts import S3Artifacts

        return S3Artifacts(
            self.settings.artifacts_bucket, client_factory=partial(self.client, "s3")
        )

    # -- repositories -----------------------------------------------------------------------
    @once
    def runs(self) -> RunRepository:
        from runhook.dal.runs import RunRepository

        return RunRepository(self.table)

    @once
    def tasks(self) -> TaskRepository:
        from runhook.dal.tasks import TaskRepository

        return TaskRepository(self.table)

    @once
    def auth(self) -> AuthRepository:
        from runhook.dal.auth import AuthRepository

        return AuthRepository(self.table)

    @once
    def limits(self) -> LimitsRepository:
        from runhook.dal.limits import LimitsRepository

        return LimitsRepository(self.table)

    @once
    def run_store(self) -> DynamoRunStore:
        """The engine's RunStore port on the table (runhook.engine.ports)."""
        from runhook.dal.run_store import DynamoRunStore

        return DynamoRunStore(
            self.runs,
            self.tasks,
            log_retention_days=self.settings.log_retention_days,
            pack_records=self.settings.step_record_packs,
        )

    @once
    def engine(self) -> EngineDependencies:
        """The run engine's dependencies: settings and the run store (runhook.engine.factory)."""
        from runhook.engine.factory import EngineDependencies

        return EngineDependencies(self.settings, self.run_store)

    @once
    def webhooks(self) -> WebhookRepository:
        from runhook.dal.webhooks import WebhookRepository

        return WebhookRepository(self.table, retention_days=self.settings.delivery_retention_days)

    # -- use cases --------------------------------------------------------------------------
    @once
    def quota(self) -> Quota:
        from runhook.services.quota import Quota

        return Quota(self.limits, self.auth)

    @once
    def authenticator(self) -> Authenticator:
        from runhook.services.authentication import Authenticator
        from runhook.services.ratelimit import RateLimiter

        return Authenticator(self.auth, RateLimiter(self.limits), self.credential_cache)

    @once
    def credential_cache(self) -> CredentialCache:
        """Verified keys remembered for AUTH_CACHE_SECONDS; shared by the authenticator and
        the organization service, which forgets an organization's keys when it changes."""
        from runhook.services.credentials import CredentialCache

        return CredentialCache(ttl=self.settings.auth_cache_seconds)

    @once
    def run_service(self) -> RunService:
        from runhook.services.runs import RunService

        return RunService(
            self.runs,
            self.tasks,
            self.quota,
            self.sfn,
            public_base_url=self.settings.public_base_url,
            steps=self.run_store,  # issue 14: a retry carries succeeded steps over
        )

    @once
    def bulk_cancel_service(self) -> BulkCancelService:
        """Issue 14: cancels by id, and filter-based jobs worked by the API function itself
        (invoked asynchronously: settings.bulk_cancel_function)."""
        from runhook.adapters.functions import AsyncInvoker
        from runhook.dal.bulk_cancel import BulkCancelJobs
        from runhook.services.bulk_cancel import BulkCancelService

        invoker = AsyncInvoker(
            self.settings.bulk_cancel_function, client_factory=partial(self.client, "lambda")
        )
        return BulkCancelService(self.run_service, self.runs, BulkCancelJobs(self.table), invoker)

    @once
    def task_service(self) -> TaskService:
        from runhook.services.tasks import TaskService

        return TaskService(self.tasks, self.task_schedules, self.secrets)

    @once
    def organization_service(self) -> OrganizationService:
        from runhook.services.organization import OrganizationService

        return OrganizationService(self.auth, self.quota, self.credential_cache)

    @once
    def endpoint_service(self) -> EndpointService:
        from runhook.services.endpoints import EndpointService

        return EndpointService(self.settings, self.webhooks, self.tasks, self.delivery_queue)

    @once
    def replay_service(self) -> ReplayService:
        from runhook.services.replay import ReplayService

        return ReplayService(self.endpoint_service, self.webhooks.deliveries, self.delivery_queue)

    @once
    def artifact_service(self) -> ArtifactService:
        from runhook.services.artifacts import ArtifactService

        return ArtifactService(self.run_service, self.artifacts)

    @once
    def health_check(self) -> HealthCheck:
        from runhook.services.health import HealthCheck

        return HealthCheck(self.table)

    @once
    def dispatcher(self) -> Dispatcher:
        from runhook.webhooks.dispatch import Dispatcher

        return Dispatcher(self.webhooks.endpoints, self.webhooks.deliveries, self.delivery_queue)

    @once
    def sender(self) -> Sender:
        from runhook.webhooks.send import Sender

        return Sender(
            settings=self.settings,
            endpoints=self.webhooks.endpoints,
            deliveries=self.webhooks.deliveries,
            queue=self.delivery_queue,
            publish=lambda detail_type, detail: self.bus.publish([(detail_type, detail)]),
        )

    @once
    def sweeper(self) -> Sweeper:
        """Stuck runs and lost deliveries (runhook.services.sweeper), over the active-runs
        and due-deliveries index, Step Functions, the reconciler and the deliveries queue."""
        from runhook.services.sweeper import Sweeper

        return Sweeper(
            runs=self.runs,
            executions=self.sfn,
            reconciler=self.engine.reconciler(),
            deliveries=self.webhooks.deliveries,
            queue=self.delivery_queue,
        )

    @once
    def sweep_policy(self) -> SweepPolicy:
        """The scheduled sweep's waiting periods (SWEEP_* settings)."""
        from runhook.services.sweeper import SweepPolicy

        return SweepPolicy(
            pending_after_seconds=self.settings.sweep_pending_after_seconds,
            deadline_grace_seconds=self.settings.sweep_deadline_grace_seconds,
            delivery_grace_seconds=self.settings.sweep_delivery_grace_seconds,
        )

    # -- task schedules (docs/schedules.md) --------------------------------------------------
    @once
    def schedule_store(self) -> EventBridgeSchedules | None:
        """EventBridge Scheduler's group of task schedules (None: not configured)."""
        from runhook.adapters.scheduler import EventBridgeSchedules

        settings = self.settings
        if not settings.schedule_group_name:
            return None
        return EventBridgeSchedules(
            settings.schedule_group_name,
            settings.scheduled_run_function_arn,
            settings.scheduler_role_arn,
            client_factory=partial(self.client, "scheduler"),
        )

    @once
    def task_schedules(self) -> TaskSchedules:
        from runhook.services.schedules import TaskSchedules

        return TaskSchedules(
            self.schedule_store, min_interval_seconds=self.settings.schedule_min_interval_seconds
        )

    @once
    def scheduled_runs(self) -> ScheduledRuns:
        """One fire of a task's schedule → a run (the scheduled-run function)."""
        from runhook.dal.schedules import ScheduleStateRepository
        from runhook.services.schedules import ScheduledRuns

        return ScheduledRuns(
            self.tasks, self.runs, self.run_service, ScheduleStateRepository(self.table)
        )

    # -- organization secrets and browser sessions (docs/secrets.md) ------------------------
    @once
    def kms_cipher(self) -> KmsCipher:
        from runhook.adapters.kms import KmsCipher

        return KmsCipher(self.settings.secrets_key_id, client_factory=partial(self.client, "kms"))

    @once
    def secrets(self) -> SecretRepository:
        from runhook.dal.secrets import SecretRepository

        return SecretRepository(self.table)

    @once
    def secret_service(self) -> SecretService:
        from runhook.services.secrets import SecretService

        return SecretService(self.secrets, self.kms_cipher)

    @once
    def browser_sessions(self) -> S3BrowserSessions:
        from runhook.adapters.browser_sessions import S3BrowserSessions

        return S3BrowserSessions(
            self.settings.artifacts_bucket,
            self.settings.secrets_key_id,
            client_factory=partial(self.client, "s3"),
        )

    @once
    def browser_session_service(self) -> BrowserSessionService:
        from runhook.services.browser_sessions import BrowserSessionService

        return BrowserSessionService(self.browser_sessions)
