"""What a back-office user may see, and the lists the pages show.

An organization sees the batches it produced or signed a record on; an authority also sees
every batch whose lineage starts in its jurisdiction; an administrator sees everything.
Anything else answers "not found", exactly like a code that does not exist, so a user
cannot even learn that another organization's batch or request exists.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from registry.catalog import batches as batch_service
from registry.codes import normalize_code
from registry.errors import InvalidInput, NotFound
from registry.models import (
    Account,
    Batch,
    Endorsement,
    EndorsementBatch,
    EndorsementRequest,
    Organization,
    OrgKind,
    Product,
    Record,
    RecordBatch,
    RequestStatus,
    Role,
)
from registry.records.schema import KEY_KINDS
from web.office.core import OfficeUser

OPEN_REQUESTS = (RequestStatus.PENDING, RequestStatus.PARTIALLY_APPROVED)


def _touched_by(org_id: uuid.UUID) -> Select[uuid.UUID]:
    return (
        select(RecordBatch.batch_id)
        .join(Record, Record.log_index == RecordBatch.record_index)
        .where(Record.organization_id == org_id)
    )


def can_see_batch(session: Session, user: OfficeUser, batch: Batch) -> bool:
    if user.is_admin or batch.origin_org_id == user.org.id:
        return True
    touched = session.scalars(
        _touched_by(user.org.id).where(RecordBatch.batch_id == batch.id).limit(1)
    ).first()
    if touched is not None:
        return True
    if user.kind is OrgKind.AUTHORITY and user.org.jurisdiction:
        lineage = batch_service.ancestor_ids(session, [batch.id])
        inside = session.scalars(
            select(Batch.id)
            .where(Batch.id.in_(lineage), Batch.region_code.startswith(user.org.jurisdiction))
            .limit(1)
        ).first()
        return inside is not None
    return False


def visible_batch(session: Session, user: OfficeUser, code: str) -> Batch:
    """The batch with this code, if the user may see it; NotFound either way otherwise."""
    try:
        batch = batch_service.get_batch(session, normalize_code(code))
    except InvalidInput:
        raise NotFound(f"no batch {code!r}") from None
    if not can_see_batch(session, user, batch):
        raise NotFound(f"no batch {code!r}")
    return batch


def visible_batches(
    session: Session, user: OfficeUser, search: str = "", limit: int = 100
) -> list[Batch]:
    query = select(Batch).order_by(Batch.created_index.desc(), Batch.lot).limit(limit)
    if not user.is_admin:
        condition = or_(Batch.origin_org_id == user.org.id, Batch.id.in_(_touched_by(user.org.id)))
        if user.kind is OrgKind.AUTHORITY and user.org.jurisdiction:
            condition = or_(condition, Batch.region_code.startswith(user.org.jurisdiction))
        query = query.where(condition)
    if search:
        try:
            code = normalize_code(search)
        except InvalidInput:
            code = None
        pattern = f"%{search.replace('%', '').replace('_', '')}%"
        query = query.where(
            or_(Batch.lot.ilike(pattern), Batch.code == code) if code else Batch.lot.ilike(pattern)
        )
    return list(session.scalars(query))


def own_batches(session: Session, user: OfficeUser, limit: int = 200) -> list[Batch]:
    """Batches the user's organization produced, newest first (suggestions in forms)."""
    return list(
        session.scalars(
            select(Batch)
            .where(Batch.origin_org_id == user.org.id)
            .order_by(Batch.created_index.desc(), Batch.lot)
            .limit(limit)
        )
    )


def by_id(session: Session, model: Any, ids: Iterable[uuid.UUID | None]) -> dict[uuid.UUID, Any]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {row.id: row for row in session.scalars(select(model).where(model.id.in_(wanted)))}


@dataclass(frozen=True)
class RecordLine:
    """One signed record as a list shows it."""

    index: int
    kind: str
    time: str
    org: Organization | None
    document: dict[str, Any]
    batches: list[Batch]


def record_lines(session: Session, records: list[Record]) -> list[RecordLine]:
    orgs = by_id(session, Organization, [r.organization_id for r in records if r.organization_id])
    links = session.execute(
        select(RecordBatch.record_index, Batch)
        .join(Batch, Batch.id == RecordBatch.batch_id)
        .where(RecordBatch.record_index.in_([r.log_index for r in records]))
        .order_by(Batch.lot)
    ).all()
    batches: dict[int, list[Batch]] = {}
    for index, batch in links:
        batches.setdefault(index, []).append(batch)
    lines = []
    for record in records:
        document = json.loads(record.payload) if record.payload is not None else {}
        lines.append(
            RecordLine(
                index=record.log_index,
                kind=record.kind,
                time=document.get("time") or record.logged_at.isoformat(),
                org=orgs.get(record.organization_id) if record.organization_id else None,
                document=document,
                batches=batches.get(record.log_index, []),
            )
        )
    return lines


