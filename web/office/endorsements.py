"""Endorsements in the back office: the list, one endorsement with its scans and signers,
and its revocation by the endorsing authority."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response
from markupsafe import Markup

from api.deps import ContextDep, SessionDep
from registry.catalog import queries as catalog
from registry.clock import CHINA_TZ
from registry.endorsements import decisions as endorsement_decisions
from registry.endorsements import published as published_endorsements
from registry.endorsements import queries as endorsement_queries
from registry.endorsements import scans as scan_service
from registry.errors import NotFound, RegistryError
from registry.models import Organization, OrgKind, Product
from web.office.charts import bar_chart
from web.office.core import FormDep, OfficeUser, UserDep, redirect, render, router, translator
from web.office.messages import explain, refusal_status
from web.office.views import page_helpers


@router.get("/endorsements")
def endorsements_page(
    request: Request, session: SessionDep, ctx: ContextDep, user: UserDep
) -> Response:
    user.require(
        user.is_producer or user.kind is OrgKind.AUTHORITY or user.is_admin,
        "endorsements are for producers, authorities and administrators",
    )
    found = endorsement_queries.endorsements_for(session, user.account, user.org)
    now = ctx.clock()
    counter = request.app.state.scan_counter
    return render(
        request,
        "office/endorsements.html",
        user=user,
        active="endorsements" if user.is_official else "requests",
        rows=[
            (
                e,
                published_endorsements.status_of(session, e, now).value,
                scan_service.total_scans(session, counter, e.id),
            )
            for e in found
        ],
        products=catalog.by_id(session, Product, [e.product_id for e in found]),
        **page_helpers(),
    )


def _scan_chart(session: Any, counter: Any, endorsement: Any) -> Markup | None:
    """Scans per hour over the last 48 hours with scans, or None before the first scan."""
    by_hour = scan_service.scans_by_hour(session, counter, endorsement.id)[-48:]
    if not by_hour:
        return None
    return bar_chart(
        [(hour.astimezone(CHINA_TZ).strftime("%m-%d %H:00"), count) for hour, count in by_hour],
        "扫码次数（每小时） Scans per hour",
        label_every=max(1, len(by_hour) // 4),
        testid="chart-endorsement",
    )


def _endorsement_view(
    request: Request,
    session: Any,
    ctx: Any,
    user: OfficeUser,
    code: str,
    *,
    problem: Any = None,
    errors: dict[str, Any] | None = None,
    values: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    endorsement = published_endorsements.get_endorsement(session, code)
    if not endorsement_queries.can_see_endorsement(session, user.account, endorsement):
        raise NotFound(f"no endorsement {code}")
    counter = request.app.state.scan_counter
    return render(
        request,
        "office/endorsement.html",
        user=user,
        active="endorsements" if user.is_official else "requests",
        status_code=status_code,
        endorsement=endorsement,
        status=published_endorsements.status_of(session, endorsement, ctx.clock()).value,
        req=endorsement_queries.request_of(session, endorsement),
        product=catalog.get_by_id(session, Product, endorsement.product_id),
        authority=catalog.get_by_id(session, Organization, endorsement.authority_id),
        covered=published_endorsements.covered_batches(session, endorsement),
        signers=endorsement_queries.signers_of(session, endorsement),
        scans=scan_service.total_scans(session, counter, endorsement.id),
        chart=_scan_chart(session, counter, endorsement),
        can_revoke=user.is_official
        and user.org.id == endorsement.authority_id
        and endorsement.revocation_index is None,
        problem=problem,
        errors=errors or {},
        values=values or {},
        **page_helpers(),
    )


@router.get("/endorsements/{code}")
def endorsement_page(
    code: str, request: Request, session: SessionDep, ctx: ContextDep, user: UserDep
) -> Response:
    return _endorsement_view(request, session, ctx, user, code)


@router.post("/endorsements/{code}/revoke")
def revoke_endorsement(
    code: str,
    request: Request,
    session: SessionDep,
    ctx: ContextDep,
    user: UserDep,
    form: FormDep,
) -> Response:
    _ = translator(request)
    endorsement = published_endorsements.get_endorsement(session, code)
    if not endorsement_queries.can_see_endorsement(session, user.account, endorsement):
        raise NotFound(f"no endorsement {code}")
    reason = form.get("reason")
    if not reason:
        return _endorsement_view(
            request,
            session,
            ctx,
            user,
            endorsement.code,
            errors={"reason": _("撤销需要填写理由")},
            status_code=422,
        )
    try:
        with session.begin_nested():
            endorsement_decisions.revoke(session, ctx, endorsement.code, user.account, reason)
    except RegistryError as exc:
        return _endorsement_view(
            request,
            session,
            ctx,
            user,
            endorsement.code,
            problem=explain(exc),
            values={"reason": reason},
            status_code=refusal_status(exc),
        )
    return redirect(
        request,
        f"/office/endorsements/{endorsement.code}",
        _("背书 %(code)s 已撤销，扫码页立即显示“已撤销”") % {"code": endorsement.code},
    )
