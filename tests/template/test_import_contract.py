"""The import contract: which code may import which, for the whole code base.

The code is read, not imported (tests.support.import_graph walks the source with `ast`):
the deployed package `runhook` (layers/runhook/runhook), the development package
`runhook_dev` (devtools/runhook_dev) and the functions' handlers (functions/<name>/*.py,
as `functions.<name>.<module>`). Every import statement counts, lazy ones and type-only
ones included. Each rule says why it exists; a failure lists each offending import chain
with the file and line of every hop.

The rules (docs/architecture.md, "Dependency rules"):

| rule | sources | may not import |
|---|---|---|
| domain-never-imports-the-api | models, tasks, engine, services, webhooks, dal, adapters | runhook.api |
| dal-never-imports-webhooks | runhook.dal | runhook.webhooks |
| engine-never-imports-services | runhook.engine | runhook.services |
| deployed-code-never-imports-dev-code | runhook, functions | runhook_dev, runhook_client, moto, werkzeug, uvicorn, pytest |
| only-the-api-imports-fastapi | runhook, functions (not runhook.api, functions.api) | fastapi, mangum, starlette |
| run-writers-never-import-the-bus | engine, services, dal | runhook.adapters.events (run events come from the stream) |
| asyncio-only-in-the-api-and-the-browser-launch (direct) | runhook, functions (not the API, not the browser launch) | asyncio |
| domain-never-imports-boto3 (direct) | models, tasks, engine (not its adapters), services | boto3, botocore |

All but the last two are transitive: going through another module does not make an import
allowed. The asyncio and boto3 rules are direct: the domain reaches AWS through adapters and the table
gateway, which may import boto3.

The synthetic tests at the end build a small package tree with one break of each rule
and check that the contract sees every one of them (and nothing in a clean tree).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.support.import_graph import ImportGraph, Rule, unmatched_patterns, violations

ROOT = Path(__file__).resolve().parents[2]

DOMAIN = ("runhook.models", "runhook.tasks", "runhook.engine", "runhook.services")
BELOW_THE_API = (*DOMAIN, "runhook.webhooks", "runhook.dal", "runhook.adapters")
DEPLOYED = ("runhook", "functions")

# Engine modules that talk to AWS on the engine's behalf (its RunStore's DynamoDB side).
ENGINE_ADAPTERS = ("runhook.engine.adapters",)

RULES = (
    Rule(
        "domain-never-imports-the-api",
        sources=BELOW_THE_API,
        forbidden=("runhook.api",),
        why="the API is the outermost layer: it calls the services, never the reverse "
        "(a helper both need belongs below the API)",
    ),
    Rule(
        "dal-never-imports-webhooks",
        sources=("runhook.dal",),
        forbidden=("runhook.webhooks",),
        why="runhook.webhooks uses the data layer; the data layer importing it back is a "
        "package cycle (the models it needs belong to the data layer or runhook.models)",
    ),
    Rule(
        "engine-never-imports-services",
        sources=("runhook.engine",),
        forbidden=("runhook.services",),
        why="services start and answer runs through the engine; the engine works through "
        "its own port (RunStore) and never calls back into use cases",
    ),
    Rule(
        "run-writers-never-import-the-bus",
        sources=("runhook.engine", "runhook.services", "runhook.dal"),
        forbidden=("runhook.adapters.events",),
        why="run events are published from the table's stream (runhook.outbox, "
        "docs/outbox.md): code that changes runs commits the event with the change and "
        "never calls PutEvents, so no event is lost between a write and a publish",
    ),
    Rule(
        "deployed-code-never-imports-dev-code",
        sources=DEPLOYED,
        forbidden=("runhook_dev", "runhook_client", "moto", "werkzeug", "uvicorn", "pytest"),
        why="runhook_dev (local cloud, CLI, admin and receiver tools), runhook_client (the "
        "callers' SDK) and the emulators are installed for development only: they are not "
        "in the code layer or the image",
    ),
    Rule(
        "only-the-api-imports-fastapi",
        sources=DEPLOYED,
        exempt=("runhook.api", "functions.api"),
        forbidden=("fastapi", "mangum", "starlette"),
        why="cold start: FastAPI costs every non-API function time at import, and only "
        "ApiFunction packages it",
    ),
    Rule(
        "asyncio-only-in-the-api-and-the-browser-launch",
        sources=DEPLOYED,
        exempt=("runhook.api", "functions.api", "runhook.engine.steps.browser.launch"),
        forbidden=("asyncio",),
        transitive=False,
        why="a warm browser container keeps Playwright's sync driver, and with it an event "
        "loop that stays running in the handler's thread (docs/browser.md): asyncio.run "
        "there fails. Only the API (Mangum) and the launch (reading the driver's error) "
        "use asyncio",
    ),
    Rule(
        "domain-never-imports-boto3",
        sources=DOMAIN,
        exempt=ENGINE_ADAPTERS,
        forbidden=("boto3", "botocore"),
        transitive=False,
        why="the domain knows nothing of AWS: adapters and the table gateway own boto3 and "
        "translate its errors into domain errors",
    ),
)


def code_graph(root: Path) -> ImportGraph:
    """The graph of `root`'s runhook, runhook_dev and functions/<name>/*.py."""
    scripts = {
        f"functions.{file.parent.name}.{file.stem}": file
        for file in sorted((root / "functions").glob("*/*.py"))
    }
    packages = {
        "runhook": root / "layers" / "runhook" / "runhook",
        "runhook_dev": root / "devtools" / "runhook_dev",
    }
    return ImportGraph.build({k: v for k, v in packages.items() if v.is_dir()}, scripts)


