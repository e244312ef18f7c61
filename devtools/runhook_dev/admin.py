"""Operator bootstrap: an organization and its first admin key, straight into the table.

What an operator runs after `sam deploy` (`runhook admin bootstrap --table …`), and what
the local cloud runs to seed its demo organization.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass

from runhook import aws, clock
from runhook.dal import auth as auth_dal
from runhook.dal import tasks as tasks_dal
from runhook.models import Principal, Task
from runhook.settings import get_settings, reset_settings
from runhook.tasks.definition import validate_definition

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


def use_table(table_name: str | None) -> None:
    """Point the repositories at `table_name` (the CLI's --table)."""
    if table_name and table_name != get_settings().table_name:
        os.environ["TABLE_NAME"] = table_name
        reset_settings()
        aws.reset_clients()


def bootstrap_organization(
    name: str,
    *,
    org_id: str | None = None,
    api_key: str | None = None,
    live: bool = True,
    settings: dict[str, object] | None = None,
) -> tuple[str, str | None]:
    """Create the organization (if new) and an admin key; returns (org id, secret or None).

    With `api_key` given, that exact key is ensured (idempotent). Otherwise a key is
    made only when the organization has none, so re-running never leaks a new secret.
    """
    org_id = org_id or clock.new_id()
    auth_dal.put_org(org_id, name, settings)
    if api_key:
        if auth_dal.lookup_key(api_key) is None:
            auth_dal.create_key(org_id, "bootstrap admin", ["admin"], secret=api_key)
        return org_id, api_key
    if auth_dal.list_keys(org_id):
        return org_id, None
    _, secret = auth_dal.create_key(org_id, "bootstrap admin", ["admin"], live=live)
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


def bootstrap_demo(table_name: str | None = None, api_key: str | None = None) -> DemoSeed:
    """The local cloud's seed: demo organization, admin key, demo task (all idempotent)."""
    use_table(table_name)
    org_id, secret = bootstrap_organization(
        "Demo organization", org_id=DEMO_ORG_ID, api_key=api_key, live=False
    )
    if tasks_dal.get_task(DEMO_TASK_ID) is None:
        definition, errors = validate_definition(
            demo_definition(get_settings().public_base_url or "http://127.0.0.1:3000")
        )
        if definition is None:
            raise ValueError(f"demo task is invalid: {errors}")
        now = clock.now_iso()
        tasks_dal.put_new_version(
            Task(
                id=DEMO_TASK_ID,
                org_id=org_id,
                version=1,
                created_at=now,
                updated_at=now,
                definition=definition.model_dump(exclude_none=True),
            ),
            expected_version=None,
        )
    return DemoSeed(org_id=org_id, api_key=secret, task_id=DEMO_TASK_ID)


def demo_principal() -> Principal:
    return Principal(org_id=DEMO_ORG_ID, key_id="demo", scopes=["admin"])
