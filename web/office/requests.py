"""Endorsement requests in the back office: a producer's list, the official's review queue
with the evidence and every precondition, approval and rejection."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from api.deps import ContextDep, SessionDep
from registry.accounts import queries as account_queries
from registry.catalog import queries as catalog
from registry.endorsements import decisions as endorsement_decisions
from registry.endorsements import queries as endorsement_queries
from registry.errors import RegistryError
from registry.models import Account, EndorsementRequest, Organization, Product, RequestStatus
from web.office.core import FormDep, OfficeUser, UserDep, redirect, render, router, translator
from web.office.messages import explain, refusal_status
from web.office.views import page_helpers


@router.get("/requests")
def requests_page(request: Request, session: SessionDep, user: UserDep) -> Response:
    user.require(
        user.is_producer or user.is_official or user.is_admin,
        "endorsement requests are for producers and officials",
    )
    found = endorsement_queries.requests_visible_to(session, user.account)
    # Open requests first: for an official that is the review queue.
    found.sort(
        key=lambda r: (r.status not in endorsement_queries.OPEN_REQUESTS, -r.created_at.timestamp())
    )
    return render(
        request,
        "office/requests.html",
        user=user,
        active="requests",
        requests=found,
        products=catalog.by_id(session, Product, [r.product_id for r in found]),
        orgs=catalog.by_id(
            session,
            Organization,
            [r.organization_id for r in found] + [r.authority_id for r in found],
        ),
        officials=catalog.by_id(session, Account, [r.official_id for r in found]),
        **page_helpers(),
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
    covered = catalog.batches_by_id(session, found.batch_ids)
    authority = catalog.get_by_id(session, Organization, found.authority_id)
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
        product=catalog.get_by_id(session, Product, found.product_id),
        requester=catalog.get_by_id(session, Organization, found.organization_id),
        authority=authority,
        official=catalog.get_by_id(session, Account, found.official_id),
        signatures=len(pending.get("signatures", [])),
        required=authority.approvals_required if authority else 1,
        decided_by=catalog.get_by_id(session, Account, found.decided_by),
        problem=problem,
        errors=errors or {},
        values=values or {},
        **page_helpers(),
    )


@router.get("/requests/{request_id}")
def request_page(request_id: str, request: Request, session: SessionDep, user: UserDep) -> Response:
    found = endorsement_queries.visible_request(session, user.account, request_id)
    return _request_view(request, session, user, found)


def _lineage(session: Any, evidence: Any) -> list[dict[str, Any]]:
    """Each batch of the evidence with its records and who signed them."""
    orgs = {o.id: o for o in account_queries.organizations(session)}
    refs = {batch.ref: catalog.batch_by_ref(session, batch.ref) for batch in evidence.batches}
    products = catalog.by_id(session, Product, [b.product_id for b in refs.values() if b])
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


@router.post("/requests/{request_id}/approve")
def approve_request(
    request_id: str, request: Request, session: SessionDep, ctx: ContextDep, user: UserDep
) -> Response:
    _ = translator(request)
    found = endorsement_queries.visible_request(session, user.account, request_id)
    try:
        with session.begin_nested():
            decided = endorsement_decisions.approve(session, ctx, found.id, user.account)
    except RegistryError as exc:
        session.refresh(found)
        return _request_view(
            request, session, user, found, problem=explain(exc), status_code=refusal_status(exc)
        )
    if decided.status is RequestStatus.APPROVED:
        flash = _("已签名批准，背书码 %(code)s，扫码页已生效") % {"code": decided.code}
        return redirect(request, f"/office/endorsements/{decided.code}", flash)
    return redirect(
        request,
        f"/office/requests/{found.id}",
        _("已签名；还需要其他官员签名"),
    )


@router.post("/requests/{request_id}/reject")
def reject_request(
    request_id: str, request: Request, session: SessionDep, user: UserDep, form: FormDep
) -> Response:
    _ = translator(request)
    found = endorsement_queries.visible_request(session, user.account, request_id)
    reason = form.get("reason")
    if not reason:
        return _request_view(
            request,
            session,
            user,
            found,
            errors={"reason": _("驳回需要填写理由")},
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
            status_code=refusal_status(exc),
        )
    return redirect(
        request,
        "/office/requests",
        _("已驳回该申请，申请方可看到理由"),
    )
