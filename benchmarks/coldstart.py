"""Benchmark 1: cold-start proxy of every function in template.yaml.

For each AWS::Serverless::Function: a fresh interpreter imports the handler module by file
path (the function's folder first on sys.path, as Lambda's /var/task) with the function's
Environment from the template, which runs its module-level initialisation (Powertools
Logger, the FastAPI app and Mangum for the API). That is Lambda's INIT phase minus the
runtime's own start. The time is measured inside the child, around the import; the
process's whole wall time (interpreter start included) is reported beside it.

Baselines, measured in the same rounds: `import boto3` + Powertools Logger for worker
functions, `import fastapi, mangum, boto3` for the API. Subjects run round-robin in a
shuffled order each round, after one unmeasured warm-up round (bytecode compiled, files
in the page cache: what a Lambda image has).

The API builds its routes when a request first needs them (runhook.api.app.RouteLoader),
so its import alone would flatter it: its child also sends one first request through the
real handler (Mangum, an API Gateway HTTP API v2 event, `GET /public/v1/task-runs/<id>`
with a key that fails authentication: a 401 that needs no AWS, routed, resolved and
answered as any request), and its baseline's child builds a one-route FastAPI app behind
Mangum and sends it the same event. The table has both figures: INIT alone against the
import-only baseline, and INIT + first request against the baseline's INIT + request.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import stats
from benchmarks.table import Table, ms, times

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"

# Packages of the development environment that are not in the function's deployment
# (layers/runhook/requirements.txt) but that a deployed package imports when it finds them:
# httpx loads its command-line tool (click, rich, pygments: ~100 ms) if they are installed.
# The child hides them, as Lambda's /opt/python does (ABSENT_ON_LAMBDA is checked against
# the layer's requirements by tests/template/test_import_budget.py).
ABSENT_ON_LAMBDA = ("click", "rich", "pygments")

_HIDE = r"""
import sys
class _Absent:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in HIDDEN:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
HIDDEN = frozenset(sys.argv.pop(1).split(","))
sys.meta_path.insert(0, _Absent())
"""

# One request through a Lambda handler, timed like the import (wall and CPU), after it:
# `GET /public/v1/task-runs/<id>`, an API Gateway HTTP API (payload v2) event, with a key
# that fails authentication before any AWS call (so the child needs no AWS). `first_*`
# is what the request took (for the API's baseline: building its one-route app and
# Mangum, then the request); INIT + first request is `ms + first_ms`.
_FIRST_REQUEST = r"""
def first_request(handler, out, started):
    import sys, time
    path = "/public/v1/task-runs/run_01J0000000000000000000000"
    http = {"method": "GET", "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.10", "userAgent": "bench"}
    event = {
        "version": "2.0", "routeKey": "ANY /{proxy+}", "rawPath": path, "rawQueryString": "",
        "headers": {"accept": "application/json", "authorization": "Bearer not-a-runhook-key", "host": "bench.execute-api.us-east-1.amazonaws.com", "x-forwarded-for": "203.0.113.10", "x-forwarded-proto": "https"},
        "requestContext": {"accountId": "123456789012", "apiId": "bench", "domainName": "bench.execute-api.us-east-1.amazonaws.com", "domainPrefix": "bench", "http": http, "requestId": "bench-1", "routeKey": "ANY /{proxy+}", "stage": "$default", "time": "30/Nov/2026:10:00:00 +0000", "timeEpoch": 1796032800000},
        "pathParameters": {"proxy": path[1:]}, "isBase64Encoded": False,
    }
    class Context:
        function_name = "bench"
        function_version = "$LATEST"
        memory_limit_in_mb = 1024
        invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
        aws_request_id = "bench-1"
        log_group_name = "/aws/lambda/bench"
        log_stream_name = "bench"
        def get_remaining_time_in_millis(self):
            return 29000
    answer = handler(event, Context())
    t1, c1 = time.perf_counter(), time.process_time()
    t0, c0 = started
    out.update(first_ms=(t1 - t0) * 1000, first_cpu=(c1 - c0) * 1000, first_status=answer["statusCode"], first_modules=len(sys.modules), first_names=sorted(sys.modules))
