"""Fixtures of the security tests, on SQLite and PostgreSQL (the shared ``db`` fixture).

``world`` is the endorsement tests' world (``tests/endorsements/world.py``): two authorities
(Aohan Banner 150430 with officials ``head`` and ``deputy``; Shan County 371722 with
``far_head``), two cooperatives (``coop`` in Aohan, ``far_coop`` in Shan County), a mill and
a lab, each account with a custodial key and an API token.
"""

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
