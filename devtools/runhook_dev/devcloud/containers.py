"""Dependencies instead of environment: each function gets a Container of its own.

The code layer's contract: `runhook.bootstrap.Container(settings, *, boto3_session=None,
boto_config=None)` builds one container's dependencies (lazily, once), and each
`functions/<name>/app.py` exposes `create_handler(container) -> handler` next to its
module-level `handler = create_handler()`. On AWS a container is a process; locally
every function shares this process, so instead of putting the functions' variables into
os.environ the local cloud builds one Container per function from that function's
environment (`EnvironmentPlan.for_function`) and a boto3 session aimed at the local AWS
endpoint (`clients.LocalSession`), and calls `create_handler(container)`.

`HandlerWiring` is the registry's `resolve_handler` when a `CloudOptions.container_factory`
is set. It falls back to today's way (the module's Handler attribute, configured by
os.environ) when the module has no `create_handler`, when the Handler names another
attribute than `handler`, or when the factory returns None: `bootstrap_container` does
while `runhook.bootstrap` does not exist.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from runhook_dev.devcloud.registry import Handler, LocalFunction, module_attribute

log = logging.getLogger("devcloud.lambda")

# (the function's environment, a boto3 session for the local endpoint) → a Container, or
# None when containers are not available (then the handler is configured by os.environ).
ContainerFactory = Callable[[Mapping[str, str], Any], object | None]

BOOTSTRAP_MODULE = "runhook.bootstrap"
FACTORY_ATTRIBUTE = "create_handler"
HANDLER_ATTRIBUTE = "handler"


def bootstrap_container(environment: Mapping[str, str], session: Any) -> object | None:
    """`runhook.bootstrap.Container` for one function; None while that module is missing."""
    try:
        bootstrap = importlib.import_module(BOOTSTRAP_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name != BOOTSTRAP_MODULE:
            raise  # the module exists and failed to import: say so
        return None
    from runhook.settings import Settings

    settings = Settings.model_validate(dict(environment))
    return bootstrap.Container(settings, boto3_session=session)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class HandlerWiring:
    """A `registry.HandlerResolver` that hands each function its own Container."""

    container_factory: ContainerFactory
    environment: Callable[[LocalFunction], Mapping[str, str]]
    session: Callable[[], Any]

    def __call__(self, module: ModuleType, attribute: str, function: LocalFunction) -> Handler:
        create_handler = getattr(module, FACTORY_ATTRIBUTE, None)
        if attribute != HANDLER_ATTRIBUTE or not callable(create_handler):
            return module_attribute(module, attribute, function)
        container = self.container_factory(self.environment(function), self.session())
        if container is None:
            return module_attribute(module, attribute, function)
        log.debug("%s: create_handler(<its own container>)", function.name)
        handler = create_handler(container)
        if not callable(handler):
            raise TypeError(f"{module.__name__}.{FACTORY_ATTRIBUTE}() returned {handler!r}")
        return handler  # type: ignore[no-any-return]
