"""The demo data every fresh local cloud starts with, so the README's first curl works.

A demo organization, an admin key and a demo task (`runhook_dev.admin.bootstrap_demo`,
idempotent). The key is `dev_api_key`, else `$RUNHOOK_DEV_API_KEY`, else generated and
returned once (None when the organization already had one: a restart never prints a
new secret).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from runhook_dev.devcloud.options import DEV_API_KEY_ENV

if TYPE_CHECKING:
    from runhook_dev.admin import DemoSeed


def seed_demo(
    table_name: str, dev_api_key: str | None = None, container: Any | None = None
) -> DemoSeed:
    """Seed through `container` (the API function's), else one from the environment."""
    from runhook_dev.admin import bootstrap_demo

    key = dev_api_key or os.environ.get(DEV_API_KEY_ENV) or None
    return bootstrap_demo(table_name, key, container=container)
