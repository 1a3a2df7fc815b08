"""The demo accounts' published password, outside the demo: which accounts still open with
it, and turning them off, so a database that once held the demo can go to production."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.accounts import accounts as account_service
from registry.demo.people import DEMO_PASSWORD, PEOPLE
from registry.models import Account, utcnow


def accounts_with_demo_password(session: Session) -> list[Account]:
    """The enabled accounts named like a demo account whose password is still the published
    demo password, by username.

    The demo hashes its one password once, so the accounts share a hash: each distinct hash
    is verified once (Argon2 costs a quarter of a second), not each account."""
    usernames = [person.username for person in PEOPLE]
    candidates = session.scalars(
        select(Account)
        .where(
            Account.username.in_(usernames),
            Account.disabled_at.is_(None),
            Account.password_hash.is_not(None),
        )
        .order_by(Account.username)
    )
    opens: dict[str, bool] = {}
    found = []
    for account in candidates:
        assert account.password_hash is not None
        if account.password_hash not in opens:
            opens[account.password_hash] = account_service.password_matches(
                account.password_hash, DEMO_PASSWORD
            )
        if opens[account.password_hash]:
            found.append(account)
    return found


def disable_demo_accounts(session: Session) -> list[str]:
    """Disable every account ``accounts_with_demo_password`` finds (their tokens and
    sessions stop working at once); return their usernames."""
    disabled = []
    for account in accounts_with_demo_password(session):
        account.disabled_at = utcnow()
        disabled.append(account.username)
    session.flush()
    return disabled