"""

_HANDLER_CHILD = (
    _HIDE
    + _FIRST_REQUEST
    + r"""
import importlib.util, json, sys, time
t0, c0 = time.perf_counter(), time.process_time()
path, attribute, module_name, code_dir = sys.argv[1:5]
sys.path.insert(0, code_dir)
spec = importlib.util.spec_from_file_location(module_name, path)
module = importlib.util.module_from_spec(spec)
sys.modules[module_name] = module
spec.loader.exec_module(module)
handler = getattr(module, attribute)
assert callable(handler)
t1, c1 = time.perf_counter(), time.process_time()
web = sorted({m.split(".")[0] for m in sys.modules} & {"fastapi", "starlette", "uvicorn"})
out = {"ms": (t1 - t0) * 1000, "cpu": (c1 - c0) * 1000, "modules": len(sys.modules), "web": web, "names": sorted(sys.modules)}
if len(sys.argv) > 5:  # the API: one first request, as Lambda sends it after INIT
    first_request(handler, out, (time.perf_counter(), time.process_time()))
print(json.dumps(out))
"""
)

_BASELINE_CHILD = (
    _HIDE
    + _FIRST_REQUEST
    + r"""
import json, sys, time
t0, c0 = time.perf_counter(), time.process_time()
exec(sys.argv[1])
t1, c1 = time.perf_counter(), time.process_time()
out = {"ms": (t1 - t0) * 1000, "cpu": (c1 - c0) * 1000, "modules": len(sys.modules), "web": [], "names": sorted(sys.modules)}
if len(sys.argv) > 2:  # the API's baseline: the rest of its INIT (its app), then the request
    started = (time.perf_counter(), time.process_time())
    exec(sys.argv[2])
    first_request(handler, out, started)
