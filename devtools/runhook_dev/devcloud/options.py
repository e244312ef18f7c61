"""What a `LocalCloud` is asked to be: one frozen value instead of fifteen arguments.

LocalCloud(CloudOptions(in_memory=True, api_port=0, aws_port=0))
LocalCloud(in_memory=True, api_port=0, aws_port=0)  # the same (keywords are options)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runhook_dev.devcloud.containers import ContainerFactory


def _bootstrap_factory() -> ContainerFactory:
    from runhook_dev.devcloud.containers import bootstrap_container

    return bootstrap_container


DEFAULT_API_PORT = 3000
DEFAULT_AWS_PORT = 4566
STAGE = "local"
DEV_API_KEY_ENV = "RUNHOOK_DEV_API_KEY"


def project_root() -> Path:
    """The directory with template.yaml: this checkout, else the working directory."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "template.yaml").is_file() and (parent / "pyproject.toml").is_file():
            return parent
    return Path.cwd()


@dataclass(frozen=True)
class CloudOptions:
    """Ports, state, template, handler environment and the emulation's timings.

    Paths may be given as strings; `state_dir` defaults to `.state` under the working
    directory of the moment the options are made, `template` to this checkout's.
    """

    api_port: int = DEFAULT_API_PORT  # 0: a free port
    aws_port: int = DEFAULT_AWS_PORT  # the dispatcher's port; 0: a free port
    # The dispatcher's listening address: 0.0.0.0 lets `sam local` containers on Linux reach
    # it (through host.docker.internal:host-gateway); clients still use 127.0.0.1.
    aws_host: str = "127.0.0.1"
    state_dir: Path | str | None = None  # DynamoDB Local's data in <state_dir>/dynamodb
    in_memory: bool = False  # DynamoDB Local -inMemory: keep nothing
    template: Path | str | None = None
    env_overrides: Mapping[str, str] = field(default_factory=dict)  # on top of every handler's
    parameters: Mapping[str, str] = field(default_factory=dict)  # template parameters
    seed: bool = True  # demo organization, admin key and task
    serve_api: bool = True  # uvicorn on api_port
    # 0: the API in a thread of this process; N: N worker processes of its own (api_workers.py),
    # which need the default container factory (or None).
    api_workers: int = 0
    dev_api_key: str | None = None  # else $RUNHOOK_DEV_API_KEY, else generated
    cache_dir: Path | str | None = None  # where the DynamoDB Local jar is cached
    async_retry_delays: tuple[float, ...] = (1.0, 2.0)  # Lambda async retries (AWS: minutes)
    sqs_wait_seconds: int = 1  # the pollers' long poll
    reconcile_interval: float = 1.0  # Step Functions status-change polling; 0: off
    install_signal_handlers: bool = False  # SIGTERM stops the cloud, then the previous handler
    # Where Lambda invokes run: None in this process; else a Lambda Invoke endpoint such as
    # `sam local start-lambda`'s http://127.0.0.1:3001 (invoker.py).
    lambda_endpoint: str | None = None
    # 0: handlers run in this process; N: in N worker processes of their own
    # (lambda_workers.py; not with lambda_endpoint), which need the default container
    # factory (or None).
    lambda_workers: int = 0
    # How handlers get their dependencies: a factory (default `containers.bootstrap_container`)
    # builds one Container per function (the API's included) and calls the module's
    # `create_handler(container)` (see containers.py); None runs each module's `handler`
    # configured by os.environ.
    container_factory: ContainerFactory | None = field(default_factory=_bootstrap_factory)

    def __post_init__(self) -> None:
        state_dir = Path(self.state_dir) if self.state_dir else Path.cwd() / ".state"
        object.__setattr__(self, "state_dir", state_dir)
        object.__setattr__(self, "env_overrides", dict(self.env_overrides))
        object.__setattr__(self, "parameters", dict(self.parameters))

    @property
    def template_path(self) -> Path:
        return Path(self.template) if self.template else project_root() / "template.yaml"

    @property
    def state_path(self) -> Path:
        return Path(self.state_dir or ".state")

    @property
    def cache_path(self) -> Path | None:
        return Path(self.cache_dir) if self.cache_dir else None

    @property
    def dynamodb_path(self) -> Path | None:
        """Where DynamoDB Local keeps its data (None: in memory)."""
        return None if self.in_memory else self.state_path / "dynamodb"
