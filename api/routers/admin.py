"""Organizations and accounts (registry administrators)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import CurrentAccount, SessionDep
from api.schemas import AccountIn, AccountOut, OrganizationIn, OrganizationOut, Page
from registry.accounts import accounts, queries

router = APIRouter(prefix="/api/v1", tags=["organizations and accounts"])


@router.post("/organizations", status_code=201, response_model=OrganizationOut)
def create_organization(
    body: OrganizationIn, session: SessionDep, account: CurrentAccount
) -> OrganizationOut:
    accounts.require_admin(account)
    return OrganizationOut.of(accounts.create_organization(session, **body.model_dump()))


@router.get("/organizations", response_model=Page[OrganizationOut])
def list_organizations(
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: str | None = None,
) -> Page[OrganizationOut]:
    from api import pagination

    after = pagination.decode_uuid(cursor)
    rows, more = queries.organizations_page(session, after, limit)
    return Page(
        items=[OrganizationOut.of(o) for o in rows],
        next_cursor=pagination.encode(str(rows[-1].id)) if more else None,
    )


@router.get("/organizations/{org_id}", response_model=OrganizationOut)
def get_organization(org_id: uuid.UUID, session: SessionDep) -> OrganizationOut:
    return OrganizationOut.of(accounts.get_organization(session, org_id))


@router.post("/accounts", status_code=201, response_model=AccountOut)
def create_account(body: AccountIn, session: SessionDep, account: CurrentAccount) -> AccountOut:
    accounts.require_admin(account)
    org = accounts.get_organization(session, body.organization_id)
    data = body.model_dump(exclude={"organization_id"})
    return AccountOut.of(accounts.create_account(session, organization=org, **data))


@router.get("/accounts/me", response_model=AccountOut)
def me(account: CurrentAccount) -> AccountOut:
    return AccountOut.of(account)


@router.get("/accounts", response_model=list[AccountOut])
def list_accounts(session: SessionDep, account: CurrentAccount) -> list[AccountOut]:
    return [AccountOut.of(a) for a in queries.accounts_visible_to(session, account)]
