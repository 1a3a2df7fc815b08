"""Shared fixtures: every database test runs on SQLite and on PostgreSQL.

The schema is built once per backend by the Alembic migrations (so tests exercise what ships);
each test starts from empty tables. PostgreSQL must be reachable (CI fails loudly if not);
set REGISTRY_TEST_POSTGRES_URL to point elsewhere.
"""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from registry.db import make_engine, make_session_factory, upgrade
from registry.settings import Settings
from tests.support import empty_tables

REPO = Path(__file__).resolve().parents[1]
VECTORS = REPO / "tests" / "vectors"  # public vectors, with their sources and licences
# One database per test process, so parallel runs (several developers, CI) never collide.
# The tests share one database per backend (tables emptied between tests), and an app a
# test leaves running would run the capture jobs of later tests with its own master key. So
# no app of the suite runs a capture worker unless its test asks for one (the EPCIS capture
# tests, and the durable-job tests' subprocess servers).
os.environ["REGISTRY_CAPTURE_WORKER"] = "false"

POSTGRES_URL = os.environ.get(
    "REGISTRY_TEST_POSTGRES_URL",
    f"postgresql+psycopg://postgres@127.0.0.1:5432/registry_test_{os.getpid()}",
)
BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def vectors() -> Path:
    assert VECTORS.is_dir(), f"test vectors not found at {VECTORS}"
    return VECTORS


def _recreate_postgres(url: str, create: bool = True) -> None:
    parsed = make_url(url)
    admin = make_engine(
        parsed.set(database="postgres").render_as_string(hide_password=False),
        isolation_level="AUTOCOMMIT",
        poolclass=NullPool,
    )
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
        if create:
            connection.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'registry.db'}"
        upgrade(url)
        yield url
        return
    url = POSTGRES_URL
    _recreate_postgres(url)
    upgrade(url)
    yield url
    _recreate_postgres(url, create=False)


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def db(engine: Engine) -> Iterator[Engine]:
    """An engine on empty tables (emptied again after the test)."""
    empty_tables(engine)
    yield engine
    empty_tables(engine)


@pytest.fixture
def session_factory(db: Engine) -> sessionmaker[Session]:
    return make_session_factory(db)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        base_url="http://127.0.0.1:8000",
        master_key=base64.b64encode(secrets.token_bytes(32)).decode(),
    )