print(json.dumps(out))
"""
)

WORKER_BASELINE = "import boto3\nfrom aws_lambda_powertools import Logger\nLogger()"
API_BASELINE = "import fastapi, mangum, boto3"
# The rest of the API baseline's INIT (run after its import is timed): a one-route app
# behind Mangum (benchmarks/baseline_api.py, imported by path as a handler is), which
# then answers the same first request as ApiFunction.
API_BASELINE_APP = (
    "import importlib.util\n"
    f"spec = importlib.util.spec_from_file_location('baseline_api', {str(Path(__file__).with_name('baseline_api.py'))!r})\n"
    "baseline = importlib.util.module_from_spec(spec)\n"
    "spec.loader.exec_module(baseline)\n"
    "handler = baseline.handler"
)
# A first request's answers the rows stand for: the baseline's route answers 200; the API
# refuses the key before any AWS call.
FIRST_REQUEST_STATUS = {"baseline": 200, "api": 401}
# Not a baseline of any function: the floor of a worker that validates with pydantic v2
# (every runhook worker does, on every invocation: runs, deliveries, events, settings).
# Its ratio to the worker baseline is the part of issue 16's 1.3x goal pydantic alone takes.
PYDANTIC_FLOOR = (
    WORKER_BASELINE + "\nfrom pydantic import BaseModel\n"
    "class Settings(BaseModel):\n    stage: str = 'dev'\nSettings()"
)
WORKER_BASELINE_NAME = "baseline: boto3 + Powertools Logger"
API_BASELINE_NAME = "baseline: fastapi + mangum + boto3"
FLOOR_NAME = "floor: boto3 + Powertools Logger + one pydantic model"
HIDDEN = ",".join(ABSENT_ON_LAMBDA)


@dataclass
class Subject:
    name: str
    argv: list[str]
    env: dict[str, str]
    cwd: Path
    baseline: str | None = None  # the baseline subject's name (functions only)
    memory_mb: int = 0
    image: bool = False
    samples: list[float] = field(default_factory=list)  # wall ms of the import
    cpu: list[float] = field(default_factory=list)  # CPU ms of the import (less load-bound)
    wall: list[float] = field(default_factory=list)  # wall ms of the whole process
    modules: int = 0
    web: list[str] = field(default_factory=list)
    # The API and its baseline: the first request after INIT (wall ms, CPU ms, modules).
    first: list[float] = field(default_factory=list)
    first_cpu: list[float] = field(default_factory=list)
    first_modules: int = 0


def _functions(root: Path = ROOT) -> list[dict[str, Any]]:
    """(logical id, handler file, attribute, code dir, environment, memory, is_api)."""
    from runhook_dev.devcloud.cfn import NO_VALUE, Resolver, load_template, parameter_defaults

    template = load_template(root / TEMPLATE.name)
    resources = template["Resources"]

    def ref(name: str) -> str:
        kind = resources.get(name, {}).get("Type", "")
        if kind == "AWS::SQS::Queue":
            return f"https://sqs.us-east-1.amazonaws.com/123456789012/bench-{name.lower()}"
        if kind == "AWS::Serverless::StateMachine":
            return f"arn:aws:states:us-east-1:123456789012:stateMachine:bench-{name.lower()}"
        return f"bench-{name.lower()}"

    def get_att(name: str, attribute: str) -> str:
        return f"arn:aws:bench:us-east-1:123456789012:{name.lower()}"

    resolver = Resolver(template, parameter_defaults(template), ref, get_att)
    globals_ = (template.get("Globals") or {}).get("Function") or {}
    global_env = (globals_.get("Environment") or {}).get("Variables") or {}
    out = []
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = resource.get("Properties") or {}
        variables = {**global_env, **((props.get("Environment") or {}).get("Variables") or {})}
        resolved = {k: resolver.resolve(v) for k, v in variables.items()}
        env = {k: str(v) for k, v in resolved.items() if v is not NO_VALUE}  # !Ref AWS::NoValue
        handler = str(props.get("Handler", globals_.get("Handler", "")))
        code_uri = str(props.get("CodeUri", globals_.get("CodeUri", "")))
        if props.get("PackageType") == "Image":
            # A container image: the handler is the image's command, the code sits beside
            # its Dockerfile (copied to /var/task).
            command = (props.get("ImageConfig") or {}).get("Command") or [""]
            handler = str(command[0])
            dockerfile = str((resource.get("Metadata") or {}).get("Dockerfile", ""))
            code_uri = str(Path(dockerfile).parent) if dockerfile else ""
        module, _, attribute = handler.rpartition(".")
        if not module or not code_uri:
            continue
        code_dir = (root / code_uri).resolve()
        events = props.get("Events") or {}
        out.append(
            {
                "id": logical_id,
                "file": code_dir / (module.replace(".", "/") + ".py"),
                "attribute": attribute,
                "code_dir": code_dir,
                "env": env,
                "memory": int(props.get("MemorySize", globals_.get("MemorySize", 128))),
                "api": any(e.get("Type") in {"Api", "HttpApi"} for e in events.values()),
                "image": props.get("PackageType") == "Image",
            }
        )
    return out


def _lambda_env(name: str, extra: dict[str, str], root: Path = ROOT) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "TMPDIR"}}
    return {
        **keep,
        # This checkout's runhook package, as Lambda's layer (/opt/python) puts it on the
        # path: not whichever copy the virtualenv happens to have installed.
        "PYTHONPATH": str(root / "layers" / "runhook"),
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": extra.pop("__memory", "512"),
        **extra,
    }


def subjects() -> list[Subject]:
    out = [
        Subject(
            name=WORKER_BASELINE_NAME,
            argv=[sys.executable, "-c", _BASELINE_CHILD, HIDDEN, WORKER_BASELINE],
            env=_lambda_env("baseline-worker", {}),
            cwd=ROOT,
        ),
        Subject(
            name=API_BASELINE_NAME,
            argv=[sys.executable, "-c", _BASELINE_CHILD, HIDDEN, API_BASELINE, API_BASELINE_APP],
            env=_lambda_env("baseline-api", {}),
            cwd=ROOT,
        ),
        Subject(
            name=FLOOR_NAME,
            argv=[sys.executable, "-c", _BASELINE_CHILD, HIDDEN, PYDANTIC_FLOOR],
            env=_lambda_env("floor-pydantic", {}),
            cwd=ROOT,
        ),
    ]
    return out + function_subjects()


def function_subjects(root: Path = ROOT, label: str = "") -> list[Subject]:
    """Every function of `root`'s template, its handler and runhook from `root` (another
    checkout's, for a same-run A/B: `label` then prefixes its names)."""
    out = []
    for spec in _functions(root):
        env = _lambda_env(
            f"bench-{spec['id']}", {**spec["env"], "__memory": str(spec["memory"])}, root
        )
        module_name = f"bench_fn_{spec['code_dir'].name}"
        out.append(
            Subject(
                name=label + spec["id"],
                argv=[
                    sys.executable,
                    "-c",
                    _HANDLER_CHILD,
                    HIDDEN,
                    str(spec["file"]),
                    spec["attribute"],
                    module_name,
                    str(spec["code_dir"]),
                    *(["first-request"] if spec["api"] else []),
                ],
                env=env,
                cwd=spec["code_dir"],
                baseline=API_BASELINE_NAME if spec["api"] else WORKER_BASELINE_NAME,
                memory_mb=spec["memory"],
                image=bool(spec["image"]),
            )
        )
    return out


