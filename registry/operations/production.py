"""What a production registry refuses to start with, beyond its settings (which refuse a
missing, development-generated or low-entropy master key): demo accounts that still open
with the demo's published password (docs/security.md, "Production")."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from registry.demo.credentials import accounts_with_demo_password
from registry.errors import ConfigurationError
from registry.settings import Mode, Settings

DISABLE_COMMAND = "registry admin disable-demo-accounts"
"""The command that turns the demo accounts off, named in the refusal."""


def check_production_start(factory: sessionmaker[Session], settings: Settings) -> None:
    """In production mode, refuse (``ConfigurationError``) a database where an account of
    the demo still logs in with the published demo password: anyone who has read the README
    could sign as it. Nothing is checked in development mode."""
    if settings.mode is not Mode.PRODUCTION:
        return
    with factory() as session:
        exposed = [account.username for account in accounts_with_demo_password(session)]
    if exposed:
        raise ConfigurationError(
            f"{len(exposed)} demo account(s) still log in with the published demo password "
            f"({', '.join(exposed)}); refusing to start in production. Disable them with "
            f"'{DISABLE_COMMAND}' (then create your own administrator with "
            "'registry admin create-account --organization operator --role admin ...')",
            accounts=exposed,
        )
