"""Organizations, accounts and API tokens."""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.orm import Session

from registry import places
from registry.accounts.queries import account_by_username
from registry.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthenticated
from registry.gs1 import gtin_check_digit
from registry.models import Account, ApiToken, Organization, OrgKind, Role, utcnow
from registry.records.fields import check_text

TOKEN_PREFIX = "grt_"  # noqa: S105 - a public prefix that makes leaked tokens greppable
"""How every plain API token begins, so a leaked one is easy to find and revoke."""

_hasher = PasswordHasher()
_REGION_RE = re.compile(r"^[1-8][0-9]{5}$")
_USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")

TOKEN_LIFETIME_MAX = timedelta(days=730)
"""The longest an API token may be issued for: a token that outlives two years of staff
changes is a token nobody remembers to revoke (docs/security.md)."""


def create_organization(
    session: Session,
    *,
    kind: OrgKind,
    name_zh: str,
    name_en: str,
    region_code: str,
    gln: str | None = None,
    jurisdiction: str | None = None,
    approvals_required: int = 1,
    id: uuid.UUID | None = None,
) -> Organization:
    """Register an organization: a GB/T 2260 region, a GS1 GLN if it has one (unique, with a valid
    check digit), and for an authority its jurisdiction (a prefix of its region) and how many
    officials must approve an endorsement (1-3)."""
    check_text(name_zh, "name_zh")
    check_text(name_en, "name_en")
    if not _REGION_RE.match(region_code):
        raise InvalidInput(
            f"region_code {region_code!r} is not a 6-digit GB/T 2260 code", field="region_code"
        )
    places.check_region("region_code", region_code)
    if kind is OrgKind.AUTHORITY:
        if not jurisdiction or not region_code.startswith(jurisdiction):
            raise InvalidInput(
                "an authority needs a jurisdiction: a prefix of its own region code (e.g. 1504)",
                field="jurisdiction",
            )
        places.check_jurisdiction("jurisdiction", jurisdiction)
    elif jurisdiction:
        raise InvalidInput("only an authority has a jurisdiction")
    if not 1 <= approvals_required <= 3 or (
        approvals_required > 1 and kind is not OrgKind.AUTHORITY
    ):
        raise InvalidInput("approvals_required is 1-3, and above 1 only for an authority")
    if gln is not None:
        if not (
            gln.isascii()
            and gln.isdigit()
            and len(gln) == 13
            and gtin_check_digit(gln[:-1]) == gln[-1]
        ):
            raise InvalidInput(f"GLN {gln!r} must be 13 digits with a valid check digit")
        if session.scalars(select(Organization).where(Organization.gln == gln)).first():
            raise Conflict(f"GLN {gln} is already registered", rule="duplicate-gln")
    org = Organization(
        id=id or uuid.uuid4(),
        kind=kind,
        name_zh=name_zh,
        name_en=name_en,
        region_code=region_code,
        gln=gln,
        jurisdiction=jurisdiction,
        approvals_required=approvals_required,
    )
    session.add(org)
    session.flush()
    return org


def get_organization(session: Session, org_id: uuid.UUID) -> Organization:
    """The organization with this id; ``NotFound`` if there is none."""
    org = session.get(Organization, org_id)
    if org is None:
        raise NotFound(f"no organization {org_id}")
    return org


def get_account(session: Session, account_id: uuid.UUID) -> Account:
    """The account with this id; ``NotFound`` if there is none."""
    found = session.get(Account, account_id)
    if found is None:
        raise NotFound(f"no account {account_id}")
    return found


def create_account(
    session: Session,
    *,
    organization: Organization,
    username: str,
    role: Role,
    name_zh: str,
    name_en: str = "",
    title_zh: str = "",
    title_en: str = "",
    password: str | None = None,
    password_hash: str | None = None,
) -> Account:
    """Create an account. ``password_hash`` (an Argon2 hash from ``hash_password``) lets a
    caller that creates many accounts with one known password hash it once."""
    for field, value in (
        ("name_zh", name_zh),
        ("name_en", name_en),
        ("title_zh", title_zh),
        ("title_en", title_en),
    ):
        check_text(value, field)
    if not _USERNAME_RE.match(username):
        raise InvalidInput(
            "username must be 3-64 characters: lowercase letters, digits, '.', '_' or '-'"
        )
    if role is Role.OFFICIAL and organization.kind is not OrgKind.AUTHORITY:
        raise InvalidInput("only an authority's members can be officials")
    if role is Role.ADMIN and organization.kind is not OrgKind.OPERATOR:
        raise InvalidInput("administrators belong to the registry operator")
    if account_by_username(session, username) is not None:
        raise Conflict(f"username {username} is taken", rule="duplicate-username")
    if password is not None and len(password) < 10:
        raise InvalidInput("a password needs at least 10 characters")
    account = Account(
        organization_id=organization.id,
        username=username,
        role=role,
        name_zh=name_zh,
        name_en=name_en,
        title_zh=title_zh,
        title_en=title_en,
        password_hash=hash_password(password) if password else password_hash,
    )
    session.add(account)
    session.flush()
    return account


