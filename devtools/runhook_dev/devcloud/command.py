"""`runhook dev`: the local cloud in the foreground (Ctrl-C stops it, data stays)."""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    from runhook_dev.devcloud.cloud import LocalCloud


# The API in processes of its own: it then no longer shares an interpreter lock with moto,
# the handlers and the pollers (api_workers.py).
DEFAULT_API_WORKERS = 1
# The template's handlers in processes of their own (lambda_workers.py); 0: in-process.
DEFAULT_LAMBDA_WORKERS = 0


def add_parser(subparsers: Any) -> None:
    dev = subparsers.add_parser(
        "dev",
        help="run the whole service locally (DynamoDB Local + moto + the API)",
        description=(
            "Start the local cloud behind one AWS endpoint: DynamoDB Local (tables and "
            "their streams) and moto (Step Functions with its ASL interpreter, SQS, "
            "EventBridge, EventBridge Scheduler, S3, KMS, CloudWatch Logs); the template's "
            "functions run in-process (Lambda Invoke included) and the API is served on "
            "http://127.0.0.1:PORT. Ctrl-C stops it; DynamoDB data in --state-dir survives "
            "a restart and the task schedules are put back (moto's queued messages and "
            "executions are not)."
        ),
    )
    dev.add_argument("--port", type=int, default=3000, help="API port (default 3000)")
    dev.add_argument(
        "--api-workers",
        type=int,
        default=DEFAULT_API_WORKERS,
        help=f"API worker processes (default {DEFAULT_API_WORKERS}); 0 serves the API in "
        "the local cloud's own process",
    )
    dev.add_argument(
        "--lambda-workers",
        type=int,
        default=None,
        help=f"processes that run the template's handlers (default {DEFAULT_LAMBDA_WORKERS}; "
        "0: in the local cloud's own process); not with --lambda-endpoint",
    )
    dev.add_argument(
        "--aws-port",
        type=int,
        default=None,
        help="AWS endpoint (dispatcher) port; default 4566, or a free one if 4566 is taken; "
        "0 picks a free one",
    )
    dev.add_argument(
        "--state-dir",
        type=Path,
        default=Path(".state"),
        help="where DynamoDB Local keeps its data (default .state/)",
    )
    dev.add_argument(
        "--in-memory", action="store_true", help="keep nothing: DynamoDB Local in memory"
    )
    dev.add_argument("--template", type=Path, default=None, help="SAM template (template.yaml)")
    dev.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra environment for the handlers (repeatable), e.g. WEBHOOK_RETRY_SCHEDULE=1,1,1",
    )
    dev.add_argument("--log-level", default=os.environ.get("RUNHOOK_LOG_LEVEL", "INFO"))
    dev.add_argument(
        "--log-format",
        choices=("text", "json"),
        default=os.environ.get("RUNHOOK_LOG_FORMAT", "text"),
        help="text (default): one readable line per request and run event, the handlers' "
        "warnings and errors; json: every handler's raw JSON log line, as deployed",
    )
    _add_sam_arguments(dev)
    dev.add_argument(
        "--fetch-only",
        action="store_true",
        help="only make sure the DynamoDB Local jar is in the cache (.cache/), then exit",
    )
    dev.set_defaults(func=run)


def _add_sam_arguments(dev: Any) -> None:
    """The options that connect `sam local` (Docker) to the local cloud (README: "With
    Docker: sam local")."""
    dev.add_argument(
        "--sam-env",
        type=Path,
        default=None,
        metavar="FILE",
        help="write the --env-vars JSON of `sam local invoke|start-api|start-lambda` (each "
        "function's local environment, AWS_ENDPOINT_URL as a container reaches this cloud)",
    )
    dev.add_argument(
        "--sam-env-host",
        default=None,
        metavar="HOST",
        help="the host name of this cloud's AWS endpoint in --sam-env, as a container sees it "
        "(default host.docker.internal: Docker Desktop's name for the host; on Linux give sam "
        "--add-host host.docker.internal:host-gateway and run with --aws-host 0.0.0.0)",
    )
    dev.add_argument(
        "--sam-env-port",
        type=int,
        default=None,
        metavar="PORT",
        help="its port in --sam-env (default: the AWS endpoint's port)",
    )
    dev.add_argument(
        "--aws-host",
        choices=("127.0.0.1", "0.0.0.0"),
        default="127.0.0.1",
        help="where the AWS endpoint listens (default 127.0.0.1); 0.0.0.0 lets `sam local` "
        "containers on Linux reach it: every interface, so only on a trusted network",
    )
    dev.add_argument(
        "--lambda-endpoint",
        default=None,
        metavar="URL",
        help="send every Lambda invoke (state machine tasks, event sources, async and "
        "scheduled invokes) to this Lambda Invoke endpoint instead of running handlers "
        "in-process, e.g. `sam local start-lambda`'s http://127.0.0.1:3001",
    )


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def configure_logging(level: str, log_format: str = "json") -> None:
    """The local cloud's own log lines; with the text format stdout itself is filtered
    (terminal.py) before any handler's Logger takes it, and the request and run event
    lines are on."""
    import logging

    from runhook_dev.devcloud import terminal

    if log_format == "text" and not isinstance(sys.stdout, terminal.ReadableStdout):
        sys.stdout = terminal.ReadableStdout(sys.stdout)
    logging.basicConfig(
        level=level.upper(),
        stream=sys.stdout,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        force=True,
    )
    for logger in terminal.LOGGERS:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", datefmt="%H:%M:%S"))
        logger.handlers = [handler]
        logger.propagate = False
        logger.setLevel(logging.INFO if log_format == "text" else logging.WARNING)
    for noisy in ("botocore", "boto3", "urllib3", "werkzeug", "moto", "flask_cors"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # moto logs every failed state (a normal Retry/Catch flow) as an ERROR with a huge repr.
    logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)