@pytest.fixture(scope="module")
def graph() -> ImportGraph:
    return code_graph(ROOT)


def check(graph: ImportGraph, rule: Rule, root: Path) -> list[str]:
    return [
        *(f"{p} matches no module: update the contract" for p in unmatched_patterns(graph, rule)),
        *violations(graph, rule, root),
    ]


@pytest.mark.parametrize("rule", RULES, ids=[r.name for r in RULES])
def test_the_code_keeps_the_rule(graph: ImportGraph, rule: Rule) -> None:
    problems = check(graph, rule, ROOT)
    assert not problems, f"{rule.name}: {rule.why}\n  " + "\n  ".join(problems)


def test_the_graph_sees_the_code(graph: ImportGraph) -> None:
    """The contract reads what it should: both packages, every handler and their imports."""
    assert "runhook.engine" in graph.modules and "runhook_dev.devcloud" in graph.modules
    handlers = {m for m in graph.modules if m.startswith("functions.")}
    on_disk = {p.parent.name for p in (ROOT / "functions").glob("*/app.py")}
    assert {f"functions.{name}.app" for name in on_disk} <= handlers
    assert any(i.imported == "mangum" for i in graph.imports["functions.api.app"])


# --- the contract can fail: a synthetic tree with one break of each rule ------------------

CLEAN = {
    "layers/runhook/runhook/__init__.py": "",
    "layers/runhook/runhook/models.py": "import pydantic\n",
    "layers/runhook/runhook/tasks/__init__.py": "",
    "layers/runhook/runhook/tasks/definition.py": "from runhook import models\n",
    "layers/runhook/runhook/api/__init__.py": "",
    "layers/runhook/runhook/api/deps.py": "import fastapi\nfrom runhook.services import org\n",
    "layers/runhook/runhook/services/__init__.py": "",
    "layers/runhook/runhook/services/org.py": "from runhook.dal import auth\n",
    "layers/runhook/runhook/services/runs.py": "from ..engine import runner\n",
    "layers/runhook/runhook/dal/__init__.py": "",
    "layers/runhook/runhook/dal/auth.py": "from botocore.exceptions import ClientError\n",
    "layers/runhook/runhook/dal/webhooks.py": "from runhook.models import Run\n",
    "layers/runhook/runhook/webhooks/__init__.py": "",
    "layers/runhook/runhook/webhooks/models.py": "",
    "layers/runhook/runhook/webhooks/send.py": "from runhook.dal import webhooks\n",
    "layers/runhook/runhook/engine/__init__.py": "",
    "layers/runhook/runhook/engine/runner.py": "from . import plan\nfrom runhook.dal import auth\n",
    "layers/runhook/runhook/engine/plan.py": "",
    "layers/runhook/runhook/engine/adapters/__init__.py": "",
    "layers/runhook/runhook/engine/adapters/dynamo.py": "import boto3\n",
    "layers/runhook/runhook/adapters/__init__.py": "",
    "layers/runhook/runhook/adapters/events.py": "import boto3\n",
    "devtools/runhook_dev/__init__.py": "",
    "devtools/runhook_dev/listen.py": "import uvicorn\nfrom runhook.webhooks import send\n",
    "functions/api/app.py": "from mangum import Mangum\nfrom runhook.api import deps\n",
    "functions/step/app.py": "from runhook.engine import runner\n",
}

