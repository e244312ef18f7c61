"""Every pydantic model of the deployed package defers its build to first use.

A cold start pays for each model class whose validator is built at import (issue 16:
pydantic's schema building is most of a worker's INIT beyond boto3). Deferred, a model
is built the first time a function validates with it, so a function pays only for the
models it uses. A model added without `defer_build=True` fails here.
"""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys

import pytest
from pydantic import BaseModel

MODULES = (
    "runhook.models",
    "runhook.webhook_models",
    "runhook.tasks.task",
    "runhook.tasks.definition",
    "runhook.engine.state",
    "runhook.engine.reconcile",
    "runhook.api.resources",
    "runhook.api.resources.tasks",
    "runhook.api.resources.admin",
    "runhook.api.resources.webhooks",
)
# Not here: the request bodies (runhook.api.schemas, the bodies in runhook.api.routes).
# FastAPI makes an adapter per body at route creation; for a deferred body model that
# adapter is built late and pydantic (2.14) warns about Body's alias: they stay eager
# (test_the_api_document_builds_without_a_warning).


def _models(module_name: str) -> list[type[BaseModel]]:
    module = importlib.import_module(module_name)
    return [
        obj
        for obj in vars(module).values()
        if inspect.isclass(obj) and issubclass(obj, BaseModel) and obj.__module__ == module_name
    ]


@pytest.mark.parametrize("module_name", MODULES)
def test_every_model_defers_its_build(module_name: str) -> None:
    models = _models(module_name)
    assert models, f"{module_name} defines no model: update MODULES"
    eager = [m.__name__ for m in models if not m.model_config.get("defer_build")]
    assert not eager, f"{module_name}: add defer_build=True to {eager}"


@pytest.mark.parametrize("module_name", MODULES)
def test_every_model_knows_its_fields_at_import(module_name: str) -> None:
    """A deferred model whose annotation names a class defined later in its module has
    no aliases until it is built: the data layer, which maps fields to stored attribute
    names (runhook.dal.codec.attribute) before validating, then read `successAttempt`
    as `success_attempt` and a fresh API process answered 500 (found by the crash test)."""
    incomplete = [m.__name__ for m in _models(module_name) if not m.__pydantic_fields_complete__]
    assert not incomplete, f"{module_name}: define what {incomplete} name before them"


def test_the_step_function_builds_no_model_it_does_not_use_at_import() -> None:
    """Importing the step function's handler builds none of the domain models' validators
    (they are built on first validation), in a fresh interpreter."""
    probe = (
        "import runhook.models as m, runhook.webhook_models as w\n"
        "import runhook.engine.runner\n"
        "built = [c.__name__ for c in (m.Run, m.Organization, m.ApiKey, w.Delivery, w.Endpoint)"
        " if c.__pydantic_complete__]\n"
        "print(','.join(built))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "", f"built at import: {out}"


def test_the_api_document_builds_without_a_warning() -> None:
    """Every deferred model the API uses builds cleanly when the OpenAPI document is made
    (a request body, deferred, made pydantic warn about Body's alias)."""
    probe = (
        "import warnings\n"
        "warnings.simplefilter('error')\n"
        "from runhook.api.app import create_app\n"
        "print(len(create_app().openapi()['paths']))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert int(done.stdout.strip()) > 20


def test_a_deferred_model_still_validates() -> None:
    from runhook.models import RunFilter

    assert RunFilter.model_validate({"status": "RUNNING"}).status == "RUNNING"
    with pytest.raises(ValueError):
        RunFilter.model_validate({"status": ["not", "a", "string"]})
