"""What the back office reports: the report card (成绩单) of an authority or of one official,
and complaints (viewers' problem reports) with the answers organizations gave them.

A report card counts what an authority (or one of its officials) endorsed and what came of
it: endorsements by status, requests decided, streams, scans over time, revocations,
recalls, rejections and complaints. A complaint answer is a plain row
(``ComplaintAnswer``), not a signed record, visible to the same parties as the report.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry.clock import CHINA_TZ
from registry.endorsements import published as published_endorsements
from registry.endorsements.scans import ScanCounter
from registry.errors import InvalidInput, NotFound
from registry.models import (
    Account,
    ComplaintAnswer,
    Endorsement,
    EndorsementRequest,
    EndorsementSigner,
    Organization,
    ProblemReport,
    Record,
    RequestStatus,
    Role,
    ScanCount,
    SigningKey,
)
from registry.status import Status

HOURS_SHOWN = 48
"""Hours in a report card's hourly scan series."""
DAYS_SHOWN = 30
"""Days (Beijing time) in a report card's daily scan series."""
ANSWER_MAX = 2000
"""The longest answer to a complaint, in characters."""


@dataclass
class EndorsementRow:
    """One endorsement on a report card, with its status now, its scans and its stream."""

    endorsement: Endorsement
    status: str
    scans: int
    stream: dict[str, Any]


@dataclass
class ReportCard:
    """The report card of an authority, or of one official when ``official`` is set."""

    authority: Organization
    official: Account | None
    rows: list[EndorsementRow]
    by_status: dict[str, int]
    requests: dict[str, int]
    streams: int
    scans: int
    hourly: list[tuple[datetime, int]]
    daily: list[tuple[datetime, int]]
    revocations: int
    recalls: int
    rejections: int
    complaints: int | None
    officials: list[tuple[Account, int]] = field(default_factory=list)

    @property
    def endorsements(self) -> int:
        """How many endorsements the card covers."""
        return len(self.rows)


def _signed_by(
    session: Session, kind: str, authority: Organization, keys: set[str] | None
) -> list[Record]:
    records = session.scalars(
        select(Record).where(Record.organization_id == authority.id, Record.kind == kind)
    )
    if keys is None:
        return list(records)
    return [r for r in records if r.signatures and r.signatures[0]["keyid"] in keys]


def _keys_of(session: Session, account: Account) -> set[str]:
    return set(
        session.scalars(select(SigningKey.key_id).where(SigningKey.account_id == account.id))
    )


def _endorsements(
    session: Session, authority: Organization, official: Account | None
) -> list[Endorsement]:
    query = select(Endorsement).where(Endorsement.authority_id == authority.id)
    if official is not None:
        query = query.join(
            EndorsementSigner, EndorsementSigner.endorsement_id == Endorsement.id
        ).where(EndorsementSigner.account_id == official.id)
    return list(session.scalars(query.order_by(Endorsement.record_index.desc())))


def _request_counts(
    session: Session, authority: Organization, official: Account | None
) -> dict[str, int]:
    query = select(EndorsementRequest.status, func.count()).where(
        EndorsementRequest.authority_id == authority.id
    )
    if official is not None:
        query = query.where(EndorsementRequest.official_id == official.id)
    requests = {s.value: 0 for s in RequestStatus}
    for status, count in session.execute(query.group_by(EndorsementRequest.status)):
        requests[RequestStatus(status).value] = int(count)
    return requests


def _rows(
    session: Session, endorsements: list[Endorsement], counter: ScanCounter | None, now: datetime
) -> list[EndorsementRow]:
    request_streams = {
        r.id: r.stream
        for r in session.scalars(
            select(EndorsementRequest).where(
                EndorsementRequest.id.in_([e.request_id for e in endorsements if e.request_id])
            )
        )
    }
    stored = dict(
        session.execute(
            select(ScanCount.endorsement_id, func.sum(ScanCount.count))
            .where(ScanCount.endorsement_id.in_([e.id for e in endorsements]))
            .group_by(ScanCount.endorsement_id)
        ).all()
    )
    rows = []
    for endorsement in endorsements:
        scans = int(stored.get(endorsement.id) or 0)
        if counter is not None:
            scans += counter.pending(endorsement.id)
        rows.append(
            EndorsementRow(
                endorsement=endorsement,
                status=published_endorsements.status_of(session, endorsement, now).value,
                scans=scans,
                stream=request_streams.get(endorsement.request_id, {})
                if endorsement.request_id
                else {},
            )
        )
    return rows