def run(args: argparse.Namespace) -> int:
    if args.fetch_only:
        return _fetch_only()
    configure_logging(args.log_level, args.log_format)
    overrides = _env_overrides(args.env)
    if overrides is None:
        return 2
    if args.lambda_endpoint and not _valid_lambda_endpoint(args.lambda_endpoint):
        return 2
    if args.lambda_endpoint and args.lambda_workers:
        print("runhook dev: --lambda-workers and --lambda-endpoint: choose one", file=sys.stderr)
        return 2
    lambda_workers = 0 if args.lambda_endpoint else DEFAULT_LAMBDA_WORKERS
    if args.lambda_workers is not None:
        lambda_workers = max(0, args.lambda_workers)
    from runhook_dev.devcloud.cloud import LocalCloud
    from runhook_dev.devcloud.options import CloudOptions

    cloud = LocalCloud(
        CloudOptions(
            api_port=args.port,
            api_workers=max(0, args.api_workers),
            aws_port=_aws_port(args.aws_port),
            aws_host=args.aws_host,
            state_dir=args.state_dir.resolve(),
            in_memory=args.in_memory,
            template=args.template,
            env_overrides=overrides,
            lambda_endpoint=args.lambda_endpoint,
            lambda_workers=lambda_workers,
        )
    )
    return _serve(cloud, lambda: _write_sam_env(cloud, args))


def _valid_lambda_endpoint(url: str) -> bool:
    from runhook_dev.devcloud.invoker import endpoint_problem

    problem = endpoint_problem(url)
    if problem:
        print(f"runhook dev: {problem}", file=sys.stderr)
    return problem is None


def _write_sam_env(cloud: LocalCloud, args: argparse.Namespace) -> str | None:
    """`--sam-env FILE`: the env-vars file of `sam local`, once the cloud is deployed (its
    ports and names known); the banner's line about it."""
    if args.sam_env is None:
        return None
    from runhook_dev.devcloud import sam_env

    assert cloud.deployment is not None and cloud.environment_plan is not None
    endpoint = sam_env.container_endpoint(cloud.aws_port, args.sam_env_host, args.sam_env_port)
    values = sam_env.sam_env_vars(cloud.deployment, cloud.environment_plan, endpoint)
    sam_env.write_sam_env(args.sam_env, values)
    return f"  sam local env  {args.sam_env}   (AWS_ENDPOINT_URL={endpoint})"


def _fetch_only() -> int:
    from runhook_dev.devcloud.dynamodb_local import DynamoDBLocalError, ensure_jar

    try:
        print(ensure_jar())
    except DynamoDBLocalError as exc:
        print(f"runhook dev: {exc}", file=sys.stderr)
        return 1
    return 0


def _env_overrides(items: list[str]) -> dict[str, str] | None:
    """`--env KEY=VALUE` options as a mapping (None, and a message, when one is malformed)."""
    overrides: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            print(f"runhook dev: --env expects KEY=VALUE, got {item!r}", file=sys.stderr)
            return None
        overrides[key] = value
    return overrides


def _aws_port(requested: int | None) -> int:
    """`--aws-port`, else 4566 when free, else a free one (0)."""
    if requested is not None:
        return requested
    if _port_free(4566):
        return 4566
    print("runhook dev: port 4566 is taken; using a free port for the AWS endpoint")
    return 0


