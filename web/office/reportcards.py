"""The report cards (成绩单) of an authority and of each official, as pages."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from api.deps import ContextDep, SessionDep
from registry.accounts import queries as account_queries
from registry.catalog import queries as catalog
from registry.errors import Forbidden, NotFound
from registry.models import Organization, OrgKind, Product, Role
from registry.reports.queries import report_card
from web.office.charts import daily_chart, hourly_chart
from web.office.core import OfficeUser, UserDep, render, router
from web.office.views import page_helpers


def _authority_for(session: Any, user: OfficeUser, authority: str) -> Organization:
    if user.is_admin and authority:
        found: Organization | None = (
            account_queries.organization(session, uuid.UUID(authority))
            if _is_uuid(authority)
            else None
        )
        if found is None or found.kind is not OrgKind.AUTHORITY:
            raise NotFound(f"no authority {authority}")
        return found
    user.require(user.kind is OrgKind.AUTHORITY, "report cards are for authorities")
    return user.org


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _card_page(
    request: Request, session: Any, ctx: Any, user: OfficeUser, org: Organization, who: Any
) -> Response:
    card = report_card(session, org, who, request.app.state.scan_counter, ctx.clock())
    return render(
        request,
        "office/report.html",
        user=user,
        active="report",
        card=card,
        hourly=hourly_chart(card, "最近 48 小时扫码 Scans in the last 48 hours"),
        daily=daily_chart(card, "最近 30 天扫码 Scans in the last 30 days"),
        products=catalog.by_id(session, Product, [r.endorsement.product_id for r in card.rows]),
        **page_helpers(),
    )


@router.get("/report")
def authority_report(
    request: Request, session: SessionDep, ctx: ContextDep, user: UserDep, authority: str = ""
) -> Response:
    if user.is_admin and not authority:
        authorities = account_queries.authorities(session)
        return render(
            request,
            "office/report_index.html",
            user=user,
            active="report",
            authorities=authorities,
        )
    org = _authority_for(session, user, authority)
    return _card_page(request, session, ctx, user, org, None)


@router.get("/report/officials/{username}")
def official_report(
    username: str, request: Request, session: SessionDep, ctx: ContextDep, user: UserDep
) -> Response:
    official = account_queries.account_by_username(session, username)
    if official is None or official.role is not Role.OFFICIAL:
        raise NotFound(f"no official {username}")
    if not user.is_admin and official.organization_id != user.org.id:
        raise NotFound(f"no official {username}")
    org = account_queries.organization(session, official.organization_id)
    assert org is not None
    if not user.is_admin and user.kind is not OrgKind.AUTHORITY:
        raise Forbidden("report cards are for authorities")
    return _card_page(request, session, ctx, user, org, official)
