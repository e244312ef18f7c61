"""The API's cold-start baseline (benchmark 1): a one-route FastAPI app behind Mangum.

A file, imported by path as a Lambda handler is (benchmarks/coldstart.py), not code run
from a string: FastAPI reads an endpoint's source lines on its first request
(`inspect.getsourcelines`, for its error messages), which a real handler pays and code
without a source file would skip.
"""

from __future__ import annotations

import fastapi
import mangum

app = fastapi.FastAPI()


@app.get("/public/v1/task-runs/{run_id}")
def get_run(run_id: str) -> dict[str, str]:
    return {"id": run_id}


handler = mangum.Mangum(app, lifespan="off")
