"""The report card (成绩单) of an authority or of one official: what they endorsed and what
came of it: endorsements by status, requests decided, streams, scans over time (an SVG bar
chart drawn here, no chart library), revocations, recalls and complaints (viewers' problem
reports).
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html import escape
from typing import Any

from markupsafe import Markup
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry.endorsements import published as endorsement_service
from registry.endorsements.scans import ScanCounter
from registry.models import (
    Account,
    Endorsement,
    EndorsementRequest,
    EndorsementSigner,
    Organization,
    ProblemReport,
    Record,
    RequestStatus,
    ScanCount,
    SigningKey,
)
from registry.status import Status
from web.office.core import CST

HOURS_SHOWN = 48
DAYS_SHOWN = 30


@dataclass
class EndorsementRow:
    endorsement: Endorsement
    status: str
    scans: int
    stream: dict[str, Any]


@dataclass
class ReportCard:
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
        return len(self.rows)


def _signed_by(session: Session, kinds: tuple[str, ...], authority: Organization) -> list[Record]:
    return list(
        session.scalars(
            select(Record).where(Record.organization_id == authority.id, Record.kind.in_(kinds))
        )
    )


def _keys_of(session: Session, account: Account) -> set[str]:
    return set(
        session.scalars(select(SigningKey.key_id).where(SigningKey.account_id == account.id))
    )


def report_card(
    session: Session,
    authority: Organization,
    official: Account | None,
    counter: ScanCounter | None,
    now: datetime,
) -> ReportCard:
    query = select(Endorsement).where(Endorsement.authority_id == authority.id)
    if official is not None:
        query = query.join(
            EndorsementSigner, EndorsementSigner.endorsement_id == Endorsement.id
        ).where(EndorsementSigner.account_id == official.id)
    endorsements = list(session.scalars(query.order_by(Endorsement.record_index.desc())))
    ids = [e.id for e in endorsements]

    requests_query = select(EndorsementRequest.status, func.count()).where(
        EndorsementRequest.authority_id == authority.id
    )
    if official is not None:
        requests_query = requests_query.where(EndorsementRequest.official_id == official.id)
    requests = {s.value: 0 for s in RequestStatus}
    for status, count in session.execute(requests_query.group_by(EndorsementRequest.status)):
        requests[RequestStatus(status).value] = int(count)

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
            .where(ScanCount.endorsement_id.in_(ids))
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
                status=endorsement_service.status_of(session, endorsement, now).value,
                scans=scans,
                stream=request_streams.get(endorsement.request_id, {})
                if endorsement.request_id
                else {},
            )
        )
    by_status = {s.value: 0 for s in Status}
    by_status.update(Counter(r.status for r in rows))
    streams = {
        (r.stream.get("platform"), r.stream.get("room"), r.stream.get("start"))
        for r in rows
        if r.stream
    }

    revocations_records = _signed_by(session, ("endorsement_revocation",), authority)
    recall_records = _signed_by(session, ("recall",), authority)
    rejections_query = select(func.count()).where(
        EndorsementRequest.authority_id == authority.id,
        EndorsementRequest.status == RequestStatus.REJECTED,
    )
    if official is not None:
        keys = _keys_of(session, official)
        revocations_records = [
            r for r in revocations_records if r.signatures and r.signatures[0]["keyid"] in keys
        ]
        recall_records = [
            r for r in recall_records if r.signatures and r.signatures[0]["keyid"] in keys
        ]
        rejections_query = rejections_query.where(EndorsementRequest.decided_by == official.id)

    officials: list[tuple[Account, int]] = []
    if official is None:
        signed = Counter(
            session.scalars(
                select(EndorsementSigner.account_id).where(
                    EndorsementSigner.endorsement_id.in_(ids)
                )
            )
        )
        members = session.scalars(
            select(Account)
            .where(Account.organization_id == authority.id)
            .order_by(Account.username)
        )
        officials = [(a, signed.get(a.id, 0)) for a in members if a.role.value == "official"]

    hourly, daily = scan_series(session, ids, now)
    return ReportCard(
        authority=authority,
        official=official,
        rows=rows,
        by_status=by_status,
        requests=requests,
        streams=len(streams),
        scans=sum(r.scans for r in rows),
        hourly=hourly,
        daily=daily,
        revocations=len(revocations_records),
        recalls=len(recall_records),
        rejections=int(session.scalar(rejections_query) or 0),
        complaints=int(
            session.scalar(
                select(func.count())
                .select_from(ProblemReport)
                .where(ProblemReport.endorsement_id.in_(ids))
            )
            or 0
        ),
        officials=officials,
    )


def scan_series(
    session: Session, endorsement_ids: list[uuid.UUID], now: datetime
) -> tuple[list[tuple[datetime, int]], list[tuple[datetime, int]]]:
    """Scans per hour over the last 48 hours and per day (Beijing time) over 30 days."""
    end_hour = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    first_day = (now.astimezone(CST) - timedelta(days=DAYS_SHOWN - 1)).replace(
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
        day = hour.astimezone(CST).replace(hour=0, minute=0, second=0, microsecond=0)
        per_day[day] += count
    daily = [(first_day + timedelta(days=i), 0) for i in range(DAYS_SHOWN)]
    daily = [(d, per_day.get(d, 0)) for d, _ in daily]
    return hourly, daily


def _nice_ceiling(peak: int) -> int:
    """The smallest of 2, 4, 6, 8, 10, 20, 40, 60, ... at or above ``peak``: its half is a
    whole number, so the middle gridline gets an honest label."""
    scale = 1
    while True:
        for step in (2, 4, 6, 8, 10):
            if peak <= step * scale:
                return step * scale
        scale *= 10


def bar_chart(
    points: list[tuple[str, int]], title: str, label_every: int, testid: str = "chart"
) -> Markup:
    """An SVG bar chart of ``points`` (label, value): self-drawn, scales to its container,
    presentation attributes only (the pages' CSP allows no inline styles)."""
    width, height = 400, 220
    left, bottom, top = 34, 26, 12
    plot_w, plot_h = width - left - 8, height - bottom - top
    peak = max((v for _, v in points), default=0)
    scale_max = _nice_ceiling(peak)
    slot = plot_w / max(len(points), 1)
    bar_w = max(slot * 0.72, 1)
    parts = [
        f'<svg class="chart" data-testid="{escape(testid)}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(title)}" preserveAspectRatio="xMidYMid meet" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        # gridlines at 0, half and the peak
    ]
    for fraction in (0, 0.5, 1):
        y = top + plot_h * (1 - fraction)
        value = round(scale_max * fraction)
        parts.append(
            f'<line x1="{left}" x2="{width - 8}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="#d1d9e0" stroke-width="1"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="12" '
            f'fill="#59636e">{value}</text>'
        )
    for i, (label, value) in enumerate(points):
        x = left + i * slot + (slot - bar_w) / 2
        bar_h = plot_h * value / scale_max
        y = top + plot_h - bar_h
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" '
            f'height="{max(bar_h, 0):.1f}" rx="1.5" fill="#1a7f37" data-value="{value}">'
            f"<title>{escape(label)}: {value}</title></rect>"
        )
        if i % label_every == 0:
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{height - 8}" text-anchor="middle" '
                f'font-size="12" fill="#59636e">{escape(label)}</text>'
            )
    parts.append("</svg>")
    # Every text in the parts went through html.escape; the rest are numbers we formatted.
    return Markup("".join(parts))  # noqa: S704


def hourly_chart(card: ReportCard, title: str) -> Markup:
    points = [(h.astimezone(CST).strftime("%H:00"), v) for h, v in card.hourly]
    return bar_chart(points, title, label_every=6, testid="chart-hourly")


def daily_chart(card: ReportCard, title: str) -> Markup:
    points = [(d.strftime("%m-%d"), v) for d, v in card.daily]
    return bar_chart(points, title, label_every=5, testid="chart-daily")
