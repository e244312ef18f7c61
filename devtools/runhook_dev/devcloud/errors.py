"""The one error the local cloud raises for what it cannot do (a port taken, no Java, ...)."""

from __future__ import annotations


class LocalCloudError(RuntimeError):
    """The local cloud could not start (or is not running)."""
