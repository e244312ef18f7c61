"""Run artifacts (browser screenshots): listed and served through short-lived presigned URLs.

The bucket stays private: a caller gets a URL that works for `PRESIGN_SECONDS`, only for
an artifact of a run of its own organization (404 otherwise, never 403).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from runhook import clock
from runhook.adapters.artifacts import PRESIGN_SECONDS, Artifact, S3Artifacts
from runhook.errors import NotFound
from runhook.models import Principal, Run
from runhook.services.runs import RunService


class ArtifactService:
    def __init__(self, runs: RunService, store: S3Artifacts) -> None:
        self.runs = runs  # the visibility rule of runs
        self.store = store

    def _resource(self, artifact: Artifact) -> dict[str, Any]:
        expires = clock.iso(clock.now() + timedelta(seconds=PRESIGN_SECONDS))
        return artifact.resource(self.store.presign(artifact, PRESIGN_SECONDS), expires)

    def list_artifacts(self, principal: Principal, run_id: str) -> tuple[Run, list[dict[str, Any]]]:
        """The caller's run and its artifacts, each with a download URL."""
        run = self.runs.visible_run(principal, run_id)
        return run, [self._resource(a) for a in self.store.list(run.id)]

    def get_artifact(self, principal: Principal, run_id: str, name: str) -> dict[str, Any]:
        run = self.runs.visible_run(principal, run_id)
        artifact = self.store.get(run.id, name)
        if artifact is None:
            raise NotFound("artifact_not_found")
        return self._resource(artifact)
