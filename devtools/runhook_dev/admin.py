"""Operator bootstrap: an organization and its first admin key, straight into the table.

What an operator runs after `sam deploy` (`runhook admin bootstrap --table …`), and what
the local cloud runs to seed its demo organization. Every function takes the Container
(runhook.bootstrap) of the table to write to; without one, the environment's.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from runhook import clock
from runhook.bootstrap import Container
from runhook.models import Principal
from runhook.tasks.definition import validate_definition
from runhook.tasks.task import Task

_NAMESPACE = uuid.UUID("5b1f0a8e-6d4c-4d7e-9a51-0c3a5e2f7b10")
DEMO_ORG_ID = str(uuid.uuid5(_NAMESPACE, "demo-organization"))
DEMO_TASK_ID = str(uuid.uuid5(_NAMESPACE, "demo-task"))
# The local demo organization is a developer's sandbox (and the test suites' default
# caller): generous rate limits so load tests measure the service, not the limiter.
DEMO_SETTINGS: dict[str, object] = {"rateLimitPerSecond": 5000, "rateLimitBurst": 10000}


@dataclass(frozen=True)
class DemoSeed:
    org_id: str
    api_key: str | None  # the secret when created now (or given); None when one existed
    task_id: str


def container_for(table_name: str | None = None, container: Container | None = None) -> Container:
    """`container`, else the environment's; pointed at `table_name` when given (--table)."""
    container = container or Container.from_environment()
    if table_name and table_name != container.settings.table_name:
        settings = container.settings.model_copy(update={"table_name": table_name})
        container = Container(
            settings,
            boto3_session=container.session,
            boto_config=container.boto_config,
            endpoint_url=container.endpoint_url,
        )
    return container


def bootstrap_organization(
    name: str,
    *,
    org_id: str | None = None,
    api_key: str | None = None,
    live: bool = True,
    settings: dict[str, object] | None = None,
    container: Container | None = None,
) -> tuple[str, str | None]:
    """Create the organization (if new) and an admin key; returns (org id, secret or None).

    With `api_key` given, that exact key is ensured (idempotent). Otherwise a key is
    made only when the organization has none, so re-running never leaks a new secret.
    """
    auth = (container or Container.from_environment()).auth
    org_id = org_id or clock.new_id()
    auth.create_org(org_id, name, dict(settings) if settings else None)
    if api_key:
        if auth.lookup_key(api_key) is None:
            auth.create_key(org_id, "bootstrap admin", ["admin"], secret=api_key)
        return org_id, api_key
    if auth.list_keys(org_id):
        return org_id, None
    _, secret = auth.create_key(org_id, "bootstrap admin", ["admin"], live=live)
    return org_id, secret


def demo_definition(base_url: str) -> dict[str, object]:
    return {
        "name": "Hello runhook",
        "description": "Greets, checks the API's health over HTTP, waits a second, and reports.",
        "inputs": {
            "type": "object",
            "properties": {
                "name": {"type": "string", "default": "world"},
                "url": {"type": "string", "default": f"{base_url.rstrip('/')}/public/v1/health"},
            },
        },
        "steps": [
            {"id": "greet", "type": "log", "message": "Hello, {{ inputs.name }}!"},
            {
                "id": "check",
                "type": "http",
                "method": "GET",
                "url": "{{ inputs.url }}",
                "timeoutSeconds": 10,
            },
            {"id": "pause", "type": "wait", "seconds": 1},
            {"id": "summary", "type": "transform", "values": {"status": "steps.check.json.status"}},
        ],
        "outputs": {"greeting": "inputs.name", "apiStatus": "steps.summary.status"},
        "timeoutSeconds": 300,
    }


def bootstrap_demo(
    table_name: str | None = None,
    api_key: str | None = None,
    *,
    container: Container | None = None,
) -> DemoSeed:
    """The local cloud's seed: demo organization, admin key, demo task (all idempotent)."""
    container = container_for(table_name, container)
    org_id, secret = bootstrap_organization(
        "Demo organization", org_id=DEMO_ORG_ID, api_key=api_key, live=False, container=container
    )
    if container.tasks.get(DEMO_TASK_ID) is None:
        base_url = container.settings.public_base_url or "http://127.0.0.1:3000"
        definition, errors = validate_definition(demo_definition(base_url))
        if definition is None:
            raise ValueError(f"demo task is invalid: {errors}")
        now = clock.now_iso()
        container.tasks.put_version(
            Task(
                id=DEMO_TASK_ID,
                org_id=org_id,
                version=1,
                created_at=now,
                updated_at=now,
                definition=definition,
            ),
            expected_version=None,
        )
    return DemoSeed(org_id=org_id, api_key=secret, task_id=DEMO_TASK_ID)


def demo_principal() -> Principal:
    return Principal(org_id=DEMO_ORG_ID, key_id="demo", scopes=["admin"])