def hash_password(password: str) -> str:
    """An Argon2id hash of a password (the library's default parameters)."""
    return _hasher.hash(password)


def password_matches(password_hash: str, password: str) -> bool:
    """Whether ``password`` is the one ``password_hash`` (from ``hash_password``) was made
    of; a malformed hash matches nothing."""
    try:
        return bool(_hasher.verify(password_hash, password))
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def check_password(session: Session, username: str, password: str) -> Account:
    """The enabled account with this username and password; ``Unauthenticated`` otherwise, with the
    same message whichever part was wrong."""
    account = account_by_username(session, username)
    if account is None or account.password_hash is None or account.disabled_at is not None:
        raise Unauthenticated("wrong username or password")
    try:
        _hasher.verify(account.password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        raise Unauthenticated("wrong username or password") from None
    return account


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(
    session: Session, account: Account, name: str, expires_at: datetime | None = None
) -> tuple[ApiToken, str]:
    """Create a bearer token; the plain token is returned once and only its hash is kept.

    ``expires_at``, if given, must be in the future and at most ``TOKEN_LIFETIME_MAX``
    ahead: a token issued already expired is a mistake, not a token."""
    check_text(name, "name")
    if expires_at is not None:
        _check_expiry(expires_at)
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        account_id=account.id,
        name=name[:100] or "token",
        token_hash=_hash_token(plain),
        prefix=plain[:12],
        expires_at=expires_at,
    )
    session.add(token)
    session.flush()
    return token, plain


def _check_expiry(expires_at: datetime) -> None:
    if expires_at.tzinfo is None:
        raise InvalidInput("expires_at needs a time zone offset", field="expires_at")
    now = utcnow()
    # Compared before any conversion: year 1 at +01:00 does not exist in UTC.
    if expires_at <= now:
        raise InvalidInput("expires_at must be in the future", field="expires_at")
    if expires_at > now + TOKEN_LIFETIME_MAX:
        raise InvalidInput(
            f"expires_at may be at most {TOKEN_LIFETIME_MAX.days} days ahead", field="expires_at"
        )


def authenticate_token(session: Session, plain: str) -> Account:
    """The enabled account a plain bearer token belongs to; ``Unauthenticated`` if the token is
    unknown, revoked or expired."""
    token = session.scalars(
        select(ApiToken).where(ApiToken.token_hash == _hash_token(plain))
    ).first()
    now = utcnow()
    if token is None:
        raise Unauthenticated("unknown API token")
    if token.revoked_at is not None:
        raise Unauthenticated("this API token was revoked")
    if token.expires_at is not None and token.expires_at <= now:
        raise Unauthenticated("this API token has expired")
    account = session.get(Account, token.account_id)
    if account is None or account.disabled_at is not None:
        raise Unauthenticated("the token's account is disabled")
    return account


def list_tokens(session: Session, account: Account) -> list[ApiToken]:
    """The account's API tokens, oldest first (hashes and prefixes only)."""
    return list(
        session.scalars(
            select(ApiToken).where(ApiToken.account_id == account.id).order_by(ApiToken.created_at)
        )
    )


def revoke_token(session: Session, account: Account, token_id: uuid.UUID) -> ApiToken:
    """Revoke a token of one's own (an admin may revoke any); revoking twice is harmless."""
    token = session.get(ApiToken, token_id)
    if token is None:
        raise NotFound(f"no token {token_id}")
    if token.account_id != account.id and account.role is not Role.ADMIN:
        raise Forbidden("you can revoke only your own tokens")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
    session.flush()
    return token


def revoke_any_token(session: Session, token_id: uuid.UUID) -> ApiToken | None:
    """The operator's revocation (``registry admin revoke-token``): any account's token, or
    None when there is no such token; revoking twice is harmless."""
    token = session.get(ApiToken, token_id)
    if token is not None and token.revoked_at is None:
        token.revoked_at = utcnow()
        session.flush()
    return token


def require_admin(account: Account) -> None:
    """Refuse with ``Forbidden`` unless the account is a registry administrator."""
    if account.role is not Role.ADMIN:
        raise Forbidden("this needs a registry administrator")
