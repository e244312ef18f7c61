"""Fixtures of the engine's unit tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.unit.engine.engine_support import Target


@pytest.fixture()
def target() -> Iterator[Target]:
    """A real HTTP server on loopback, stopped after the test."""
    server = Target()
    yield server
    server.stop()
