"""Complaints: viewers' problem reports (``registry.reports.problems``) as the cooperative
and the endorsing authority read them, and their answers.

An answer is a plain row (``ComplaintAnswer``), not a signed record: it is the
organization's note of what it did about the report, visible to the same parties as the
report itself.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.deps import SessionDep
from registry.errors import InvalidInput, NotFound
from registry.models import Account, ComplaintAnswer, Organization, ProblemReport, Role
from registry.reports import problems as report_service
from web.office import queries
from web.office.core import FormDep, OfficeUser, UserDep, redirect, render, router
from web.office.messages import explain

ANSWER_MAX = 2000


def can_read(account: Account, report: ProblemReport) -> bool:
    """The same rule as the reports API: the asking cooperative, the authority, admins."""
    return account.role is Role.ADMIN or account.organization_id in (
        report.organization_id,
        report.authority_id,
    )


def answer_complaint(
    session: Session, account: Account, report_id: uuid.UUID, text: str
) -> ComplaintAnswer:
    """Record ``account``'s organization's answer to a report it may read."""
    report = session.get(ProblemReport, report_id)
    if report is None or not can_read(account, report):
        raise NotFound(f"no complaint {report_id}")
    cleaned = text.replace("\r\n", "\n").strip()
    if len(cleaned) < 2:
        raise InvalidInput("write an answer", field="text")
    if len(cleaned) > ANSWER_MAX:
        raise InvalidInput(f"an answer has at most {ANSWER_MAX} characters", field="text")
    answer = ComplaintAnswer(
        report_id=report.id,
        account_id=account.id,
        organization_id=account.organization_id,
        text=cleaned,
    )
    session.add(answer)
    session.flush()
    return answer


def answers_to(session: Session, report_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[Any]]:
    rows = session.execute(
        select(ComplaintAnswer, Account, Organization)
        .join(Account, Account.id == ComplaintAnswer.account_id)
        .join(Organization, Organization.id == ComplaintAnswer.organization_id)
        .where(ComplaintAnswer.report_id.in_(report_ids))
        .order_by(ComplaintAnswer.created_at)
    ).all()
    found: dict[uuid.UUID, list[Any]] = {}
    for answer, account, org in rows:
        found.setdefault(answer.report_id, []).append((answer, account, org))
    return found


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
    orgs = queries.by_id(session, Organization, [r.organization_id for r, _ in reports])
    return render(
        request,
        "office/complaints.html",
        user=user,
        active="complaints",
        status_code=status_code,
        reports=reports,
        answers=answers_to(session, ids),
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


@router.post("/complaints/{report_id}/answer")
def answer(
    report_id: str, request: Request, session: SessionDep, user: UserDep, form: FormDep
) -> Response:
    _allowed(user)
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
            errors={key: ("请填写答复（2-2000 字）", "Write an answer (2-2000 characters)")},
            values={key: form.get("text")},
            problem=explain(exc),
            status_code=422,
        )
    return redirect(
        request,
        f"/office/complaints#report-{report_id}",
        ("答复已保存", "Your answer is saved"),
    )
