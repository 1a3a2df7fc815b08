"""Fixtures of the endorsement tests: a fresh small world per test (see ``world.py``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from registry.settings import Settings
from tests.endorsements.world import World, build_world


@pytest.fixture
def world(settings: Settings, db: Engine) -> Iterator[World]:
    with build_world(settings, db) as built:
        yield built


@pytest.fixture
def threshold_world(settings: Settings, db: Engine) -> Iterator[World]:
    """The same world, but the Aohan authority requires two officials to sign."""
    with build_world(settings, db, approvals_required=2) as built:
        yield built
