"""The web console's static files and the headers they are served with.

The console is a browser client of the public API (docs/console.md): HTML, CSS and ES
modules under `static/`, served at `/console` by the API itself (runhook.api.routes.console)
so that it has the API's origin (no CORS) locally and on AWS. This module knows nothing of
HTTP frameworks: it resolves a requested name to a shipped file and says which headers the
answer carries, so the rules are testable without a server.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

STATIC = Path(__file__).parent / "static"

# Only these suffixes are served: anything else under static/ (or a name with another
# suffix) is a 404, so a stray file never becomes part of the console by accident.
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}


@dataclass(frozen=True)
class Asset:
    body: bytes
    content_type: str


@cache
def _assets() -> dict[str, Asset]:
    """Every shipped file by its path under static/ (read once: they never change)."""
    found = {}
    for path in sorted(STATIC.rglob("*")):
        if path.is_file() and path.suffix in CONTENT_TYPES:
            name = path.relative_to(STATIC).as_posix()
            found[name] = Asset(path.read_bytes(), CONTENT_TYPES[path.suffix])
    return found


def asset(name: str) -> Asset | None:
    """The file `name` ("" is the page itself); None for anything not shipped. Names are
    looked up in the table of shipped files, never joined to a path, so `..` finds nothing."""
    return _assets().get(name or "index.html")


def security_headers(artifact_origin: str | None = None) -> dict[str, str]:
    """The headers of every console answer.

    Scripts and styles only from the console's own files (no inline script, no inline event
    handler, no eval), API calls only to the same origin, never framed, no Referer sent.
    Images may also come from the artifacts store: a screenshot is shown from its presigned
    URL (https on AWS; `artifact_origin`, the local cloud's endpoint, on a laptop).
    """
    images = "'self' data: https:"
    if artifact_origin:
        images += f" {artifact_origin}"
    policy = "; ".join(
        (
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            f"img-src {images}",
            "connect-src 'self'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        )
    )
    return {
        "Content-Security-Policy": policy,
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Cache-Control": "no-cache",
    }


def local_artifact_origin() -> str | None:
    """The origin presigned artifact URLs point at when an endpoint override is set (the
    local cloud's moto server); None on AWS, where they are https and already allowed."""
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if not endpoint:
        return None
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"
