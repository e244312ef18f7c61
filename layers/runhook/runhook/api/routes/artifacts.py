"""Run artifacts (browser screenshots): listed and served through short-lived presigned URLs
(runhook.services.artifacts)."""

# No `from __future__ import annotations`: see runhook.api.routes.runs.

from typing import Any

from runhook.api.deps import Artifacts, Caller
from runhook.api.resources import ArtifactList, ArtifactResponse
from runhook.api.routes import api_router
from runhook.api.schemas import merged

router = api_router("artifacts")


@router.get(
    "/task-runs/{runId}/artifacts",
    response_model=ArtifactList,
    summary="A run's artifacts (browser screenshots), each with a short-lived download URL",
    responses=merged(_400="invalid_run_id", _404="run_not_found"),
)
def list_artifacts(runId: str, caller: Caller, artifacts: Artifacts) -> dict[str, Any]:
    run, listed = artifacts.list_artifacts(caller, runId)
    return {"runId": run.id, "artifacts": listed}


@router.get(
    "/task-runs/{runId}/artifacts/{name}",
    response_model=ArtifactResponse,
    summary="One artifact of a run, with a short-lived download URL",
    responses=merged(_400="invalid_run_id", _404="run_not_found, artifact_not_found"),
)
def get_artifact(runId: str, name: str, caller: Caller, artifacts: Artifacts) -> dict[str, Any]:
    return {"artifact": artifacts.get_artifact(caller, runId, name)}
