"""The `browser` step's definition: actions, names, templates (pure)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from runhook.engine.steps import DEFAULT_RUNNER, get_kind
from runhook.tasks.definition import STEP_MODELS, validate_definition

ROOT = Path(__file__).resolve().parents[3]


def _task(*actions: dict[str, Any], **step: Any) -> dict[str, Any]:
    return {
        "name": "browse",
        "steps": [{"id": "shop", "type": "browser", "actions": list(actions), **step}],
    }


def test_every_action_kind_validates() -> None:
    definition, errors = validate_definition(
        _task(
            {"action": "goto", "url": "https://shop.example.com/{{ inputs.id }}"},
            {"action": "click", "selector": "#go", "timeoutSeconds": 2.5},
            {"action": "fill", "selector": "#q", "value": "{{ inputs.q }}"},
            {"action": "select", "selector": "#c", "value": ["a", "b"]},
            {"action": "press", "selector": "#q", "key": "Enter"},
            {"action": "wait_for", "selector": "#r", "state": "hidden"},
            {"action": "extract", "name": "total", "selector": "#t"},
            {
                "action": "extract",
                "name": "links",
                "selector": "a",
                "from": "attribute",
                "attribute": "href",
                "all": True,
            },
            {"action": "screenshot", "name": "page", "fullPage": False},
            timeoutSeconds=90,
        )
    )
    assert errors == []
    assert definition is not None
    step = definition.document()["steps"][0]  # the JSON the API shows and the table stores
    assert step["actions"][7]["from"] == "attribute"
    assert step["actions"][5]["state"] == "hidden"
    assert step["actions"][0]["waitUntil"] == "load"
    assert "browser" in STEP_MODELS and get_kind("browser").runner != DEFAULT_RUNNER


def test_problems_are_listed() -> None:
    _, errors = validate_definition(
        _task(
            {"action": "evaluate", "expression": "fetch('/')"},
            {"action": "goto"},
            {"action": "extract", "name": "x", "selector": "#a", "from": "attribute"},
        )
    )
    paths = {e["path"] for e in errors}
    assert any(p.startswith("steps[0].actions.0") for p in paths), errors
    assert any(p.startswith("steps[0].actions.1") for p in paths), errors
    assert any(p.startswith("steps[0].actions.2") for p in paths), errors


def test_names_and_templates_are_checked() -> None:
    _, errors = validate_definition(
        _task(
            {"action": "screenshot", "name": "a"},
            {"action": "screenshot", "name": "a"},
        )
    )
    assert any("duplicate screenshot names: a" in e["message"] for e in errors), errors
    _, errors = validate_definition(_task({"action": "screenshot", "name": "../etc"}))
    assert errors and errors[0]["path"].startswith("steps[0].actions.0")
    _, errors = validate_definition(_task({"action": "goto", "url": "https://x/{{ inputs. }}"}))
    assert (
        errors == [{"path": "steps[0].actions[0].url", "message": errors[0]["message"]}]
        and "template syntax error" in errors[0]["message"]
    )
    _, errors = validate_definition(_task())
    assert errors and errors[0]["path"] == "steps[0].actions"


def test_the_light_step_function_never_imports_playwright() -> None:
    """functions/step (and every kind's module) must stay light: Playwright only when run."""
    code = (
        "import sys, json, runhook.engine.steps, runhook.engine.steps.browser, "
        "runhook.engine.runner; print(json.dumps(sorted(m for m in sys.modules "
        "if m.split('.')[0] in ('playwright', 'greenlet'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert json.loads(out.stdout) == []
