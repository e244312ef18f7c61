"""Fixtures for the tests of the local cloud itself."""

from __future__ import annotations

import uuid

import pytest


@pytest.fixture()
def unique() -> str:
    """A short suffix that keeps names of one test apart from the others."""
    return uuid.uuid4().hex[:8]
