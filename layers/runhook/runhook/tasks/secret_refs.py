"""Where a task definition may use `{{ secrets.NAME }}`, and which names it uses.

Secrets may go only where the step that renders them masks them and needs them: an
http step's url, headers, query, json and body, a browser step's `goto` url and `fill`
value. Anywhere else (a log message, a fail step, an approval prompt, a select value)
the value would be written out as it is, so a saved task may not reference them there.
Every reference must be a literal name (`secrets.NAME`), so the names can be checked
against the organization's secrets when the task is saved.
"""

from __future__ import annotations

from typing import Any

from runhook.tasks.definition import (
    BrowserStep,
    FillAction,
    GotoAction,
    HttpStep,
    TaskDefinition,
    string_leaves,
)
from runhook.tasks.templating import SECRET_NAME, secret_references


def _allowed(step: Any) -> set[str]:
    """The field paths of `step` whose templates may reference secrets."""
    if isinstance(step, HttpStep):
        return {path for path, _ in step.templates()}
    if isinstance(step, BrowserStep):
        return {
            f"actions[{i}].{'url' if isinstance(a, GotoAction) else 'value'}"
            for i, a in enumerate(step.actions)
            if isinstance(a, GotoAction | FillAction)
        }
    return set()


def secret_usage(
    definition: TaskDefinition,
) -> tuple[dict[str, list[str]], list[dict[str, str]]]:
    """The secret names the task references (name → paths), and every misuse (a
    reference where secrets may not go, a computed name, a name that cannot exist)."""
    used: dict[str, list[str]] = {}
    misuse: list[dict[str, str]] = []
    for index, step in enumerate(definition.steps):
        allowed = _allowed(step)
        raw = step.model_dump(by_alias=True, exclude_none=True)
        for field, source in string_leaves(raw, ""):
            field = field.lstrip(".")
            names, dynamic = secret_references(source)
            if not names and not dynamic:
                continue
            path = f"steps[{index}].{field}"
            if field not in allowed:
                misuse.append({"path": path, "message": "secrets may not be used here"})
                continue
            if dynamic:
                misuse.append({"path": path, "message": "reference secrets by name: secrets.NAME"})
            for name in sorted(names):
                if not SECRET_NAME.match(name):
                    misuse.append({"path": path, "message": f"{name!r} is not a secret name"})
                    continue
                used.setdefault(name, []).append(path)
    return used, misuse
