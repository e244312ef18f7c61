"""The local cloud behind `runhook dev` and the pytest fixture (README.md here).

Nothing deployed imports this package. Importing it is cheap (the names below load on
first use); moto, werkzeug, uvicorn and boto3 are imported when a `LocalCloud` starts.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runhook_dev.devcloud.cloud import LocalCloud
    from runhook_dev.devcloud.dynamodb_local import ensure_jar
    from runhook_dev.devcloud.errors import LocalCloudError
    from runhook_dev.devcloud.event_sources import EventSourceHandle
    from runhook_dev.devcloud.options import CloudOptions

__all__ = ["CloudOptions", "EventSourceHandle", "LocalCloud", "LocalCloudError", "ensure_jar"]

_HOMES = {
    "CloudOptions": "runhook_dev.devcloud.options",
    "EventSourceHandle": "runhook_dev.devcloud.event_sources",
    "LocalCloud": "runhook_dev.devcloud.cloud",
    "LocalCloudError": "runhook_dev.devcloud.errors",
    "ensure_jar": "runhook_dev.devcloud.dynamodb_local",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
