"""Run artifacts (browser screenshots): listed and served through short-lived presigned URLs.

The bucket stays private: a caller gets a URL that works for `PRESIGN_SECONDS`, only for
an artifact of a run of its own organization (404 otherwise, never 403).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter

from runhook import clock
from runhook.adapters.artifacts import PRESIGN_SECONDS, Artifact, S3Artifacts
from runhook.api.deps import Caller
from runhook.api.schemas import merged
from runhook.api.strict import StrictJSONRoute
from runhook.errors import NotFound
from runhook.services.runs import visible_run

router = APIRouter(tags=["artifacts"], route_class=StrictJSONRoute)


def _resource(store: S3Artifacts, artifact: Artifact) -> dict[str, Any]:
    expires = clock.iso(clock.now() + timedelta(seconds=PRESIGN_SECONDS))
    return artifact.resource(store.presign(artifact, PRESIGN_SECONDS), expires)


@router.get(
    "/task-runs/{runId}/artifacts",
    summary="A run's artifacts (browser screenshots), each with a short-lived download URL",
    responses=merged(_400="invalid_run_id", _404="run_not_found"),
)
def list_artifacts(runId: str, caller: Caller) -> dict[str, Any]:
    run = visible_run(caller, runId)
    store = S3Artifacts()
    return {
        "runId": run.id,
        "artifacts": [_resource(store, artifact) for artifact in store.list(run.id)],
    }


@router.get(
    "/task-runs/{runId}/artifacts/{name}",
    summary="One artifact of a run, with a short-lived download URL",
    responses=merged(_400="invalid_run_id", _404="run_not_found, artifact_not_found"),
)
def get_artifact(runId: str, name: str, caller: Caller) -> dict[str, Any]:
    run = visible_run(caller, runId)
    store = S3Artifacts()
    artifact = store.get(run.id, name)
    if artifact is None:
        raise NotFound("artifact_not_found")
    return {"artifact": _resource(store, artifact)}
