"""The databases of one ``registry bench`` run: SQLite files in the work directory and
PostgreSQL databases named ``registry_bench_<what>_<pid>``, migrated fresh, dropped at the end."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from registry.db import make_engine, upgrade


class Databases:
    """Fresh databases for one run: SQLite files in the work dir, PostgreSQL databases named
    ``registry_bench_<what>_<pid>`` (dropped by ``drop_all``)."""

    def __init__(self, workdir: Path, postgres_url: str) -> None:
        self.workdir = workdir
        self.postgres_url = postgres_url
        self.created: list[str] = []

    def url(self, backend: str, what: str) -> str:
        if backend == "sqlite":
            return f"sqlite:///{self.workdir / f'{what}.db'}"
        name = f"registry_bench_{what}_{os.getpid()}"
        return make_url(self.postgres_url).set(database=name).render_as_string(hide_password=False)

    def fresh(self, backend: str, what: str) -> str:
        url = self.url(backend, what)
        if backend == "sqlite":
            path = Path(make_url(url).database or "")
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        else:
            self._admin(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')
            self._admin(f'CREATE DATABASE "{make_url(url).database}"')
            self.created.append(url)
        upgrade(url)
        return url

    def _admin(self, statement: str) -> None:
        admin = make_engine(
            make_url(self.postgres_url).set(database="postgres").render_as_string(False),
            isolation_level="AUTOCOMMIT",
            poolclass=NullPool,
        )
        try:
            with admin.connect() as connection:
                connection.execute(text(statement))
        finally:
            admin.dispose()

    def drop_all(self) -> None:
        for url in self.created:
            with contextlib.suppress(Exception):
                self._admin(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')
        self.created.clear()
