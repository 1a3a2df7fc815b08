"""Alembic environment: runs against the URL the registry (or alembic.ini) gives it."""

from __future__ import annotations

from alembic import context
from sqlalchemy import pool

from registry.db import make_engine
from registry.models import Base
from registry.settings import get_settings

config = context.config
"""The Alembic configuration this run was started with (``registry.db.alembic_config``)."""

target_metadata = Base.metadata
"""The models' metadata, which autogenerate compares the database against."""


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    return url or get_settings().effective_database_url


def run_migrations_offline() -> None:
    """Emit the migrations as SQL for the URL, without connecting (``alembic --sql``)."""
    context.configure(url=_url(), target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations on the caller's connection if it passed one, else on a new engine.

    ``render_as_batch`` lets SQLite alter tables by copying them (it has no ALTER COLUMN).
    """
    connectable = config.attributes.get("connection")
    if connectable is not None:
        context.configure(
            connection=connectable, target_metadata=target_metadata, render_as_batch=True
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(_url(), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection, target_metadata=target_metadata, render_as_batch=True
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
