"""Engines, sessions and migrations.

SQLite runs in WAL mode with a busy timeout, and every SQLite write transaction begins
IMMEDIATE: appends to the log read then write, and a deferred transaction that later
upgrades to a write fails at once (SQLITE_BUSY) instead of waiting its turn. Read-only
requests use a second engine whose transactions begin deferred (WAL readers never block).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, Table, create_engine, event, insert
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
"""The Alembic script directory shipped inside the package (``env.py`` and ``versions/``)."""

IN_LIST_SIZE = 500
"""Values per ``IN (...)`` list: far below either database's bound-parameter limit."""

T = TypeVar("T")
"""The element type of ``in_chunks``."""


def in_chunks(values: Sequence[T], size: int = IN_LIST_SIZE) -> Iterator[Sequence[T]]:
    """``values`` in slices of at most ``size``, one ``IN (...)`` list each."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


def insert_rows(connection: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` (dicts with the same keys, every column without a default) into
    ``table`` in the connection's transaction.

    On PostgreSQL this is one ``COPY ... FROM STDIN``: an executemany ``INSERT``, even
    pipelined, costs the server and the client several times more per row (docs/
    performance.md), and ingestion writes three or four rows per record. Values go through
    the columns' own bind processing first, as they would for an ``INSERT``. Elsewhere, an
    executemany ``INSERT``.
    """
    if not rows:
        return
    dialect = connection.dialect
    if dialect.name != "postgresql":
        connection.execute(insert(table), rows)
        return
    names = list(rows[0])
    unnamed = [c.name for c in table.c if c.name not in names and c.default is not None]
    if unnamed:  # COPY would not apply them
        raise ValueError(f"insert_rows into {table.name} without defaulted columns {unnamed}")
    processors = [table.c[name].type._cached_bind_processor(dialect) for name in names]
    quote = dialect.identifier_preparer
    statement = (
        f"COPY {quote.format_table(table)} ({', '.join(quote.quote(n) for n in names)}) FROM STDIN"
    )
    raw = connection.connection.driver_connection
    assert raw is not None
    with raw.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(
                [
                    value if process is None else process(value)
                    for value, process in zip((row[n] for n in names), processors, strict=True)
                ]
            )


def make_engine(url: str, *, immediate: bool = True, **kwargs: Any) -> Engine:
    """An engine for ``url``. On SQLite, ``immediate=False`` gives an engine for read-only
    work whose transactions begin deferred, so readers never queue for the write lock."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"timeout": 30, "check_same_thread": False},
            **kwargs,
        )
        _configure_sqlite(engine, immediate)
        return engine
    if "poolclass" not in kwargs:
        # Keep pool_size + max_overflow above the server's thread-pool size (40): closing a
        # session needs a free thread, and a smaller pool deadlocks under load.
        kwargs.setdefault("pool_size", 20)
        kwargs.setdefault("max_overflow", 30)
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def _configure_sqlite(engine: Engine, immediate: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        # Let SQLAlchemy, not the driver, emit BEGIN (so it can be IMMEDIATE).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions on ``engine`` whose objects stay readable after commit (no expiry)."""
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    with factory() as session, session.begin():
        yield session


def alembic_config(url: str) -> Config:
    """An Alembic configuration for the packaged migrations against ``url``.

    ``%`` is doubled because Alembic's configuration interpolates it (a password may hold one).
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at ``url`` to ``revision`` (an installed registry migrates itself)."""
    command.upgrade(alembic_config(url), revision)


def read_engine_for(engine: Engine) -> Engine:
    """The engine read-only requests use: a deferred-BEGIN twin on SQLite, else ``engine``."""
    if engine.dialect.name != "sqlite":
        return engine
    return make_engine(engine.url.render_as_string(hide_password=False), immediate=False)
