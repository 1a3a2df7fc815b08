"""Problem reports: viewers report (anonymously, rate-limited); the cooperative, the endorsing
authority and admins read them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from api import pagination
from api.deps import ContextDep, CurrentAccount, SessionDep
from api.problems import problem
from api.scan import client_address, rate_limiter
from api.schemas import Page
from registry.codes import normalize_code
from registry.endorsements.published import get_endorsement
from registry.errors import InvalidInput, RateLimited
from registry.models import ProblemReport, ReportCategory
from registry.reports import problems as service

router = APIRouter(prefix="/api/v1", tags=["problem reports"])


def too_many(request: Request, exc: RateLimited) -> JSONResponse:
    response = problem(429, exc.detail, exc.code, request.url.path)
    response.headers["Retry-After"] = str(exc.retry_after)
    return response


class ReportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    category: ReportCategory
    text: str = Field(
        min_length=service.TEXT_MIN, max_length=service.TEXT_MAX, description="what happened"
    )
    contact: str | None = Field(
        default=None,
        max_length=service.CONTACT_MAX,
        description="optional: how the cooperative or the authority can reach you",
    )
    bundle: dict[str, Any] | None = Field(
        default=None,
        description="optional: the guarantee bundle the viewer's phone verified (the form of "
        "GET /e/{code}/bundle.json, at most 1 MiB), verified on receipt against this "
        "registry's log key and this endorsement",
    )


class ReportOut(BaseModel):
    id: uuid.UUID
    code: str = Field(description="the endorsement's code")
    category: ReportCategory
    text: str
    contact: str | None
    organization_id: uuid.UUID | None = Field(description="the cooperative that asked")
    authority_id: uuid.UUID
    created_at: datetime
    bundle_size: int | None = Field(
        description="bytes of the attached guarantee bundle (GET /api/v1/reports/{id}/bundle), "
        "or null when the viewer attached none"
    )

    @classmethod
    def of(cls, report: ProblemReport, code: str, bundle_size: int | None = None) -> ReportOut:
        return cls(
            id=report.id,
            code=code,
            category=report.category,
            text=report.text,
            contact=report.contact,
            organization_id=report.organization_id,
            authority_id=report.authority_id,
            created_at=report.created_at,
            bundle_size=bundle_size,
        )


class ReportReceipt(BaseModel):
    id: uuid.UUID
    code: str
    category: ReportCategory
    created_at: datetime
    bundle: bool = Field(description="whether a guarantee bundle was verified and stored")


@router.post(
    "/endorsements/{code}/reports",
    status_code=201,
    response_model=ReportReceipt,
    responses={429: {"description": "too many reports from this client; see Retry-After"}},
)
def report_problem(
    code: str, body: ReportIn, request: Request, session: SessionDep, ctx: ContextDep
) -> ReportReceipt | JSONResponse:
    """Report a problem with an endorsed product. Anonymous; at most 5 a minute per client
    (its address is hashed with a per-process salt in memory, never stored). The reply
    holds no contact or text: only that the report was stored. A ``bundle`` that does not
    verify, is not of this registry's log or of this endorsement, or is larger than 1 MiB is
    refused (422, ``errors[0].path`` = ``bundle``, the detail naming the failure)."""
    report = service.validate_report(body.category, body.text, body.contact)
    try:
        rate_limiter(request).hit(client_address(request))
    except RateLimited as exc:
        return too_many(request, exc)
    attached = None
    if body.bundle is not None:  # of the endorsement reported on (NotFound if none)
        endorsement = get_endorsement(session, code)
        attached = service.validate_bundle(
            body.bundle, endorsement.code, ctx.log_signer.public_key_raw
        )
    stored = service.submit_report(session, code, report, ctx.clock(), attached)
    return ReportReceipt(
        id=stored.id,
        code=normalize_code(code),
        category=stored.category,
        created_at=stored.created_at,
        bundle=attached is not None,
    )


Limit = Annotated[int, Query(ge=1, le=500)]


def _cursor(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    value = pagination.decode(cursor)
    if value is None:
        return None
    try:
        when, ident = value
        return datetime.fromisoformat(when), uuid.UUID(ident)
    except (TypeError, ValueError):
        raise InvalidInput("cursor is not one this API issued") from None


@router.get("/reports", response_model=Page[ReportOut])
def list_reports(
    session: SessionDep,
    account: CurrentAccount,
    code: Annotated[str | None, Query(description="only this endorsement's reports")] = None,
    limit: Limit = 100,
    cursor: str | None = None,
) -> Page[ReportOut]:
    """Reports you may read, newest first: those on endorsements your organization asked for
    (a cooperative) or gave (an authority); every report for admins."""
    rows = service.list_reports(session, account, code=code, limit=limit + 1, after=_cursor(cursor))
    more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1][0] if rows else None
    sizes = service.bundled_reports(session, [report.id for report, _ in rows])
    return Page(
        items=[
            ReportOut.of(report, endorsement_code, sizes.get(report.id))
            for report, endorsement_code in rows
        ],
        next_cursor=pagination.encode([last.created_at.isoformat(), str(last.id)])
        if more and last is not None
        else None,
    )


@router.get(
    "/reports/{report_id}/bundle",
    response_class=Response,
    responses={
        200: {"content": {"application/json": {}}, "description": "the guarantee bundle"},
        404: {"description": "no such report for you, or it carries no bundle"},
    },
)
def report_bundle(report_id: uuid.UUID, session: SessionDep, account: CurrentAccount) -> Response:
    """The guarantee bundle a viewer attached to a report you may read, as a download:
    verify it with ``registry verify-bundle FILE`` (docs/verification.md)."""
    bundle, code = service.report_bundle(session, account, report_id)
    return Response(
        bundle.encode("utf-8"),
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="report-{report_id}-{code}.json"',
            "Cache-Control": "private, no-store",
        },
    )
