"""Fixtures of the engine's integration tests: the engine's actions called in-process
against the local cloud's DynamoDB Local and bus (no state machine in between), so
retries, races and hand-overs can be staged exactly (the `target` HTTP server comes from
tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from runhook import clock
from runhook.models import Run, RunStatus
from runhook.tasks.task import Task

pytestmark = pytest.mark.localcloud


@pytest.fixture()
def make_run(local_cloud: Any, container: Any) -> Callable[..., Run]:
    """`make_run(steps, outputs=None, timeout=600, inputs=None)`: a task version and a PENDING run."""
    from runhook.tasks.definition import validate_definition

    def make(
        steps: list[dict[str, Any]],
        outputs: dict[str, str] | None = None,
        timeout: int = 600,
        inputs: dict[str, Any] | None = None,
    ) -> Run:
        definition, problems = validate_definition(
            {"name": "t", "steps": steps, "outputs": outputs or {}, "timeoutSeconds": timeout}
        )
        assert definition is not None, problems
        now = clock.now()
        task = Task(
            id=clock.new_id(),
            org_id=clock.new_id(),
            version=1,
            created_at=clock.iso(now),
            updated_at=clock.iso(now),
            definition=definition,
        )
        assert container.tasks.put_version(task, expected_version=None)
        run = Run(
            id=clock.new_id(),
            org_id=task.org_id,
            task_id=task.id,
            task_version=1,
            status=RunStatus.PENDING,
            created_at=clock.iso(now),
            steps_total=len(steps),
            inputs=inputs or {},
            deadline=clock.iso(now + timedelta(seconds=timeout)),
        )
        container.runs.create(run)
        return run

    return make
