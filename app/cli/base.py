"""The ``registry`` command's skeleton: the Typer apps every command hangs on, and the
helpers they share (the messages' language, a one-line failure and a session factory from
the settings)."""

from __future__ import annotations

import os
from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy.orm import Session, sessionmaker

from registry.db import make_engine, make_session_factory
from registry.i18n import cli_language, gettext_for
from registry.settings import Settings, get_settings

app = typer.Typer(
    no_args_is_help=True, help="Guarantee Registry: signed evidence behind endorsements."
)
db_app = typer.Typer(no_args_is_help=True, help="Database maintenance.")
keys_app = typer.Typer(no_args_is_help=True, help="Client-held signing keys.")
admin_app = typer.Typer(no_args_is_help=True, help="Organizations, accounts and API tokens.")
log_app = typer.Typer(no_args_is_help=True, help="The log's identity.")
app.add_typer(db_app, name="db")
app.add_typer(log_app, name="log")
app.add_typer(keys_app, name="keys")
app.add_typer(admin_app, name="admin")
err = Console(stderr=True, soft_wrap=True)
"""Where messages meant for people go: standard error, so standard output stays data. Soft
wrap: a message is never broken into lines (a URL or a path stays whole for copy and grep)."""


def _(message: str) -> str:
    """A message for people in the language of the environment (``LC_ALL``, ``LC_MESSAGES``,
    ``LANG``; ``registry.i18n.cli_language``): English unless it asks for Chinese. Read at
    each call, so the environment a command runs in decides. Data (JSON, ids, tokens) is never
    translated."""
    return gettext_for(cli_language(os.environ))(message)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print ``error: message`` on standard error and exit with ``code`` (1 failure, 2 usage).

    One line, however long (no wrapping), and the message is text, not Rich markup: a
    message quoting ``['key_id', ...]`` prints as written."""
    label = _("错误：")
    err.print(f"[red]{label}[/red] {escape(message)}")
    raise typer.Exit(code)


def session_factory() -> tuple[Settings, sessionmaker[Session]]:
    """The settings and a session factory for the database they name."""
    settings = get_settings()
    return settings, make_session_factory(make_engine(settings.effective_database_url))