def recent_records(session: Session, user: OfficeUser, limit: int = 10) -> list[RecordLine]:
    records = list(
        session.scalars(
            select(Record)
            .where(
                Record.organization_id == user.org.id,
                Record.kind.not_in([k.value for k in KEY_KINDS]),
            )
            .order_by(Record.log_index.desc())
            .limit(limit)
        )
    )
    return record_lines(session, records)


def requests_for(
    session: Session, user: OfficeUser, open_only: bool = False, limit: int = 200
) -> list[EndorsementRequest]:
    """A producer's own requests; an authority's review queue; everything for an admin."""
    query = select(EndorsementRequest).order_by(EndorsementRequest.created_at.desc()).limit(limit)
    if not user.is_admin:
        query = query.where(
            or_(
                EndorsementRequest.organization_id == user.org.id,
                EndorsementRequest.authority_id == user.org.id,
            )
        )
    if open_only:
        query = query.where(EndorsementRequest.status.in_(OPEN_REQUESTS))
    return list(session.scalars(query))


def visible_request(session: Session, user: OfficeUser, request_id: str) -> EndorsementRequest:
    try:
        found = session.get(EndorsementRequest, uuid.UUID(request_id))
    except ValueError:
        found = None
    if found is None or not (
        user.is_admin or user.org.id in (found.organization_id, found.authority_id)
    ):
        raise NotFound(f"no endorsement request {request_id}")
    return found


def endorsements_for(session: Session, user: OfficeUser, limit: int = 200) -> list[Endorsement]:
    query = select(Endorsement).order_by(Endorsement.record_index.desc()).limit(limit)
    if user.is_admin:
        return list(session.scalars(query))
    if user.kind is OrgKind.AUTHORITY:
        return list(session.scalars(query.where(Endorsement.authority_id == user.org.id)))
    mine = select(EndorsementRequest.id).where(EndorsementRequest.organization_id == user.org.id)
    return list(session.scalars(query.where(Endorsement.request_id.in_(mine))))


def can_see_endorsement(session: Session, user: OfficeUser, endorsement: Endorsement) -> bool:
    if user.is_admin or endorsement.authority_id == user.org.id:
        return True
    if endorsement.request_id is None:
        return False
    request = session.get(EndorsementRequest, endorsement.request_id)
    return request is not None and request.organization_id == user.org.id


def endorsement_batches(session: Session, endorsement_ids: list[uuid.UUID]) -> dict[Any, Any]:
    rows = session.execute(
        select(EndorsementBatch.endorsement_id, Batch)
        .join(Batch, Batch.id == EndorsementBatch.batch_id)
        .where(EndorsementBatch.endorsement_id.in_(endorsement_ids))
    ).all()
    found: dict[uuid.UUID, list[Batch]] = {}
    for endorsement_id, batch in rows:
        found.setdefault(endorsement_id, []).append(batch)
    return found


def officials_for(session: Session, org: Organization) -> list[tuple[Account, Organization]]:
    """Officials whose authority covers the organization's region (all, if none does)."""
    rows = session.execute(
        select(Account, Organization)
        .join(Organization, Organization.id == Account.organization_id)
        .where(Account.role == Role.OFFICIAL, Account.disabled_at.is_(None))
        .order_by(Organization.name_zh, Account.username)
    ).all()
    pairs = [(a, o) for a, o in rows]
    covering = [
        (a, o) for a, o in pairs if o.jurisdiction and org.region_code.startswith(o.jurisdiction)
    ]
    return covering or pairs


def products_of(session: Session, org_id: uuid.UUID) -> list[Product]:
    return list(
        session.scalars(
            select(Product).where(Product.organization_id == org_id).order_by(Product.created_at)
        )
    )


def batch_counts(session: Session, product_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    if not product_ids:
        return {}
    rows = session.execute(
        select(Batch.product_id, func.count())
        .where(Batch.product_id.in_(product_ids))
        .group_by(Batch.product_id)
    ).all()
    return {product_id: int(count) for product_id, count in rows}
