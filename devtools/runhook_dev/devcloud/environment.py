"""The environment each handler gets, and the few os.environ writes that remain.

A deployed function sees its template `Environment.Variables` (Globals + its own) and
Lambda's own variables. Locally, `EnvironmentPlan` adds what points the code at the
local cloud (`local_variables`) and the caller's overrides:

- `for_function(fn)`: one function's environment (what its Container is built from);
- `union`: every function's variables together (the deployer refuses a variable two
  functions give different values), the local variables and the overrides: the
  `LocalCloud.environment` attribute, and what os.environ gets while handlers are
  configured through it (no container factory);
- `process(...)`: what os.environ gets.

`ProcessEnvironment` applies that to os.environ and undoes it on stop. The writes that
remain even when every handler gets a Container of its own:

- `MOTO_PORT` (always, before moto is imported): moto's Step Functions interpreter
  sends every AWS call of a Task to ``localhost:$MOTO_PORT`` and reads nothing else;
- the in-process API's environment (the template's API function: local variables and
  overrides included): uvicorn serves `runhook.api.app:app` in this process and that
  module configures itself from os.environ; the demo seed (`runhook_dev.admin`) and the
  test process's own code (tests and benchmarks call `runhook.dal`/`runhook.aws` and
  read `get_settings()`) rely on the same variables. Tools should prefer
  `cloud.session()`/`cloud.client()`, which need no environment.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from runhook_dev.devcloud.cfn import REGION
from runhook_dev.devcloud.options import STAGE
from runhook_dev.devcloud.registry import LocalFunction

ENDPOINT_PREFIX = "AWS_ENDPOINT_URL_"


def local_variables(
    endpoint_url: str, api_url: str, shell: Mapping[str, str] | None = None
) -> dict[str, str]:
    """What points a handler at the local cloud (on top of its template Environment)."""
    shell = os.environ if shell is None else shell
    values = {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "ALLOW_PRIVATE_TARGETS": "true",
        "PUBLIC_BASE_URL": api_url,
        "STAGE": STAGE,
    }
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        if not shell.get(key):
            values[key] = "test"
    # Service-specific endpoints from the shell would bypass the dispatcher.
    for key in shell:
        if key.startswith(ENDPOINT_PREFIX):
            values[key] = endpoint_url
    return values


@dataclass(frozen=True)
class EnvironmentPlan:
    """The environments of one deployment (see the module's docstring)."""

    deployed: Mapping[str, str]  # the union of the functions' template variables
    local: Mapping[str, str]  # `local_variables(...)`
    overrides: Mapping[str, str] = field(default_factory=dict)

    @property
    def union(self) -> dict[str, str]:
        return {**self.deployed, **self.local, **self.overrides}

    def for_function(self, function: LocalFunction) -> dict[str, str]:
        return {**function.environment, **self.local, **self.overrides}

    def process(
        self, *, containers: bool, api_functions: Iterable[LocalFunction] = ()
    ) -> dict[str, str]:
        """What os.environ gets: the union, or (with containers) the in-process API's."""
        if not containers:
            return self.union
        api: dict[str, str] = {}
        for function in api_functions:
            api.update(function.environment)
        return {**api, **self.local, **self.overrides}


class ProcessEnvironment:
    """os.environ writes with their undo (one LocalCloud per process at a time)."""

    def __init__(self) -> None:
        self._saved: dict[str, str | None] = {}

    def apply(self, values: Mapping[str, str]) -> None:
        """Set `values` (remembering what was there)."""
        for key, value in values.items():
            if key not in self._saved:
                self._saved[key] = os.environ.get(key)
            os.environ[key] = value

    def restore(self) -> None:
        """Put back what was there before `apply` (idempotent)."""
        for key, value in self._saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved = {}
