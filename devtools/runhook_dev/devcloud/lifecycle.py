"""The running parts of one `LocalCloud`: started in order, stopped in reverse.

`Parts` is the facade's implementation: it owns the ports, DynamoDB Local, the AWS
endpoint, the boto3 clients, the event sources, the status-change emitter, the API
server and the os.environ writes, and fills in the cloud's public attributes
(`api_url`, `table_name`, `environment`, the seed, ...) as it boots.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import signal
import threading
import types
from typing import TYPE_CHECKING, Any

from runhook_dev.devcloud.activity import SCHEDULER, STATES
from runhook_dev.devcloud.api_workers import ApiWorkers
from runhook_dev.devcloud.clients import AwsClients
from runhook_dev.devcloud.endpoint import AwsEndpoint
from runhook_dev.devcloud.environment import EnvironmentPlan, ProcessEnvironment, local_variables
from runhook_dev.devcloud.errors import LocalCloudError
from runhook_dev.devcloud.event_sources import EventSources
from runhook_dev.devcloud.invoker import make_invoker
from runhook_dev.devcloud.lambda_workers import LambdaWorkers, WorkerInvoker
from runhook_dev.devcloud.options import STAGE
from runhook_dev.devcloud.schedules import Scheduler
from runhook_dev.devcloud.servers import ApiServer, listen
from runhook_dev.devcloud.status_events import ExecutionStatusEmitter
from runhook_dev.devcloud.supervisor import DynamoDBSupervisor
from runhook_dev.devcloud.task_schedules import ScheduleFirer

if TYPE_CHECKING:
    import socket

    from runhook_dev.devcloud.cloud import LocalCloud
    from runhook_dev.devcloud.deployment import Deployment

log = logging.getLogger("devcloud")

# Imported in a thread while Java boots (the API app itself only after the environment).
_WEB_STACK = ("fastapi", "uvicorn", "mangum")


def _warm_imports() -> None:
    for module in _WEB_STACK:
        try:
            importlib.import_module(module)
        except Exception as exc:
            log.debug("warm import of %s failed: %s", module, exc)


class Parts:
    """Everything a started LocalCloud runs (one instance per start).

    A little over ~250 lines: the start-up sequence and its reverse (ports, DynamoDB
    Local, the API workers, the endpoint, the deploy, the event sources, the seed, the
    API) read best as one ordered list, each part's start beside its stop."""

    def __init__(self, cloud: LocalCloud) -> None:
        self.cloud = cloud
        options = cloud.options
        self.dynamodb = DynamoDBSupervisor(
            db_path=options.dynamodb_path,
            state_dir=options.state_path,
            cache_dir=options.cache_path,
        )
        self.environment = ProcessEnvironment()
        self.clients: AwsClients | None = None
        self.endpoint: AwsEndpoint | None = None
        self.sources: EventSources | None = None
        self.status: ExecutionStatusEmitter | None = None
        self.schedules: Scheduler | None = None
        self.task_schedules: ScheduleFirer | None = None  # EventBridge Scheduler, fired locally
        self.api_server: ApiServer | ApiWorkers | None = None
        self.api_container: Any | None = None  # the API function's runhook Container
        self.api_environment: dict[str, str] | None = None  # ... and its environment
        self.api_workers: ApiWorkers | None = None  # spawned early, started last
        self.lambda_workers: LambdaWorkers | None = None  # spawned early, started after deploy
        self._sockets: list[socket.socket] = []
        self._previous_sigterm: Any = None

    @property
    def aws(self) -> AwsClients:
        """The boto3 clients (once the AWS endpoint's port is known)."""
        if self.clients is None:
            raise LocalCloudError("the local cloud is not running")
        return self.clients

    def boot(self) -> None:
        cloud, options = self.cloud, self.cloud.options
        if not options.template_path.is_file():
            raise LocalCloudError(f"template not found: {options.template_path}")
        if options.lambda_workers > 0 and options.lambda_endpoint:
            raise LocalCloudError("lambda_workers and lambda_endpoint: choose one")
        api_socket, aws_socket = self._take_ports()
        self.dynamodb.spawn()  # Java boots while moto is imported and wired
        if api_socket is not None and options.api_workers > 0:
            self.api_workers = ApiWorkers(api_socket, options.api_workers)
            self.api_workers.spawn()  # they import the API meanwhile
        if options.lambda_workers > 0:
            self.lambda_workers = LambdaWorkers(options.lambda_workers)
            self.lambda_workers.spawn()  # they import the handlers' stack meanwhile
        # moto's ASL interpreter sends every AWS call of a Task to localhost:$MOTO_PORT.
        self.environment.apply({"MOTO_PORT": str(cloud.aws_port)})
        # Where Lambda invokes run: in this process, or --lambda-endpoint (invoker.py).
        cloud.registry.invoker = make_invoker(cloud.registry, options.lambda_endpoint)
        self.clients = AwsClients(cloud.aws_endpoint_url)
        self.endpoint = AwsEndpoint(
            aws_socket,
            cloud.registry,
            self.dynamodb,
            self.aws.new_client,
            options.async_retry_delays,
        )
        self._sockets.remove(aws_socket)  # the endpoint owns it now
        self.endpoint.start()
        if options.serve_api and options.api_workers <= 0:
            threading.Thread(target=_warm_imports, name="warm-imports", daemon=True).start()
        self._deploy()
        if self.lambda_workers is not None:
            self._start_lambda_workers(self.lambda_workers)
        self._start_event_sources()
        if options.seed:
            self._seed()
        if api_socket is not None:
            self._serve_api(api_socket)
        if options.install_signal_handlers:
            self._chain_sigterm()

    def _take_ports(self) -> tuple[socket.socket | None, socket.socket]:
        """Both ports first: a port in use fails fast, and port 0 has no race."""
        cloud, options = self.cloud, self.cloud.options
        api_socket = None
        if options.serve_api:
            api_socket = listen(options.api_port, "API", "--port")
            self._sockets.append(api_socket)
            cloud.api_port = int(api_socket.getsockname()[1])
        else:
            cloud.api_port = options.api_port
        aws_socket = listen(options.aws_port, "AWS endpoint", "--aws-port", options.aws_host)
        self._sockets.append(aws_socket)
        cloud.aws_port = int(aws_socket.getsockname()[1])
        cloud.aws_endpoint_url = f"http://127.0.0.1:{cloud.aws_port}"
        cloud.api_url = f"http://127.0.0.1:{cloud.api_port}"
        return api_socket, aws_socket

    def _deploy(self) -> None:
        from runhook_dev.devcloud.cfn import load_template
        from runhook_dev.devcloud.deployer import Deployer

        cloud, options = self.cloud, self.cloud.options
        parameters = {"Stage": STAGE, "PublicBaseUrl": cloud.api_url, "LogLevel": "INFO"}
        # Every run event on the bus, so the terminal shows each (terminal.py); the deployed
        # default, "subscribed", is one `parameters` entry away (docs/outbox.md).
        parameters["RunEventsOnBus"] = "all"
        parameters.update(options.parameters)
        deployment = Deployer(
            load_template(options.template_path),
            options.template_path.parent,
            self.aws.client,
            cloud.registry,
            parameters,
            wait_dynamodb=self.dynamodb.wait_ready,
        ).deploy()
        self._adopt(deployment)
        plan = EnvironmentPlan(
            deployment.environment,
            local_variables(cloud.aws_endpoint_url, cloud.api_url),
            options.env_overrides,
        )
        cloud.environment = plan.union
        cloud.environment_plan = plan
        factory = options.container_factory
        if factory is not None:
            from runhook_dev.devcloud.containers import HandlerWiring

            cloud.registry.resolve_handler = HandlerWiring(
                factory, plan.for_function, self.aws.session
            )
        api = [deployment.functions[lid] for lid in deployment.api_functions]
        values = plan.process(containers=factory is not None, api_functions=api)
        self.environment.apply(values)
        if factory is not None and api:
            # The API and the seed get the API function's own Container (no os.environ).
            self.api_environment = dict(plan.for_function(api[0]))
            self.api_container = factory(self.api_environment, self.aws.session())

    def _adopt(self, deployment: Deployment) -> None:
        cloud = self.cloud
        cloud.deployment = deployment
        cloud.queue_urls = {lid: q.url for lid, q in deployment.queues.items()}
        cloud.table_name = next(iter(deployment.tables.values()), "")
        cloud.state_machine_arn = next(iter(deployment.state_machines.values()), "")
        cloud.bus_name = next(iter(deployment.buses.values()), "")

    def _start_lambda_workers(self, workers: LambdaWorkers) -> None:
        """Configure the Lambda workers with the deployed functions; from now on the
        registry sends every template function's invoke to them."""
        cloud = self.cloud
        assert cloud.deployment is not None and cloud.environment_plan is not None
        functions = list(cloud.deployment.functions.values())
        factory = cloud.options.container_factory
        environments = None
        if factory is not None:
            self._require_default_factory("lambda_workers")
            plan = cloud.environment_plan
            environments = {function.name: plan.for_function(function) for function in functions}
        workers.start(functions, environments, cloud.aws_endpoint_url)
        cloud.registry.invoker = WorkerInvoker(workers, cloud.registry)

    def _start_event_sources(self) -> None:
        cloud, options = self.cloud, self.cloud.options
        assert self.endpoint is not None and cloud.deployment is not None
        self.sources = EventSources(
            cloud.registry,
            self.endpoint.invoker,
            self.aws.client,
            self.aws.new_client,
            options.sqs_wait_seconds,
            checkpoint_dir=None if options.in_memory else options.state_path / "streams",
            activity=self.endpoint.activity,
        )
        self.sources.start(cloud.deployment)
        self.status = ExecutionStatusEmitter(
            self.aws.new_client,
            options.reconcile_interval,
            wake=self.endpoint.activity.channel(STATES),
        )
        for arn in cloud.deployment.state_machines.values():
            self.status.watch(arn)
        self.status.start()
        # Start-up calls (the sweeper picks up what the last run left), then the schedules.
        deployment = cloud.deployment
        self.schedules = Scheduler(
            cloud.registry, self.endpoint.invoker, deployment.schedules, deployment.startup_calls
        )
        self.schedules.start()
        self.task_schedules = ScheduleFirer(
            cloud.registry,
            self.endpoint.invoker,
            lambda: self.aws.client("scheduler"),
            None if options.in_memory else options.state_path / "schedules",
            wake=self.endpoint.activity.channel(SCHEDULER),
        )
        self.task_schedules.start()

    def _seed(self) -> None:
        from runhook_dev.devcloud.seed import seed_demo

        cloud = self.cloud
        seed = seed_demo(cloud.table_name, cloud.options.dev_api_key, self.api_container)
        cloud.org_id, cloud.admin_api_key, cloud.demo_task_id = (
            seed.org_id,
            seed.api_key,
            seed.task_id,
        )

    def _serve_api(self, api_socket: socket.socket) -> None:
        from runhook_dev.devcloud import servers

        workers = self.cloud.options.api_workers
        environment = self._worker_environment() if workers > 0 else None
        self._sockets.remove(api_socket)  # the server owns it now (or closed it on failure)
        if workers <= 0:
            self.api_server, self.cloud.api_error = servers.start_api(
                api_socket, self.api_container
            )
            return
        self.api_server = self.api_workers or ApiWorkers(api_socket, workers)
        self.cloud.api_error = self.api_server.start(environment)
        if self.cloud.api_error:
            log.warning(
                "API unavailable: %s (serving 503 on %s)", self.cloud.api_error, self.api_server.url
            )

    def _worker_environment(self) -> dict[str, str] | None:
        """What an API worker builds its Container from (None: it uses the module's app,
        configured by os.environ, which it inherits); only the default factory can be
        rebuilt in another process."""
        factory = self.cloud.options.container_factory
        if factory is None or self.api_environment is None:
            return None
        self._require_default_factory("api_workers")
        return self.api_environment

    def _require_default_factory(self, option: str) -> None:
        from runhook_dev.devcloud.containers import bootstrap_container

        if self.cloud.options.container_factory not in (None, bootstrap_container):
            raise LocalCloudError(
                f"{option} needs the default container factory (a custom one cannot be "
                f"rebuilt in a worker process): use {option}=0"
            )

    def stop(self) -> None:
        """Stop everything, in reverse (idempotent)."""
        if self.task_schedules is not None:
            self.task_schedules.stop()
        if self.schedules is not None:
            self.schedules.stop()
        if self.sources is not None:
            self.sources.stop()
        if self.endpoint is not None:
            self.endpoint.stop_invoker()  # before joining the pollers: shims submit to it
        if self.sources is not None:
            self.sources.join()
        if self.status is not None:
            self.status.stop()
        for server in (self.api_server, self.api_workers, self.lambda_workers, self.endpoint):
            if server is not None:
                try:
                    server.stop()
                except Exception as exc:
                    log.warning("stopping %s: %s", type(server).__name__, exc)
        self.api_server = self.api_workers = self.lambda_workers = None
        while self._sockets:
            self._sockets.pop().close()
        self.dynamodb.stop()
        self.environment.restore()
        if self._previous_sigterm is not None:
            with contextlib.suppress(ValueError):
                signal.signal(signal.SIGTERM, self._previous_sigterm)
            self._previous_sigterm = None

    def _chain_sigterm(self) -> None:
        """On SIGTERM stop the cloud (no orphan Java), then do what was done before."""
        if threading.current_thread() is not threading.main_thread():
            return
        previous = signal.getsignal(signal.SIGTERM)
        stop = self.cloud.stop

        def handler(signum: int, frame: types.FrameType | None) -> None:
            stop()
            if callable(previous):
                previous(signum, frame)
            else:
                signal.signal(signum, signal.SIG_DFL)
                os.kill(os.getpid(), signum)

        signal.signal(signal.SIGTERM, handler)
        self._previous_sigterm = previous if previous is not None else signal.SIG_DFL
