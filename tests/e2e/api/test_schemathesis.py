"""Schemathesis against the API the local cloud serves (real HTTP), in every phase.

An independent fuzzer reads the OpenAPI document and checks that what the API answers is
what the document says: no 5xx (`not_a_server_error`), only documented status codes
(`status_code_conformance`), documented content types (`content_type_conformance`) and
bodies that match their schemas (`response_schema_conformance`). The stateless phases
(examples, coverage, fuzzing) run per operation through `schema.parametrize()`; the
stateful phase follows the document's links (create a task, run it, read the run, ...)
through `schema.as_state_machine()`. It complements tests/integration/api/test_security.py
(our own Hypothesis fuzz), it does not replace it.

Time-boxed and reproducible: a fixed seed, deterministic generation, a small number of
examples per operation and of steps per scenario (3 to 5 minutes on the local cloud,
depending on load).

Every PATCH of the organization is followed by putting its settings back (generous rate
limits, a quota of a few runs), straight into the table: an allowlist the fuzzer saved
with `force` or a slow rate limit would otherwise turn every later call into a 403 or 429
and test nothing. The quota bounds how many generated tasks actually run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from runhook.models import OrganizationSettings
from tests.support.orgs import Organization, Organizations

pytestmark = [
    pytest.mark.localcloud,
    pytest.mark.slow,
    pytest.mark.xdist_group("schemathesis"),  # one local cloud's worth of load at a time
]

SEED = 20251213
MAX_EXAMPLES = 5  # per operation and phase
STATEFUL_SCENARIOS = 10
STATEFUL_STEPS = 6
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
FUZZ_SETTINGS = OrganizationSettings(
    rateLimitPerSecond=5000, rateLimitBurst=10000, monthlyRunQuota=5, ipAllowlist=[]
)


@pytest.fixture(scope="module")
def fuzz_org(organizations: Organizations) -> Organization:
    return organizations.create("Schemathesis", settings=FUZZ_SETTINGS.stored())


@pytest.fixture(scope="module")
def reset_org(container: Any, fuzz_org: Organization) -> Callable[[], None]:
    """Put the organization's settings back, in-process (see the module docstring)."""

    def reset() -> None:
        assert container.auth.update_org_settings(fuzz_org.id, FUZZ_SETTINGS)

    return reset


@pytest.fixture(scope="module")
def api_schema(organizations: Organizations, fuzz_org: Organization) -> Any:
    config = schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "headers": {"Authorization": f"Bearer {fuzz_org.key}"},
            "request-timeout": 30,
            "generation": {
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                "database": "none",
            },
            # The task body (the whole task definition schema) has hundreds of boundary
            # cases: the coverage phase alone took ~3 minutes for its two operations. They
            # keep the examples, fuzzing and stateful phases (and test_security.py's fuzz).
            "operations": [
                {
                    "include-path-regex": r"/tasks(/\{taskId\})?$",
                    "include-method": ["POST", "PUT"],
                    "phases": {"coverage": {"enabled": False}},
                }
            ],
            "phases": {
                "examples": {"enabled": True},
                # Boundary values of every parameter and body field, positive and negative;
                # not every other HTTP method on every path (405s, hundreds of calls).
                "coverage": {
                    "enabled": True,
                    "unexpected-methods": [],
                    "generate-duplicate-query-parameters": False,
                },
                "fuzzing": {"enabled": True},
                "stateful": {"enabled": True, "max-steps": STATEFUL_STEPS},
            },
        }
    )
    # The document has no `servers`: its paths are absolute, from the cloud's origin.
    return schemathesis.openapi.from_url(f"{organizations.api_base}/openapi.json", config=config)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@pytest.mark.timeout(600)  # every operation, each a subtest, inside this one test
@settings(deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_every_operation_answers_as_documented(
    case: schemathesis.Case, reset_org: Callable[[], None]
) -> None:
    case.call_and_validate(checks=CHECKS)
    if case.method.upper() == "PATCH" and case.path.endswith("/organization"):
        reset_org()


def test_linked_operations_answer_as_documented(
    api_schema: Any, reset_org: Callable[[], None]
) -> None:
    """The stateful phase: sequences of calls along the document's links."""

    class Scenario(api_schema.as_state_machine()):  # type: ignore[misc]
        def after_call(self, response: Any, case: schemathesis.Case) -> None:
            if case.method.upper() == "PATCH" and case.path.endswith("/organization"):
                reset_org()

        def validate_response(self, response: Any, case: schemathesis.Case, **kwargs: Any) -> None:
            case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs)

    Scenario.run(
        settings=settings(
            max_examples=STATEFUL_SCENARIOS,
            stateful_step_count=STATEFUL_STEPS,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
            phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target],
        )
    )
