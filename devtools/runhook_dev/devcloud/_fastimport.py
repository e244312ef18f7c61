"""Keep moto's import cost down (it is most of the local cloud's start-up time).

moto's Step Functions interpreter imports ``moto.batch.utils`` for one enum, and
``moto.batch/__init__`` pulls in the whole EC2 model (~2 s of CPU). `defer_moto_batch`
registers ``moto.batch`` as a package whose ``__init__`` runs on first attribute
access instead of at import: submodules import as usual, and anything that really
uses moto's Batch (``moto.batch.batch_backends``) still gets the real package.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from typing import Any


class _DeferredPackage(types.ModuleType):
    def __getattr__(self, name: str) -> Any:
        state = self.__dict__
        if state.get("_runhook_loaded") or name.startswith("__"):
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")
        state["_runhook_loaded"] = True
        spec = state["__spec__"]
        with open(spec.origin, encoding="utf-8") as handle:
            code = compile(handle.read(), spec.origin, "exec")
        exec(code, state)  # noqa: S102 - the package's own __init__.py
        return getattr(self, name)


def defer_moto_batch() -> None:
    """Install the deferred ``moto.batch`` package (no-op if already imported)."""
    if "moto.batch" in sys.modules:
        return
    spec = importlib.util.find_spec("moto.batch")
    if spec is None or spec.origin is None or not spec.submodule_search_locations:
        return
    package = _DeferredPackage("moto.batch")
    package.__spec__ = spec
    package.__file__ = spec.origin
    package.__path__ = list(spec.submodule_search_locations)
    package.__package__ = "moto.batch"
    package.__loader__ = spec.loader
    sys.modules["moto.batch"] = package
    import moto

    moto.batch = package  # type: ignore[attr-defined]  # as the import system would