def _rejections(session: Session, authority: Organization, official: Account | None) -> int:
    query = select(func.count()).where(
        EndorsementRequest.authority_id == authority.id,
        EndorsementRequest.status == RequestStatus.REJECTED,
    )
    if official is not None:
        query = query.where(EndorsementRequest.decided_by == official.id)
    return int(session.scalar(query) or 0)


def _officials(
    session: Session, authority: Organization, ids: list[uuid.UUID]
) -> list[tuple[Account, int]]:
    signed = Counter(
        session.scalars(
            select(EndorsementSigner.account_id).where(EndorsementSigner.endorsement_id.in_(ids))
        )
    )
    members = session.scalars(
        select(Account).where(Account.organization_id == authority.id).order_by(Account.username)
    )
    return [(a, signed.get(a.id, 0)) for a in members if a.role.value == "official"]


def _complaints(session: Session, ids: list[uuid.UUID]) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(ProblemReport)
            .where(ProblemReport.endorsement_id.in_(ids))
        )
        or 0
    )


def report_card(
    session: Session,
    authority: Organization,
    official: Account | None,
    counter: ScanCounter | None,
    now: datetime,
) -> ReportCard:
    """The report card of ``authority``, or of ``official`` alone when given, at ``now``;
    ``counter`` adds the scans not yet written to the database."""
    endorsements = _endorsements(session, authority, official)
    ids = [e.id for e in endorsements]
    rows = _rows(session, endorsements, counter, now)
    by_status = {s.value: 0 for s in Status}
    by_status.update(Counter(r.status for r in rows))
    streams = {
        (r.stream.get("platform"), r.stream.get("room"), r.stream.get("start"))
        for r in rows
        if r.stream
    }
    keys = _keys_of(session, official) if official is not None else None
    hourly, daily = scan_series(session, ids, now)
    return ReportCard(
        authority=authority,
        official=official,
        rows=rows,
        by_status=by_status,
        requests=_request_counts(session, authority, official),
        streams=len(streams),
        scans=sum(r.scans for r in rows),
        hourly=hourly,
        daily=daily,
        revocations=len(_signed_by(session, "endorsement_revocation", authority, keys)),
        recalls=len(_signed_by(session, "recall", authority, keys)),
        rejections=_rejections(session, authority, official),
        complaints=_complaints(session, ids),
        officials=_officials(session, authority, ids) if official is None else [],
    )


def scan_series(
    session: Session, endorsement_ids: list[uuid.UUID], now: datetime
) -> tuple[list[tuple[datetime, int]], list[tuple[datetime, int]]]:
    """Scans per hour over the last 48 hours and per day (Beijing time) over 30 days."""
    end_hour = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    first_day = (now.astimezone(CHINA_TZ) - timedelta(days=DAYS_SHOWN - 1)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    counts: Counter[datetime] = Counter()
    if endorsement_ids:
        for hour, count in session.execute(
            select(ScanCount.hour, func.sum(ScanCount.count))
            .where(
                ScanCount.endorsement_id.in_(endorsement_ids),
                ScanCount.hour >= first_day.astimezone(UTC),
            )
            .group_by(ScanCount.hour)
        ):
            counts[hour.astimezone(UTC)] += int(count)
    hourly = [(end_hour - timedelta(hours=HOURS_SHOWN - 1 - i), 0) for i in range(HOURS_SHOWN)]
    hourly = [(h, counts.get(h, 0)) for h, _ in hourly]
    per_day: Counter[datetime] = Counter()
    for hour, count in counts.items():
        day = hour.astimezone(CHINA_TZ).replace(hour=0, minute=0, second=0, microsecond=0)
        per_day[day] += count
    daily = [(first_day + timedelta(days=i), 0) for i in range(DAYS_SHOWN)]
    daily = [(d, per_day.get(d, 0)) for d, _ in daily]
    return hourly, daily


# --- complaints -----------------------------------------------------------------------------


def can_read_complaint(account: Account, report: ProblemReport) -> bool:
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
    if report is None or not can_read_complaint(account, report):
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


def answers_to(
    session: Session, report_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[tuple[ComplaintAnswer, Account, Organization]]]:
    """The answers to each report, oldest first, with who answered for which organization."""
    rows = session.execute(
        select(ComplaintAnswer, Account, Organization)
        .join(Account, Account.id == ComplaintAnswer.account_id)
        .join(Organization, Organization.id == ComplaintAnswer.organization_id)
        .where(ComplaintAnswer.report_id.in_(report_ids))
        .order_by(ComplaintAnswer.created_at)
    ).all()
    found: dict[uuid.UUID, list[tuple[ComplaintAnswer, Account, Organization]]] = {}
    for answer, account, org in rows:
        found.setdefault(answer.report_id, []).append((answer, account, org))
    return found