# One break per rule: the files it changes, the offending import the failure must name, and
# the other rules the same break also breaks (an API import in a handler drags FastAPI in).
BREAKS: dict[str, tuple[dict[str, str], list[str], set[str]]] = {
    "domain-never-imports-the-api": (
        {
            "layers/runhook/runhook/services/org.py": "def f():\n    from runhook.api.deps import x\n"
        },
        ["runhook.services.org imports runhook.api.deps"],
        {"only-the-api-imports-fastapi"},
    ),
    "dal-never-imports-webhooks": (
        {
            "layers/runhook/runhook/dal/webhooks.py": "from runhook.webhooks.models import Endpoint\n"
        },
        ["runhook.dal.webhooks imports runhook.webhooks.models"],
        set(),
    ),
    "engine-never-imports-services": (
        {"layers/runhook/runhook/engine/plan.py": "from ..services import org\n"},
        ["runhook.engine.plan imports runhook.services.org"],
        set(),
    ),
    "deployed-code-never-imports-dev-code": (
        {"layers/runhook/runhook/webhooks/models.py": "from runhook_dev.listen import serve\n"},
        ["runhook.webhooks.models imports runhook_dev.listen"],
        set(),
    ),
    "only-the-api-imports-fastapi": (
        {
            "functions/step/app.py": "from runhook.engine import runner\nfrom runhook.api import deps\n"
        },
        ["functions.step.app imports runhook.api.deps", "runhook.api.deps imports fastapi"],
        set(),
    ),
    "run-writers-never-import-the-bus": (
        {
            "layers/runhook/runhook/services/runs.py": "from ..engine import runner\n"
            "from runhook.adapters.events import EventBus\n"
        },
        ["runhook.services.runs imports runhook.adapters.events"],
        set(),
    ),
    "asyncio-only-in-the-api-and-the-browser-launch": (
        {"layers/runhook/runhook/engine/plan.py": "import asyncio\n"},
        ["runhook.engine.plan imports asyncio"],
        set(),
    ),
    "domain-never-imports-boto3": (
        {"layers/runhook/runhook/tasks/definition.py": "import boto3.session\n"},
        ["runhook.tasks.definition imports boto3.session"],
        set(),
    ),
}


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def test_a_clean_tree_keeps_every_rule(tmp_path: Path) -> None:
    root = _tree(tmp_path, CLEAN)
    graph = code_graph(root)
    for rule in RULES:
        assert check(graph, rule, root) == [], rule.name


@pytest.mark.parametrize("rule", RULES, ids=[r.name for r in RULES])
def test_the_contract_sees_a_break_of_each_rule(tmp_path: Path, rule: Rule) -> None:
    changes, named, also_broken = BREAKS[rule.name]
    root = _tree(tmp_path, {**CLEAN, **changes})
    graph = code_graph(root)
    problems = check(graph, rule, root)
    assert len(problems) == 1, problems  # one bad import, reported once
    for text in named:
        assert text in problems[0], problems[0]
    broken = {other.name for other in RULES if check(graph, other, root)}
    assert broken == {rule.name, *also_broken}


def test_a_rule_naming_no_module_fails(tmp_path: Path) -> None:
    graph = code_graph(_tree(tmp_path, CLEAN))
    renamed = Rule("renamed", sources=("runhook.data",), forbidden=("runhook.api",), why="-")
    assert unmatched_patterns(graph, renamed) == ["runhook.data"]
