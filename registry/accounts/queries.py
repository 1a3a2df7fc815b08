"""Organizations and accounts as the administration pages list them."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry.models import Account, AccountInvite, Organization, OrgKind, Role


def organizations(session: Session) -> list[Organization]:
    """Every organization, by kind and Chinese name."""
    return list(
        session.scalars(select(Organization).order_by(Organization.kind, Organization.name_zh))
    )


def supply_chain_organizations(session: Session) -> list[Organization]:
    """The organizations a batch can be handed to or shipped to (cooperatives, processors,
    carriers, labs), by kind and Chinese name: the choices of the office's forms."""
    kinds = (OrgKind.COOPERATIVE, OrgKind.PROCESSOR, OrgKind.CARRIER, OrgKind.LAB)
    return list(
        session.scalars(
            select(Organization)
            .where(Organization.kind.in_(kinds))
            .order_by(Organization.kind, Organization.name_zh)
        )
    )


def recent_organizations(session: Session, limit: int = 8) -> list[Organization]:
    """The latest registered organizations, newest first."""
    return list(
        session.scalars(select(Organization).order_by(Organization.created_at.desc()).limit(limit))
    )


def authorities(session: Session) -> list[Organization]:
    """Every authority (government body), by Chinese name."""
    return list(
        session.scalars(
            select(Organization)
            .where(Organization.kind == OrgKind.AUTHORITY)
            .order_by(Organization.name_zh)
        )
    )


def organization_count(session: Session) -> int:
    """How many organizations are registered."""
    return int(session.scalar(select(func.count()).select_from(Organization)) or 0)


def account_count(session: Session) -> int:
    """How many accounts exist."""
    return int(session.scalar(select(func.count()).select_from(Account)) or 0)


def organization(session: Session, org_id: uuid.UUID) -> Organization | None:
    """The organization with this id, or None."""
    return session.get(Organization, org_id)


def account(session: Session, account_id: str) -> Account | None:
    """The account with this id (a UUID string), or None, also for a malformed id."""
    try:
        return session.get(Account, uuid.UUID(account_id))
    except ValueError:
        return None


def account_by_username(session: Session, username: str) -> Account | None:
    """The account with this username, or None."""
    return session.scalars(select(Account).where(Account.username == username)).first()


def accounts_with_organizations(session: Session) -> list[tuple[Account, Organization]]:
    """Every account with its organization, by organization name and username."""
    rows = session.execute(
        select(Account, Organization)
        .join(Organization, Organization.id == Account.organization_id)
        .order_by(Organization.name_zh, Account.username)
    ).all()
    return [(a, o) for a, o in rows]


def accounts_with_open_invites(session: Session) -> set[uuid.UUID]:
    """Ids of the accounts holding an invite link not used yet."""
    return set(
        session.scalars(select(AccountInvite.account_id).where(AccountInvite.used_at.is_(None)))
    )


def organizations_page(
    session: Session, after: uuid.UUID | None, limit: int
) -> tuple[list[Organization], bool]:
    """One page of organizations in id order: at most ``limit`` of them with an id greater
    than ``after`` (from the start when None), and whether more follow. The next page's
    cursor is the last returned organization's id."""
    query = select(Organization).order_by(Organization.id).limit(limit + 1)
    if after is not None:
        query = query.where(Organization.id > after)
    rows = list(session.scalars(query))
    return rows[:limit], len(rows) > limit


def accounts_visible_to(session: Session, account: Account) -> list[Account]:
    """The accounts ``account`` may list, by username: every account for an administrator,
    otherwise those of its own organization."""
    query = select(Account).order_by(Account.username)
    if account.role is not Role.ADMIN:
        query = query.where(Account.organization_id == account.organization_id)
    return list(session.scalars(query))
