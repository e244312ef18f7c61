"""Templates (`{{ ... }}`) and JMESPath expressions over a run's context.

Templates render in Jinja2's sandbox: no attribute access to internals, no imports,
no file access. The context is plain JSON data: {inputs, steps, run}; the kinds that
may use organization secrets (http, browser) add `secrets`, a `SecretValues` that
resolves `{{ secrets.NAME }}` on use and records each value it hands out in the step's
`SecretMask` (runhook.engine.redact), so the step can mask it in everything it writes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import jmespath
from jmespath.exceptions import JMESPathError

from runhook.errors import RunhookError

if TYPE_CHECKING:
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    from runhook.engine.redact import SecretMask

SECRET_NAME = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")


class TemplateError(RunhookError):
    code = "template_error"


class SecretNotFound(TemplateError):
    """`{{ secrets.NAME }}` names a secret the organization does not have (any more)."""

    code = "secret_not_found"

    def __init__(self, name: str) -> None:
        super().__init__(
            message=f"secret {name} does not exist (deleted since the task was saved?)"
        )
        self.name = name


class SecretValues(Mapping[str, str]):
    """`secrets` in a template: each `secrets.NAME` resolved on use, never listed.

    `resolve(name)` returns the value or None (missing); every value handed out is added
    to `mask`. Iterating gives nothing: `{{ secrets }}` cannot dump them all."""

    def __init__(self, resolve: Callable[[str], str | None], mask: SecretMask) -> None:
        self._resolve = resolve
        self._mask = mask
        self._cache: dict[str, str] = {}

    def __getitem__(self, name: str) -> str:
        if name not in self._cache:
            value = self._resolve(name) if SECRET_NAME.match(name) else None
            if value is None:
                raise SecretNotFound(name)
            self._mask.add(value)
            self._cache[name] = value
        return self._cache[name]

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0

    def __repr__(self) -> str:
        return "<secrets>"


@lru_cache(maxsize=1)
def _env() -> ImmutableSandboxedEnvironment:
    """The one sandboxed environment, built on first use: Jinja2 costs ~100 ms of import,
    which a function's cold start pays only when it first renders or checks a template."""
    from jinja2 import StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    return ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


def check_template(source: str) -> str | None:
    """The syntax error in `source`, or None when it compiles."""
    from jinja2 import TemplateSyntaxError

    try:
        _env().parse(source)
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
    return _env().from_string(source)


def render(source: str, context: dict[str, Any]) -> str:
    if "{{" not in source and "{%" not in source:
        return source
    try:
        return str(_compiled(source).render(**context))
    except SecretNotFound:
        raise
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


def secret_references(source: str) -> tuple[set[str], bool]:
    """The secret names `source` references (`secrets.NAME`, `secrets["NAME"]`), and
    whether it uses `secrets` any other way (a computed name, the whole mapping), which
    a saved task may not: its references must be checkable when it is saved."""
    if "secrets" not in source:
        return set(), False
    from jinja2 import TemplateSyntaxError, nodes

    try:
        tree = _env().parse(source)
    except TemplateSyntaxError:
        return set(), False
    names: set[str] = set()
    direct: set[int] = set()
    for attr in tree.find_all(nodes.Getattr):
        if isinstance(attr.node, nodes.Name) and attr.node.name == "secrets":
            names.add(attr.attr)
            direct.add(id(attr.node))
    for item in tree.find_all(nodes.Getitem):
        target, arg = item.node, item.arg
        if not (isinstance(target, nodes.Name) and target.name == "secrets"):
            continue
        if isinstance(arg, nodes.Const) and isinstance(arg.value, str):
            names.add(arg.value)
            direct.add(id(target))
    uses = [n for n in tree.find_all(nodes.Name) if n.name == "secrets"]
    return names, any(id(n) not in direct for n in uses)


@lru_cache(maxsize=512)
def _expression(expression: str) -> Any:
    return jmespath.compile(expression)


def search(expression: str, context: dict[str, Any]) -> Any:
    try:
        return _expression(expression).search(context)
    except JMESPathError as exc:
        raise TemplateError(message=f"cannot evaluate {expression!r}: {exc}") from exc
