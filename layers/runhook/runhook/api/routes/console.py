"""`/console`: the web console's files (runhook.console), outside the OpenAPI document.

Served by the API so that the console has the API's origin: its calls to `/public/v1`
need no CORS, and on AWS the HTTP API's catch-all route already reaches this function.
"""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import RedirectResponse

from runhook import console
from runhook.api.routes import operation_id

router = APIRouter(include_in_schema=False, generate_unique_id_function=operation_id)


@router.get("/console")
def console_page() -> Response:
    # A relative base: the page's module and style URLs resolve under /console/.
    return RedirectResponse("/console/", status_code=308, headers=_headers())


@router.get("/console/{name:path}")
def console_file(name: str) -> Response:
    found = console.asset(name)
    if found is None:
        return Response(b"not found", status_code=404, media_type="text/plain", headers=_headers())
    return Response(found.body, media_type=found.content_type, headers=_headers())


def _headers() -> dict[str, str]:
    return console.security_headers(console.local_artifact_origin())
