"""Registry administrators: organizations, accounts, and one-time invite links.

A new account has no password: the administrator hands its holder the invite link shown
once after creating it, and the holder sets a password with it. Accounts that sign records
get a custodial signing key at creation, so they can work in the browser at once.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from api.deps import ContextDep, SessionDep
from registry.accounts import accounts as account_service
from registry.accounts import queries as account_queries
from registry.accounts import sessions as session_service
from registry.errors import NotFound, RegistryError
from registry.models import Account, OrgKind, Role
from registry.records import keys as key_service
from web.names import Names
from web.office.core import (
    FormDep,
    OfficeUser,
    UserDep,
    current_lang,
    redirect,
    render,
    router,
    translator,
)
from web.office.messages import explain


def _admin(user: OfficeUser) -> None:
    user.require(user.is_admin, "this needs a registry administrator")


def _organizations_page(
    request: Request,
    session: Any,
    user: OfficeUser,
    values: dict[str, Any] | None = None,
    problem: Any = None,
    status_code: int = 200,
) -> Response:
    organizations = account_queries.organizations(session)
    return render(
        request,
        "office/admin_organizations.html",
        user=user,
        active="orgs",
        status_code=status_code,
        organizations=organizations,
        values=values or {"kind": "cooperative", "approvals_required": "1"},
        problem=problem,
        kinds=[k.value for k in OrgKind if k is not OrgKind.OPERATOR],
    )


@router.get("/admin/organizations")
def organizations_page(request: Request, session: SessionDep, user: UserDep) -> Response:
    _admin(user)
    return _organizations_page(request, session, user)


@router.post("/admin/organizations")
def create_organization(
    request: Request, session: SessionDep, user: UserDep, form: FormDep
) -> Response:
    _admin(user)
    _ = translator(request)
    try:
        kind = OrgKind(form.get("kind"))
        approvals = int(form.get("approvals_required") or "1")
    except ValueError:
        return _organizations_page(
            request,
            session,
            user,
            form.values(),
            explain(RegistryError("choose a kind; approvals is a number 1-3")),
            422,
        )
    try:
        with session.begin_nested():
            org = account_service.create_organization(
                session,
                kind=kind,
                name_zh=form.get("name_zh"),
                name_en=form.get("name_en") or form.get("name_zh"),
                region_code=form.get("region_code"),
                gln=form.get("gln") or None,
                jurisdiction=form.get("jurisdiction") or None,
                approvals_required=approvals,
            )
    except RegistryError as exc:
        return _organizations_page(request, session, user, form.values(), explain(exc), 422)
    return redirect(
        request,
        "/office/admin/organizations",
        _("机构“%(name)s”已登记") % {"name": Names(current_lang(request)).name(org)},
    )


def _accounts_page(
    request: Request,
    session: Any,
    user: OfficeUser,
    *,
    values: dict[str, Any] | None = None,
    problem: Any = None,
    invite: tuple[Account, str] | None = None,
    status_code: int = 200,
) -> Response:
    rows = account_queries.accounts_with_organizations(session)
    open_invites = account_queries.accounts_with_open_invites(session)
    organizations = account_queries.organizations(session)
    return render(
        request,
        "office/admin_accounts.html",
        user=user,
        active="accounts",
        status_code=status_code,
        rows=rows,
        open_invites=open_invites,
        organizations=organizations,
        values=values or {"role": "clerk"},
        problem=problem,
        invite=invite,
        roles=[r.value for r in Role],
    )


@router.get("/admin/accounts")
def accounts_page(request: Request, session: SessionDep, user: UserDep) -> Response:
    _admin(user)
    return _accounts_page(request, session, user)


def _invite_url(request: Request, token: str) -> str:
    base: str = request.app.state.settings.base_url
    return f"{base.rstrip('/')}/office/invite/{token}"


@router.post("/admin/accounts")
def create_account(
    request: Request, session: SessionDep, ctx: ContextDep, user: UserDep, form: FormDep
) -> Response:
    _admin(user)
    try:
        with session.begin_nested():
            org_id = uuid.UUID(form.get("organization"))
            org = account_service.get_organization(session, org_id)
            role = Role(form.get("role"))
            account = account_service.create_account(
                session,
                organization=org,
                username=form.get("username").lower(),
                role=role,
                name_zh=form.get("name_zh"),
                name_en=form.get("name_en"),
                title_zh=form.get("title_zh"),
                title_en=form.get("title_en"),
            )
            if role is not Role.ADMIN:
                # Custodial key: the holder signs in the browser without managing a key.
                key_service.create_custodial_key(session, ctx, account)
            _, token = session_service.create_invite(session, user.account, account)
    except ValueError:
        return _accounts_page(
            request,
            session,
            user,
            values=form.values(),
            problem=explain(RegistryError("choose an organization and a role")),
            status_code=422,
        )
    except RegistryError as exc:
        return _accounts_page(
            request, session, user, values=form.values(), problem=explain(exc), status_code=422
        )
    return _accounts_page(
        request, session, user, invite=(account, _invite_url(request, token)), status_code=201
    )


@router.post("/admin/accounts/{account_id}/invite")
def reinvite(account_id: str, request: Request, session: SessionDep, user: UserDep) -> Response:
    """A new one-time link (also how an administrator resets a forgotten password)."""
    _admin(user)
    account = account_queries.account(session, account_id)
    if account is None:
        raise NotFound(f"no account {account_id}")
    try:
        with session.begin_nested():
            _, token = session_service.create_invite(session, user.account, account)
    except RegistryError as exc:
        return _accounts_page(request, session, user, problem=explain(exc), status_code=422)
    return _accounts_page(request, session, user, invite=(account, _invite_url(request, token)))
