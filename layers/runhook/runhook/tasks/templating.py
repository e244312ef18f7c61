"""Templates (`{{ ... }}`) and JMESPath expressions over a run's context.

Templates render in Jinja2's sandbox: no attribute access to internals, no imports,
no file access. The context is plain JSON data: {inputs, steps, run}.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import jmespath
from jinja2 import StrictUndefined, TemplateSyntaxError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jmespath.exceptions import JMESPathError

from runhook.errors import RunhookError


class TemplateError(RunhookError):
    code = "template_error"


_env = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


def check_template(source: str) -> str | None:
    """The syntax error in `source`, or None when it compiles."""
    try:
        _env.parse(source)
    except TemplateSyntaxError as exc:
        return f"template syntax error: {exc.message}"
    return None


def check_expression(expression: str) -> str | None:
    try:
        jmespath.compile(expression)
    except JMESPathError as exc:
        return f"invalid JMESPath expression: {exc}"
    return None


@lru_cache(maxsize=512)
def _compiled(source: str) -> Any:
    return _env.from_string(source)


def render(source: str, context: dict[str, Any]) -> str:
    if "{{" not in source and "{%" not in source:
        return source
    try:
        return str(_compiled(source).render(**context))
    except Exception as exc:  # sandbox violations, undefined names, type errors
        raise TemplateError(message=f"cannot render template {source!r}: {exc}") from exc


def render_value(value: Any, context: dict[str, Any]) -> Any:
    """Render every string inside a JSON value (dicts, lists), leaving other types alone."""
    if isinstance(value, str):
        return render(value, context)
    if isinstance(value, dict):
        return {k: render_value(v, context) for k, v in value.items()}
    if isinstance(value, list):
        return [render_value(v, context) for v in value]
    return value


@lru_cache(maxsize=512)
def _expression(expression: str) -> Any:
    return jmespath.compile(expression)


def search(expression: str, context: dict[str, Any]) -> Any:
    try:
        return _expression(expression).search(context)
    except JMESPathError as exc:
        raise TemplateError(message=f"cannot evaluate {expression!r}: {exc}") from exc