def _serve(cloud: LocalCloud, after_start: Callable[[], str | None] = lambda: None) -> int:
    """Start the cloud, run `after_start` (a banner line), print the banner, run until
    SIGINT/SIGTERM, stop: the exit code."""
    from runhook_dev.devcloud.errors import LocalCloudError
    from runhook_dev.devcloud.options import DEV_API_KEY_ENV

    stop = threading.Event()
    interrupts = 0

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal interrupts
        interrupts += 1
        if interrupts > 1:  # a second Ctrl-C: no more waiting, but still no orphan Java
            cloud.stop_dynamodb()
            os._exit(128 + signum)
        stop.set()
        if not cloud.started:  # still booting: abort the boot
            raise KeyboardInterrupt

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    print("runhook dev: starting the local cloud ...", flush=True)
    try:
        cloud.start()
    except KeyboardInterrupt:
        cloud.stop()
        print("runhook dev: interrupted while starting", flush=True)
        return 130
    except LocalCloudError as exc:
        print(f"runhook dev: {exc}", file=sys.stderr, flush=True)
        return 1

    try:
        extra = after_start()
    except OSError as exc:
        print(f"runhook dev: {exc}", file=sys.stderr, flush=True)
        cloud.stop()
        return 1
    print(_banner(cloud, DEV_API_KEY_ENV, extra), flush=True)
    try:
        while not stop.wait(1.0):
            pass
    finally:
        print("runhook dev: stopping ...", flush=True)
        cloud.stop()
        print("runhook dev: stopped", flush=True)
    return 0


def summary(cloud: LocalCloud) -> str:
    """What runs where: the first lines of the banner (`LocalCloud.summary()`)."""
    options = cloud.options
    storage = "(in memory)" if options.in_memory else f"(data in {options.dynamodb_path})"
    lines = [
        f"  API            {cloud.api_url}/public/v1"
        + (f"   (unavailable: {cloud.api_error})" if cloud.api_error else "")
        + (f"   ({options.api_workers} worker processes)" if options.api_workers > 0 else ""),
        f"  console        {cloud.api_url}/console/   (sign in with an API key)",
        f"  AWS endpoint   {cloud.aws_endpoint_url}   "
        f"(Lambda: {cloud.registry.invoker.describe()}; "
        "Step Functions, SQS, EventBridge, S3, KMS, Scheduler: moto; DynamoDB: DynamoDB Local)",
        *(
            [f"  listening on   every interface, port {cloud.aws_port} (--aws-host 0.0.0.0)"]
            if options.aws_host != "127.0.0.1"
            else []
        ),
        f"  DynamoDB Local {cloud.dynamodb_endpoint}   {storage}",
        f"  table          {cloud.table_name}",
        f"  state machine  {cloud.state_machine_arn or '(none)'}",
        f"  event bus      {cloud.bus_name}",
    ]
    for logical_id, url in sorted(cloud.queue_urls.items()):
        lines.append(f"  queue          {logical_id}: {url}")
    if cloud.deployment is not None:
        names = ", ".join(f.name for f in cloud.deployment.functions.values())
        lines.append(f"  functions      {names}")
        for warning in cloud.deployment.warnings:
            lines.append(f"  warning        {warning}")
    return "\n".join(lines)


def _banner(cloud: LocalCloud, key_env: str, extra: str | None = None) -> str:
    lines = [
        "",
        f"runhook local cloud is up ({cloud.boot_seconds:.1f} s):",
        cloud.summary(),
        *([extra] if extra else []),
        "",
    ]
    key = cloud.admin_api_key
    if os.environ.get(key_env):
        lines.append(f"  admin API key  from ${key_env}")
    elif key:
        lines += [
            f"  admin API key  {key}",
            f"                 (shown once: keep it, or set {key_env} to choose your own)",
        ]
    else:
        lines.append(
            "  admin API key  the demo organization already has one (printed at its first "
            f"start); set {key_env}=<key> to add one you choose"
        )
    lines.append(f"  demo org       {cloud.org_id}")
    lines.append(f"  demo task      {cloud.demo_task_id}")
    shown_key = f"${key_env}" if (os.environ.get(key_env) or not key) else key
    lines += [
        "",
        "try:",
        f"  curl -s {cloud.api_url}/public/v1/health",
    ]
    if cloud.demo_task_id:
        lines.append(
            f"  curl -s -X POST {cloud.api_url}/public/v1/tasks/{cloud.demo_task_id}/runs "
            f'-H "Authorization: Bearer {shown_key}" -H "Content-Type: application/json" '
            '-d \'{"inputs": {"name": "you"}}\''
        )
    lines += ["", "runhook dev: ready (Ctrl-C to stop)"]
    return "\n".join(lines)
