"""Back-office logins: browser sessions, password changes and one-time invite links.

A session or invite token is 256 bits from ``secrets``; the database keeps only its SHA-256
(like API tokens), so reading the database does not let anyone log in. A password change or
an invite redemption ends every session of the account: whoever held the old password is
logged out everywhere.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from registry.accounts.accounts import check_password
from registry.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthenticated
from registry.models import Account, AccountInvite, LoginSession, Role, utcnow

SESSION_LIFETIME = timedelta(hours=12)
"""How long a back-office login lasts."""
SESSION_RETENTION = timedelta(days=7)  # how long an expired session's row is kept
"""How long an ended session's row is kept before housekeeping deletes it."""
INVITE_LIFETIME = timedelta(days=7)
"""How long an invite link can be redeemed."""
MIN_PASSWORD_LENGTH = 10
"""The shortest password the back office accepts."""
# Same parameters as registry.accounts.accounts: argon2id with the library's defaults.
_hasher = PasswordHasher()


def token_hash(token: str) -> str:
    """Lowercase hex SHA-256 of a session or invite token, as stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def _now(now: datetime | None) -> datetime:
    return now or utcnow()


# --- sessions -----------------------------------------------------------------------------


def start_session(
    session: Session, account: Account, now: datetime | None = None
) -> tuple[LoginSession, str]:
    """Open a login session; the plain token (for the cookie) is returned once."""
    if account.disabled_at is not None:
        raise Unauthenticated("this account is disabled")
    # Housekeeping on the account's own rows (indexed): ended sessions are kept a week.
    session.execute(
        delete(LoginSession).where(
            LoginSession.account_id == account.id,
            LoginSession.expires_at < _now(now) - SESSION_RETENTION,
        )
    )
    token = secrets.token_urlsafe(32)
    login = LoginSession(
        account_id=account.id,
        token_hash=token_hash(token),
        created_at=_now(now),
        expires_at=_now(now) + SESSION_LIFETIME,
    )
    session.add(login)
    session.flush()
    return login, token


def authenticate_session(
    session: Session, token: str, now: datetime | None = None
) -> tuple[LoginSession, Account]:
    """The live session behind a cookie token and its account; Unauthenticated otherwise."""
    login = session.scalars(
        select(LoginSession).where(LoginSession.token_hash == token_hash(token))
    ).first()
    if login is None or login.revoked_at is not None:
        raise Unauthenticated("not logged in")
    if login.expires_at <= _now(now):
        raise Unauthenticated("the session has expired; log in again")
    account = session.get(Account, login.account_id)
    if account is None or account.disabled_at is not None:
        raise Unauthenticated("the account is disabled")
    return login, account


def end_session(session: Session, token: str, now: datetime | None = None) -> None:
    """Log out: revoke the session behind ``token`` (no error if there is none)."""
    session.execute(
        update(LoginSession)
        .where(LoginSession.token_hash == token_hash(token), LoginSession.revoked_at.is_(None))
        .values(revoked_at=_now(now))
    )
    session.flush()


def end_all_sessions(session: Session, account: Account, now: datetime | None = None) -> int:
    """Revoke every open session of ``account``; returns how many were open."""
    result = session.execute(
        update(LoginSession)
        .where(LoginSession.account_id == account.id, LoginSession.revoked_at.is_(None))
        .values(revoked_at=_now(now))
    )
    session.flush()
    return int(result.rowcount)  # type: ignore[attr-defined]


# --- passwords ------------------------------------------------------------------------------


def _check_new_password(password: str, confirm: str | None) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            f"a password needs at least {MIN_PASSWORD_LENGTH} characters",
            field="new_password",
            rule="password-too-short",
        )
    if len(password) > 200:
        raise InvalidInput(
            "a password has at most 200 characters", field="new_password", rule="password-too-long"
        )
    if confirm is not None and confirm != password:
        raise InvalidInput(
            "the two new passwords differ", field="confirm_password", rule="password-mismatch"
        )


def change_password(
    session: Session,
    account: Account,
    current: str,
    new: str,
    confirm: str | None = None,
    now: datetime | None = None,
) -> int:
    """Replace the account's password after checking the current one, and end every
    session of the account (the caller opens a fresh one for the browser that asked).
    Returns the number of sessions ended."""
    try:
        check_password(session, account.username, current)
    except Unauthenticated:
        raise InvalidInput(
            "the current password is wrong", field="current_password", rule="wrong-password"
        ) from None
    _check_new_password(new, confirm)
    if new == current:
        raise InvalidInput(
            "the new password is the same as the current one",
            field="new_password",
            rule="password-unchanged",
        )
    account.password_hash = _hasher.hash(new)
    return end_all_sessions(session, account, now)


# --- invites --------------------------------------------------------------------------------


def create_invite(
    session: Session, admin: Account, account: Account, now: datetime | None = None
) -> tuple[AccountInvite, str]:
    """A one-time link token for ``account`` to set its password (administrators only).

    Earlier unused invites of the account stop working: only the newest link is valid."""
    if admin.role is not Role.ADMIN:
        raise Forbidden("only a registry administrator can invite")
    if account.disabled_at is not None:
        raise Conflict("this account is disabled", rule="account-disabled")
    moment = _now(now)
    session.execute(
        update(AccountInvite)
        .where(AccountInvite.account_id == account.id, AccountInvite.used_at.is_(None))
        .values(expires_at=moment)
    )
    token = secrets.token_urlsafe(32)
    invite = AccountInvite(
        account_id=account.id,
        token_hash=token_hash(token),
        created_by=admin.id,
        created_at=moment,
        expires_at=moment + INVITE_LIFETIME,
    )
    session.add(invite)
    session.flush()
    return invite, token


def open_invite(
    session: Session, token: str, now: datetime | None = None
) -> tuple[AccountInvite, Account]:
    """The invite behind a link and its account; NotFound when used, expired or unknown
    (one answer for all three, so a link cannot be probed)."""
    invite = session.scalars(
        select(AccountInvite).where(AccountInvite.token_hash == token_hash(token))
    ).first()
    if invite is None or invite.used_at is not None or invite.expires_at <= _now(now):
        raise NotFound("this invite link has been used, has expired or does not exist")
    account = session.get(Account, invite.account_id)
    if account is None or account.disabled_at is not None:
        raise NotFound("this invite link has been used, has expired or does not exist")
    return invite, account


def redeem_invite(
    session: Session,
    token: str,
    password: str,
    confirm: str | None = None,
    now: datetime | None = None,
) -> Account:
    """Set the invited account's password and use up the link; ends the account's other
    sessions (an invite doubles as an administrator's password reset)."""
    invite, account = open_invite(session, token, now)
    _check_new_password(password, confirm)
    # Use up the link first, conditionally: of two concurrent redemptions only one wins.
    used = session.execute(
        update(AccountInvite)
        .where(AccountInvite.id == invite.id, AccountInvite.used_at.is_(None))
        .values(used_at=_now(now))
    )
    if used.rowcount != 1:  # type: ignore[attr-defined]
        raise NotFound("this invite link has been used, has expired or does not exist")
    account.password_hash = _hasher.hash(password)
    end_all_sessions(session, account, now)
    session.flush()
    return account
