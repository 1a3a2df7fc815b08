"""``registry.accounts.sessions`` on its own (SQLite and PostgreSQL): expiry, revocation,
housekeeping, and invites that expire or are replaced."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from registry.accounts import accounts
from registry.accounts import sessions as service
from registry.db import transaction
from registry.errors import Forbidden, InvalidInput, NotFound, Unauthenticated
from registry.models import Account, LoginSession, OrgKind, Role, utcnow


def _people(session: Session) -> tuple[Account, Account]:
    operator = accounts.create_organization(
        session, kind=OrgKind.OPERATOR, name_zh="运营方", name_en="Operator", region_code="110000"
    )
    coop = accounts.create_organization(
        session, kind=OrgKind.COOPERATIVE, name_zh="合作社", name_en="Coop", region_code="150430"
    )
    admin = accounts.create_account(
        session, organization=operator, username="root", role=Role.ADMIN, name_zh="管理员"
    )
    clerk = accounts.create_account(
        session,
        organization=coop,
        username="clerk",
        role=Role.CLERK,
        name_zh="记录员",
        password="first-password-1",
    )
    return admin, clerk


def test_sessions_expire_and_end(session_factory: sessionmaker[Session]) -> None:
    with transaction(session_factory) as session:
        _, clerk = _people(session)
        now = utcnow()
        login, token = service.start_session(session, clerk, now)
        assert login.token_hash == service.token_hash(token) != token
        assert service.authenticate_session(session, token, now)[1].id == clerk.id
        later = now + service.SESSION_LIFETIME + timedelta(seconds=1)
        with pytest.raises(Unauthenticated, match="expired"):
            service.authenticate_session(session, token, later)
        _, second = service.start_session(session, clerk, now)
        service.end_session(session, second, now)
        with pytest.raises(Unauthenticated):
            service.authenticate_session(session, second, now)
        with pytest.raises(Unauthenticated):
            service.authenticate_session(session, "forged-token", now)


def test_old_session_rows_are_cleared_at_the_next_login(
    session_factory: sessionmaker[Session],
) -> None:
    with transaction(session_factory) as session:
        _, clerk = _people(session)
        long_ago = utcnow() - timedelta(days=30)
        service.start_session(session, clerk, long_ago)
        service.start_session(session, clerk)
        count = session.scalar(select(func.count()).where(LoginSession.account_id == clerk.id))
        assert count == 1


def test_password_change_checks_and_ends_sessions(
    session_factory: sessionmaker[Session],
) -> None:
    with transaction(session_factory) as session:
        _, clerk = _people(session)
        _, token = service.start_session(session, clerk)
        with pytest.raises(InvalidInput) as wrong:
            service.change_password(session, clerk, "nope", "second-password-2")
        assert wrong.value.extra["rule"] == "wrong-password"
        with pytest.raises(InvalidInput) as short:
            service.change_password(session, clerk, "first-password-1", "short")
        assert short.value.extra["rule"] == "password-too-short"
        with pytest.raises(InvalidInput) as mismatch:
            service.change_password(
                session, clerk, "first-password-1", "second-password-2", "other-password-3"
            )
        assert mismatch.value.extra["field"] == "confirm_password"
        assert service.change_password(session, clerk, "first-password-1", "second-password-2") == 1
        with pytest.raises(Unauthenticated):
            service.authenticate_session(session, token)
        assert accounts.check_password(session, "clerk", "second-password-2").id == clerk.id


def test_invites_are_single_use_expire_and_replace_each_other(
    session_factory: sessionmaker[Session],
) -> None:
    with transaction(session_factory) as session:
        admin, clerk = _people(session)
        with pytest.raises(Forbidden):
            service.create_invite(session, clerk, clerk)
        _, first = service.create_invite(session, admin, clerk)
        _, second = service.create_invite(session, admin, clerk)
        with pytest.raises(NotFound):
            service.open_invite(session, first)  # replaced by the newer link
        late = utcnow() + service.INVITE_LIFETIME + timedelta(seconds=1)
        with pytest.raises(NotFound):
            service.redeem_invite(session, second, "invited-password-1", now=late)
        service.redeem_invite(session, second, "invited-password-1", "invited-password-1")
        with pytest.raises(NotFound):
            service.redeem_invite(session, second, "another-password-9")
        assert accounts.check_password(session, "clerk", "invited-password-1").id == clerk.id