def _once(subject: Subject) -> tuple[float, float, dict[str, Any]]:
    started = time.perf_counter()
    result = subprocess.run(
        subject.argv,
        cwd=subject.cwd,
        env=subject.env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    wall = (time.perf_counter() - started) * 1000
    if result.returncode != 0:
        raise RuntimeError(f"{subject.name}: the import failed:\n{result.stderr[-2000:]}")
    data: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return float(data["ms"]), wall, data


def measure(rounds: int, seed: int = 7, items: list[Subject] | None = None) -> list[Subject]:
    items = subjects() if items is None else items
    order = list(items)
    rng = random.Random(seed)
    for round_no in range(rounds + 1):  # round 0 warms up and is not kept
        rng.shuffle(order)
        for subject in order:
            inside, wall, data = _once(subject)
            if round_no == 0:
                continue
            subject.samples.append(inside)
            subject.cpu.append(float(data["cpu"]))
            subject.wall.append(wall)
            subject.modules = int(data["modules"])
            subject.web = list(data.get("web") or [])
            if "first_cpu" in data:
                _check_first_answer(subject, int(data["first_status"]))
                subject.first.append(float(data["first_ms"]))
                subject.first_cpu.append(float(data["first_cpu"]))
                subject.first_modules = int(data["first_modules"])
    return items


def _check_first_answer(subject: Subject, status: int) -> None:
    """A first request that failed otherwise (a 500, a 404) measured something else."""
    expected = FIRST_REQUEST_STATUS["baseline" if subject.baseline is None else "api"]
    if status != expected:
        raise RuntimeError(f"{subject.name}: the first request answered {status}, not {expected}")


def run(quick: bool = False) -> list[Table]:
    rounds = 7  # the brief: a median of at least 7 (quick changes nothing here)
    return [_table(rounds, measure(rounds))]


def _table(rounds: int, items: list[Subject]) -> Table:
    """The functions first, each beside its baseline, then the baselines on their own."""
    by_name = {s.name: s for s in items}
    table = Table(
        title=f"1. Cold-start proxy: import + init of each handler in a fresh interpreter "
        f"(median of {rounds})",
        columns=[
            "function",
            "memory",
            "init ms",
            "init CPU ms",
            "min ms",
            "process ms",
            "modules",
            "baseline",
            "baseline ms",
            "baseline CPU ms",
            "ratio",
            "CPU ratio",
        ],
    )
    for subject in items:
        if subject.baseline is not None:
            _add_row(table, subject, by_name[subject.baseline])
            if subject.first_cpu:
                _add_first_request_row(table, subject, by_name[subject.baseline])
    for subject in items:
        if subject.baseline is None and subject.name != FLOOR_NAME:
            _add_row(table, subject, None)
    if FLOOR_NAME in by_name and WORKER_BASELINE_NAME in by_name:
        _add_row(table, by_name[FLOOR_NAME], by_name[WORKER_BASELINE_NAME])
    _add_notes(table, items)
    return table


def with_first_request(subject: Subject) -> Subject:
    """`subject` as INIT + its first request: each sample the sum of the two, per run."""
    return Subject(
        name=f"{subject.name.removeprefix('baseline: ')} + first request",
        argv=subject.argv,
        env=subject.env,
        cwd=subject.cwd,
        memory_mb=subject.memory_mb,
        image=subject.image,
        samples=[a + b for a, b in zip(subject.samples, subject.first, strict=True)],
        cpu=[a + b for a, b in zip(subject.cpu, subject.first_cpu, strict=True)],
        wall=subject.wall,
        modules=subject.first_modules,
    )


def _add_first_request_row(table: Table, subject: Subject, base: Subject) -> None:
    """The API's cold start as a caller sees it: INIT and the first request, against the
    baseline's INIT (import, one-route app, Mangum) and the same request."""
    baseline = with_first_request(base)
    baseline.name = f"baseline: {API_BASELINE.removeprefix('import ')} + one-route app"
    _add_row(table, with_first_request(subject), baseline)


def _add_row(table: Table, subject: Subject, base: Subject | None) -> None:
    value, cpu = stats.median(subject.samples), stats.median(subject.cpu)
    table.add(
        subject.name,
        (f"{subject.memory_mb} MB" if subject.memory_mb else "-")
        + (" (image)" if subject.image else ""),
        ms(value, 0),
        ms(cpu, 0),
        ms(min(subject.samples), 0),
        ms(stats.median(subject.wall), 0),
        subject.modules,
        base.name.removeprefix("baseline: ") if base else "-",
        ms(stats.median(base.samples), 0) if base else "-",
        ms(stats.median(base.cpu), 0) if base else "-",
        times(stats.ratio(value, stats.median(base.samples))) if base else "-",
        times(stats.ratio(cpu, stats.median(base.cpu))) if base else "-",
    )


def _add_notes(table: Table, items: list[Subject]) -> None:
    leaking = [s.name for s in items if s.baseline and "Api" not in s.name and s.web]
    table.notes.append(
        "init ms: wall time to import the handler module (module-level init included), "
        "measured inside the child; init CPU ms: the CPU time of the same (less sensitive to "
        "other load); min ms: the fastest run; process ms: the whole child, interpreter start "
        "and exit included. Ratios are of the medians."
    )
    table.notes.append(
        "+ first request (the API's second row): INIT and then one first request through "
        "the handler (Mangum, an HTTP API v2 event: GET /public/v1/task-runs/<id> with a key "
        "that fails authentication, a 401 needing no AWS), against the baseline's INIT "
        "(the import, a one-route FastAPI app, Mangum) and the same request (200); the API "
        "imports its route modules on the first request that needs them. process ms: the "
        "whole child, request included."
    )
    table.notes.append(
        f"Local interpreter: Python {sys.version.split()[0]} on this machine's CPU; Lambda runs "
        "python3.12 on arm64 (Graviton), so absolute figures differ; the ratio is the point."
    )
    table.notes.append(
        "floor: not a function; boto3 + a Powertools Logger + pydantic v2 and one small "
        "model, which every worker needs on every invocation (settings, runs, deliveries, "
        "events): its CPU ratio is the part of the 1.3x goal pydantic alone takes."
    )
    table.notes.append(
        "Worker functions importing a web framework: "
        + (", ".join(leaking) if leaking else "none (tests/template/test_handlers.py guards it)")
    )


def compare(other: Path, rounds: int, only: list[str]) -> Table:
    """A same-run A/B: this checkout's functions `only` and `other`'s, in the same rounds
    as the baselines (`python -m benchmarks.coldstart --against ../main-checkout`)."""
    label = f"{other.name}: "
    ours = [s for s in subjects() if s.baseline is None or s.name in only]
    theirs = [s for s in function_subjects(other.resolve(), label) if s.name[len(label) :] in only]
    return _table(rounds, measure(rounds, items=ours + theirs))


if __name__ == "__main__":
    import argparse

    from benchmarks import machine

    parser = argparse.ArgumentParser(description=compare.__doc__)
    parser.add_argument("--against", type=Path, required=True, help="another checkout")
    parser.add_argument("--only", default="ApiFunction", help="functions, comma-separated")
    parser.add_argument("--rounds", type=int, default=7)
    arguments = parser.parse_args()
    print(f"before: {machine.load()}", flush=True)
    result = compare(arguments.against, arguments.rounds, arguments.only.split(","))
    print(result.render())
    print(f"after: {machine.load()}")
