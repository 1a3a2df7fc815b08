"""Complaints: viewers' problem reports (``registry.reports.problems``) as the cooperative
and the endorsing authority read them, and their answers (``registry.reports.queries``).
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from api.deps import SessionDep
from registry.catalog import queries as catalog
from registry.errors import InvalidInput, NotFound
from registry.models import Organization
from registry.reports import problems as report_service
from registry.reports.queries import answer_complaint, answers_to
from web.office.core import FormDep, OfficeUser, UserDep, redirect, render, router, translator
from web.office.messages import explain


def _page(
    request: Request,
    session: Session,
    user: OfficeUser,
    *,
    errors: dict[str, Any] | None = None,
    values: dict[str, Any] | None = None,
    problem: Any = None,
    status_code: int = 200,
) -> Response:
    reports = report_service.list_reports(session, user.account, limit=200)
    ids = [r.id for r, _ in reports]
    orgs = catalog.by_id(session, Organization, [r.organization_id for r, _ in reports])
    return render(
        request,
        "office/complaints.html",
        user=user,
        active="complaints",
        status_code=status_code,
        reports=reports,
        answers=answers_to(session, ids),
        bundles=report_service.bundled_reports(session, ids),
        orgs=orgs,
        errors=errors or {},
        values=values or {},
        problem=problem,
    )


def _allowed(user: OfficeUser) -> None:
    user.require(
        user.is_producer or user.is_official or user.is_admin,
        "complaints are read by producers, officials and administrators",
    )


@router.get("/complaints")
def complaints_page(request: Request, session: SessionDep, user: UserDep) -> Response:
    _allowed(user)
    return _page(request, session, user)


@router.get("/complaints/{report_id}/bundle.json")
def complaint_bundle(report_id: str, session: SessionDep, user: UserDep) -> Response:
    """The guarantee bundle the viewer's phone attached to a report, as a download: what the
    phone verified, to check again with ``registry verify-bundle FILE``."""
    _allowed(user)
    try:
        parsed = uuid.UUID(report_id)
    except ValueError:
        raise NotFound(f"no complaint {report_id}") from None
    bundle, code = report_service.report_bundle(session, user.account, parsed)
    return Response(
        bundle.encode("utf-8"),
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="report-{parsed}-{code}.json"',
            "Cache-Control": "private, no-store",
        },
    )


@router.post("/complaints/{report_id}/answer")
def answer(
    report_id: str, request: Request, session: SessionDep, user: UserDep, form: FormDep
) -> Response:
    _allowed(user)
    _ = translator(request)
    try:
        parsed = uuid.UUID(report_id)
    except ValueError:
        raise NotFound(f"no complaint {report_id}") from None
    try:
        with session.begin_nested():
            answer_complaint(session, user.account, parsed, form.get("text"))
    except InvalidInput as exc:
        key = f"text-{report_id}"
        return _page(
            request,
            session,
            user,
            errors={key: _("请填写答复（2-2000 字）")},
            values={key: form.get("text")},
            problem=explain(exc),
            status_code=422,
        )
    return redirect(
        request,
        f"/office/complaints#report-{report_id}",
        _("答复已保存"),
    )
