"""The scan path under test: the app with the demo dataset (per backend, once per module), a
writer from outside the app (another worker process, as far as the app can tell), and a
counter of the SQL statements the app runs, by thread."""

from __future__ import annotations

import base64
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker

from app.factory import create_app
from registry.db import make_engine, make_session_factory
from registry.demo import load_demo
from registry.settings import Settings
from tests.support import empty_tables

# Threads that query on their own schedule; a scan request must not need any other query.
BACKGROUND_THREADS = (
    "scan-watcher",
    "scan-flusher",
    "webhook-deliverer",
    "witness",
    "integrity-check",  # the server's self-check, which now also rebuilds the status index
    "live-board",
    "publisher",
)


@dataclass
class Scan:
    client: TestClient
    app: FastAPI
    summary: dict[str, Any]
    outside: sessionmaker[Session]  # writes the app's own commit hook does not see

    def codes(self, status: str) -> list[str]:
        found = [e["code"] for e in self.summary["endorsements"] if e["status"] == status]
        assert found, f"the demo has no {status} endorsement"
        return found


@dataclass
class Statements:
    """SQL statements run while counting, with the name of the thread that ran each."""

    seen: list[tuple[str, str]] = field(default_factory=list)

    @property
    def by_requests(self) -> list[str]:
        return [sql for thread, sql in self.seen if not thread.startswith(BACKGROUND_THREADS)]


@contextmanager
def counting_statements(app: FastAPI) -> Iterator[Statements]:
    engines = {app.state.engine, app.state.read_session_factory.kw["bind"]}
    statements = Statements()

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.seen.append((threading.current_thread().name, statement))

    for engine in engines:
        event.listen(engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", before)


@pytest.fixture(scope="module")
def scan(
    engine: Engine, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Scan]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("perf") / "data",
        database_url=database_url,
        base_url="http://127.0.0.1:8000",
        master_key=base64.b64encode(secrets.token_bytes(32)).decode(),
    )
    empty_tables(engine)
    outside_engine = make_engine(database_url)
    try:
        with TestClient(create_app(settings, engine)) as client:
            app = client.app
            assert isinstance(app, FastAPI)
            summary = load_demo(app.state.session_factory, app.state.ctx)
            yield Scan(client, app, summary, make_session_factory(outside_engine))
    finally:
        outside_engine.dispose()
        empty_tables(engine)
