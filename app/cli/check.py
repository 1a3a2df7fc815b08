"""``registry check``: the registry verifies its own database, without a network."""

from __future__ import annotations

from typing import Annotated

import typer

from app.cli.base import app, fail, session_factory


@app.command()
def check(
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar")] = False,
) -> None:
    """Verify this registry's database: every payload against its leaf, every leaf against
    the stored tree, the tree against the latest checkpoint, each signature. Exit 0: all
    verified; 1: something does not (the first bad log index is named); 2: the database or
    the settings cannot be used."""
    from sqlalchemy.exc import SQLAlchemyError

    from registry.audit.command import run_check
    from registry.errors import RegistryError
    from registry.log.note import parse_vkey
    from registry.operations.bootstrap import bootstrap
    from registry.transparency.log import log_vkey

    settings, factory = session_factory()
    try:
        # The log's origin and key, as the server itself has them.
        ctx = bootstrap(factory, settings)
    except RegistryError as exc:
        fail(exc.detail, code=2)
    except SQLAlchemyError as exc:
        fail(f"the database cannot be used: {exc}", code=2)
    raise typer.Exit(run_check(factory, parse_vkey(log_vkey(ctx)), quiet=quiet))
