"""Endorsements in the back office: a producer's request, the official's review queue with
the evidence and every precondition, approval and rejection, revocation, and the report
cards of an authority and of each official."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy import select

from api.deps import ContextDep, SessionDep
from registry.catalog import batches as batch_service
from registry.endorsements import decisions as endorsement_decisions
from registry.endorsements import published as endorsement_service
from registry.endorsements import requests as endorsement_requests
from registry.endorsements import scans as scan_service
from registry.errors import Forbidden, NotFound, RegistryError
from registry.models import (
    Account,
    Batch,
    EndorsementRequest,
    EndorsementSigner,
    Organization,
    OrgKind,
    Product,
    RequestStatus,
    Role,
)
from registry.records.schema import Claim, Platform
from web.office import queries
from web.office.core import (
    CST,
    FormDep,
    OfficeUser,
    UserDep,
    redirect,
    render,
    router,
)
from web.office.forms import parse_local_time
from web.office.messages import explain
from web.office.reportcard import bar_chart, daily_chart, hourly_chart, report_card
from web.office.views import page_helpers

DEFAULT_CLAIMS = ["origin_verified", "lab_tested", "certified", "personally_vouched"]


def _labels(**extra: Any) -> dict[str, Any]:
    return page_helpers(**extra)


# --- requests -------------------------------------------------------------------------------


@router.get("/requests")
def requests_page(request: Request, session: SessionDep, user: UserDep) -> Response:
    user.require(
        user.is_producer or user.is_official or user.is_admin,
        "endorsement requests are for producers and officials",
    )
    found = queries.requests_for(session, user)
    # Open requests first: for an official that is the review queue.
    found.sort(key=lambda r: (r.status not in queries.OPEN_REQUESTS, -r.created_at.timestamp()))
    return render(
        request,
        "office/requests.html",
        user=user,
        active="requests",
        requests=found,
        products=queries.by_id(session, Product, [r.product_id for r in found]),
        orgs=queries.by_id(
            session,
            Organization,
            [r.organization_id for r in found] + [r.authority_id for r in found],
        ),
        officials=queries.by_id(session, Account, [r.official_id for r in found]),
        **_labels(),
    )


def _candidates(session: Any, user: OfficeUser) -> list[Batch]:
    """Batches the organization may ask for: its own, and what was made from them."""
    own = queries.own_batches(session, user)
    made_from = batch_service.descendant_ids(session, [b.id for b in own])
    found = list(
        session.scalars(
            select(Batch)
            .where(Batch.id.in_(made_from), Batch.recall_digest.is_(None))
            .order_by(Batch.created_index.desc(), Batch.lot)
            .limit(200)
        )
    )
    return found


def _new_request_page(
    request: Request,
    session: Any,
    user: OfficeUser,
    values: dict[str, Any],
    errors: dict[str, Any] | None = None,
    problem: Any = None,
    status_code: int = 200,
) -> Response:
    candidates = _candidates(session, user)
    return render(
        request,
        "office/request_new.html",
        user=user,
        active="requests",
        status_code=status_code,
        values=values,
        errors=errors or {},
        problem=problem,
        candidates=candidates,
        products=queries.by_id(session, Product, [b.product_id for b in candidates]),
        officials=queries.officials_for(session, user.org),
        platforms=[p.value for p in Platform],
        claims=[c.value for c in Claim],
        **_labels(),
    )


@router.get("/requests/new")
def new_request(request: Request, session: SessionDep, user: UserDep, batch: str = "") -> Response:
    user.require(user.is_producer, "only cooperatives and processors request endorsements")
    values: dict[str, Any] = {"claims": DEFAULT_CLAIMS, "stream.platform": "taobao_live"}
    if batch:
        chosen = next((b for b in _candidates(session, user) if b.code == batch.upper()), None)
        if chosen is not None:
            values["batches"] = [chosen.code]
            values["quantity"] = chosen.quantity
    officials = queries.officials_for(session, user.org)
    if len(officials) == 1:
        values["official"] = officials[0][0].username
    return _new_request_page(request, session, user, values)


def _moment(form: Any, name: str, errors: dict[str, Any], required: bool) -> datetime | None:
    value = form.get(name)
    if not value:
        if required:
            errors[name] = ("必填", "Required")
        return None
    parsed = parse_local_time(value)
    if parsed is None:
        errors[name] = ("时间格式：2026-09-20T20:00", "Time as 2026-09-20T20:00")
    return parsed


@router.post("/requests/new")
def create_request(
    request: Request, session: SessionDep, ctx: ContextDep, user: UserDep, form: FormDep
) -> Response:
    user.require(user.is_producer, "only cooperatives and processors request endorsements")
    errors: dict[str, Any] = {}
    values = form.values()
    values["batches"] = form.getlist("batches")
    values["claims"] = form.getlist("claims")
    if not values["batches"]:
        errors["batches"] = ("请选择至少一个批次", "Choose at least one batch")
    if not form.get("official"):
        errors["official"] = ("请选择背书官员", "Choose the official")
    if not values["claims"]:
        errors["claims"] = ("请选择至少一项担保内容", "Choose at least one claim")
    for name in ("stream.room", "stream.title"):
        if not form.get(name):
            errors[name] = ("必填", "Required")
    start = _moment(form, "stream.start", errors, required=True)
    end = _moment(form, "stream.end", errors, required=True)
    valid_from = _moment(form, "valid_from", errors, required=False)
    valid_until = _moment(form, "valid_until", errors, required=False)
    quantity = form.get("quantity")
    try:
        if Decimal(quantity) <= 0:
            raise InvalidOperation
    except (InvalidOperation, ValueError):
        errors["quantity"] = ("请填写大于 0 的数量", "Enter a quantity above zero")
    if errors:
        return _new_request_page(request, session, user, values, errors, status_code=422)
    hosts = [
        {"name": name.strip(), "role": "streamer"}
        for name in form.get("stream.hosts").replace("，", ",").replace("、", ",").split(",")
        if name.strip()
    ]
    stream = {
        "platform": form.get("stream.platform"),
        "room": form.get("stream.room"),
        "title": form.get("stream.title"),
        "start": start.isoformat() if start else "",
        "end": end.isoformat() if end else "",
        "hosts": hosts,
    }
    try:
        with session.begin_nested():
            created = endorsement_requests.request_endorsement(
                session,
                ctx,
                user.account,
                batches=values["batches"],
                official=form.get("official"),
                stream=stream,
                claims=values["claims"],
                quantity=quantity,
                valid_from=valid_from,
                valid_until=valid_until,
            )
    except RegistryError as exc:
        for entry in exc.extra.get("errors") or []:
            path = "stream." + str(entry.get("path", "")).split(".")[0]
            if path in values or path == "stream.hosts":
                errors.setdefault(path, (str(entry.get("message")), str(entry.get("message"))))
        if "quantity" in exc.detail:
            errors.setdefault("quantity", (exc.detail, exc.detail))
        return _new_request_page(
            request, session, user, values, errors, explain(exc), status_code=422
        )
    return redirect(
        request,
        f"/office/requests/{created.id}",
        ("背书申请已提交，等待官员审核", "Endorsement requested: waiting for the official"),
    )


def _request_view(
    request: Request,
    session: Any,
    user: OfficeUser,
    found: EndorsementRequest,
    *,
    problem: Any = None,
    errors: dict[str, Any] | None = None,
    values: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    reviewing = user.is_official and user.org.id == found.authority_id
    review: dict[str, Any] | None = None
    lineage: list[Any] = []
    if reviewing:
        review = endorsement_decisions.review(session, found.id, user.account)
        lineage = _lineage(session, review["evidence"])
    covered = [
        b for b in (session.get(Batch, uuid.UUID(i)) for i in found.batch_ids) if b is not None
    ]
    authority = session.get(Organization, found.authority_id)
    pending = found.pending_envelope or {}
    return render(
        request,
        "office/request.html",
        user=user,
        active="requests",
        status_code=status_code,
        req=found,
        reviewing=reviewing,
        review=review,
        ready=review is not None and all(p.ok for p in review["preconditions"]),
        lineage=lineage,
        covered=covered,
        product=session.get(Product, found.product_id),
        requester=session.get(Organization, found.organization_id),
        authority=authority,
        official=session.get(Account, found.official_id),
        signatures=len(pending.get("signatures", [])),
        required=authority.approvals_required if authority else 1,
        decided_by=session.get(Account, found.decided_by) if found.decided_by else None,
        problem=problem,
        errors=errors or {},
        values=values or {},
        **_labels(),
    )


@router.get("/requests/{request_id}")
def request_page(request_id: str, request: Request, session: SessionDep, user: UserDep) -> Response:
    found = queries.visible_request(session, user, request_id)
    return _request_view(request, session, user, found)


def _lineage(session: Any, evidence: Any) -> list[dict[str, Any]]:
    """Each batch of the evidence with its records and who signed them."""
    orgs = {o.id: o for o in session.scalars(select(Organization))}
    refs = {}
    for batch in evidence.batches:
        product_id, _, lot = batch.ref.partition(":")
        refs[batch.ref] = session.scalars(
            select(Batch).where(Batch.product_id == uuid.UUID(product_id), Batch.lot == lot)
        ).first()
    products = queries.by_id(session, Product, [b.product_id for b in refs.values() if b])
    documents = {
        r.log_index: json.loads(r.payload) if r.payload is not None else {}
        for r in evidence.records
    }
    lineage = []
    for item in evidence.batches:
        batch = refs.get(item.ref)
        lineage.append(
            {
                "evidence": item,
                "batch": batch,
                "product": products.get(batch.product_id) if batch else None,
                "records": [
                    (r, orgs.get(r.signer_org_id), documents.get(r.index, {})) for r in item.records
                ],
            }
        )
    return lineage


def _refused(exc: RegistryError) -> int:
    """A decision the account may not make is 403 (as in the API); any other refusal
    shows the form again with 422."""
    return 403 if isinstance(exc, Forbidden) else 422


@router.post("/requests/{request_id}/approve")
def approve_request(
    request_id: str, request: Request, session: SessionDep, ctx: ContextDep, user: UserDep
) -> Response:
    found = queries.visible_request(session, user, request_id)
    try:
        with session.begin_nested():
            decided = endorsement_decisions.approve(session, ctx, found.id, user.account)
    except RegistryError as exc:
        session.refresh(found)
        return _request_view(
            request, session, user, found, problem=explain(exc), status_code=_refused(exc)
        )
    if decided.status is RequestStatus.APPROVED:
        flash = (
            f"已签名批准，背书码 {decided.code}，扫码页已生效",
            f"Approved and signed: endorsement {decided.code} is live",
        )
        return redirect(request, f"/office/endorsements/{decided.code}", flash)
    return redirect(
        request,
        f"/office/requests/{found.id}",
        ("已签名；还需要其他官员签名", "Signed; another official must sign too"),
    )


@router.post("/requests/{request_id}/reject")
def reject_request(
    request_id: str, request: Request, session: SessionDep, user: UserDep, form: FormDep
) -> Response:
    found = queries.visible_request(session, user, request_id)
    reason = form.get("reason")
    if not reason:
        return _request_view(
            request,
            session,
            user,
            found,
            errors={"reason": ("驳回需要填写理由", "Give a reason to reject")},
            status_code=422,
        )
    try:
        with session.begin_nested():
            endorsement_decisions.reject(session, found.id, user.account, reason)
    except RegistryError as exc:
        session.refresh(found)
        return _request_view(
            request,
            session,
            user,
            found,
            problem=explain(exc),
            values={"reason": reason},
            status_code=_refused(exc),
        )
    return redirect(
        request,
        "/office/requests",
        ("已驳回该申请，申请方可看到理由", "Request rejected; the requester sees your reason"),
    )


# --- endorsements ---------------------------------------------------------------------------


@router.get("/endorsements")
def endorsements_page(
    request: Request, session: SessionDep, ctx: ContextDep, user: UserDep
) -> Response:
    user.require(
        user.is_producer or user.kind is OrgKind.AUTHORITY or user.is_admin,
        "endorsements are for producers, authorities and administrators",
    )
    found = queries.endorsements_for(session, user)
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
                endorsement_service.status_of(session, e, now).value,
                scan_service.total_scans(session, counter, e.id),
            )
            for e in found
        ],
        products=queries.by_id(session, Product, [e.product_id for e in found]),
        **_labels(),
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
    endorsement = endorsement_service.get_endorsement(session, code)
    if not queries.can_see_endorsement(session, user, endorsement):
        raise NotFound(f"no endorsement {code}")
    req = (
        session.get(EndorsementRequest, endorsement.request_id) if endorsement.request_id else None
    )
    signers = list(
        session.scalars(
            select(Account)
            .join(EndorsementSigner, EndorsementSigner.account_id == Account.id)
            .where(EndorsementSigner.endorsement_id == endorsement.id)
        )
    )
    counter = request.app.state.scan_counter
    by_hour = scan_service.scans_by_hour(session, counter, endorsement.id)[-48:]
    chart = bar_chart(
        [(hour.astimezone(CST).strftime("%m-%d %H:00"), count) for hour, count in by_hour],
        "扫码次数（每小时） Scans per hour",
        label_every=max(1, len(by_hour) // 4),
        testid="chart-endorsement",
    )
    return render(
        request,
        "office/endorsement.html",
        user=user,
        active="endorsements" if user.is_official else "requests",
        status_code=status_code,
        endorsement=endorsement,
        status=endorsement_service.status_of(session, endorsement, ctx.clock()).value,
        req=req,
        product=session.get(Product, endorsement.product_id),
        authority=session.get(Organization, endorsement.authority_id),
        covered=endorsement_service.covered_batches(session, endorsement),
        signers=signers,
        scans=scan_service.total_scans(session, counter, endorsement.id),
        chart=chart if by_hour else None,
        can_revoke=user.is_official
        and user.org.id == endorsement.authority_id
        and endorsement.revocation_index is None,
        problem=problem,
        errors=errors or {},
        values=values or {},
        **_labels(),
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
    endorsement = endorsement_service.get_endorsement(session, code)
    if not queries.can_see_endorsement(session, user, endorsement):
        raise NotFound(f"no endorsement {code}")
    reason = form.get("reason")
    if not reason:
        return _endorsement_view(
            request,
            session,
            ctx,
            user,
            endorsement.code,
            errors={"reason": ("撤销需要填写理由", "Give a reason to revoke")},
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
            status_code=_refused(exc),
        )
    return redirect(
        request,
        f"/office/endorsements/{endorsement.code}",
        (
            f"背书 {endorsement.code} 已撤销，扫码页立即显示“已撤销”",
            f"Endorsement {endorsement.code} revoked: its page shows 'revoked' now",
        ),
    )


# --- report cards ---------------------------------------------------------------------------


def _authority_for(session: Any, user: OfficeUser, authority: str) -> Organization:
    if user.is_admin and authority:
        found: Organization | None = (
            session.get(Organization, uuid.UUID(authority)) if _is_uuid(authority) else None
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
        products=queries.by_id(session, Product, [r.endorsement.product_id for r in card.rows]),
        **_labels(),
    )


@router.get("/report")
def authority_report(
    request: Request, session: SessionDep, ctx: ContextDep, user: UserDep, authority: str = ""
) -> Response:
    if user.is_admin and not authority:
        authorities = list(
            session.scalars(
                select(Organization)
                .where(Organization.kind == OrgKind.AUTHORITY)
                .order_by(Organization.name_zh)
            )
        )
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
    official = session.scalars(select(Account).where(Account.username == username)).first()
    if official is None or official.role is not Role.OFFICIAL:
        raise NotFound(f"no official {username}")
    if not user.is_admin and official.organization_id != user.org.id:
        raise NotFound(f"no official {username}")
    org = session.get(Organization, official.organization_id)
    assert org is not None
    if not user.is_admin and user.kind is not OrgKind.AUTHORITY:
        raise Forbidden("report cards are for authorities")
    return _card_page(request, session, ctx, user, org, official)
