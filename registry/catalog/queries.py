"""Which batches, products and records a back-office user may see, and the lists pages show.

An organization sees the batches it produced or signed a record on; an authority also sees
every batch whose lineage starts in its jurisdiction; an administrator sees everything.
Anything else answers "not found", exactly like a code that does not exist, so a user
cannot even learn that another organization's batch exists (docs/security.md).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, String, and_, cast, func, or_, select
from sqlalchemy.orm import Session

from registry.catalog import batches as batch_service
from registry.codes import normalize_code
from registry.errors import InvalidInput, NotFound
from registry.models import (
    Account,
    Batch,
    Organization,
    OrgKind,
    Product,
    Record,
    RecordBatch,
    Role,
)
from registry.policy import HANDLED_LIKE_STORAGE
from registry.records.schema import KEY_KINDS, Kind


def _touched_by(org_id: uuid.UUID) -> Select[uuid.UUID]:
    return (
        select(RecordBatch.batch_id)
        .join(Record, Record.log_index == RecordBatch.record_index)
        .where(Record.organization_id == org_id)
    )


def can_see_batch(session: Session, account: Account, org: Organization, batch: Batch) -> bool:
    """Whether ``account`` (of ``org``) may see ``batch``: admin, producer, a signer of one of
    its records, or an authority whose jurisdiction holds the start of its lineage."""
    if account.role is Role.ADMIN or batch.origin_org_id == org.id:
        return True
    touched = session.scalars(
        _touched_by(org.id).where(RecordBatch.batch_id == batch.id).limit(1)
    ).first()
    if touched is not None:
        return True
    if org.kind is OrgKind.AUTHORITY and org.jurisdiction:
        lineage = batch_service.ancestor_ids(session, [batch.id])
        inside = session.scalars(
            select(Batch.id)
            .where(Batch.id.in_(lineage), Batch.region_code.startswith(org.jurisdiction))
            .limit(1)
        ).first()
        return inside is not None
    return False


def visible_batch(session: Session, account: Account, org: Organization, code: str) -> Batch:
    """The batch with this code, if the account may see it; NotFound either way otherwise."""
    try:
        batch = batch_service.get_batch(session, normalize_code(code))
    except InvalidInput:
        raise NotFound(f"no batch {code!r}") from None
    if not can_see_batch(session, account, org, batch):
        raise NotFound(f"no batch {code!r}")
    return batch


def visible_batches(
    session: Session, account: Account, org: Organization, search: str = "", limit: int = 100
) -> list[Batch]:
    """The batches the account may see, newest first, optionally matching a lot or code."""
    query = select(Batch).order_by(Batch.created_index.desc(), Batch.lot).limit(limit)
    if account.role is not Role.ADMIN:
        condition = or_(Batch.origin_org_id == org.id, Batch.id.in_(_touched_by(org.id)))
        if org.kind is OrgKind.AUTHORITY and org.jurisdiction:
            condition = or_(condition, Batch.region_code.startswith(org.jurisdiction))
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


def own_batches(session: Session, org_id: uuid.UUID, limit: int = 200) -> list[Batch]:
    """Batches the organization produced, newest first (suggestions in forms)."""
    return list(
        session.scalars(
            select(Batch)
            .where(Batch.origin_org_id == org_id)
            .order_by(Batch.created_index.desc(), Batch.lot)
            .limit(limit)
        )
    )


def _names(column: Any, org_id: uuid.UUID) -> Any:
    """Whether a JSON list of organization ids holds ``org_id`` (its text form, which is
    the same on SQLite and PostgreSQL; a UUID string cannot match part of another)."""
    return cast(column, String).contains(f'"{org_id}"')


def custody_batches(
    session: Session, org: Organization, kind: Kind, limit: int = 200
) -> list[Batch]:
    """The batches ``org`` may sign a record of ``kind`` for under the custody rules
    (docs/records.md, "Custody"), newest first: what the office's forms offer. A lab is
    offered what it was asked to inspect, a receiver what is shipped to it, a carrier what
    was handed to it (or it holds), a processor the inputs it holds; a producer's steps its
    own batches and those it holds."""
    condition: Any
    if kind is Kind.INSPECTION:
        condition = _names(Batch.lab_org_ids, org.id)
    elif kind is Kind.RECEIVING:
        condition = Batch.destination_org_id == org.id
    elif org.kind is OrgKind.CARRIER:
        condition = or_(Batch.holder_org_id == org.id, _names(Batch.carrier_org_ids, org.id))
    elif kind in (Kind.PROCESSING, Kind.ASSIGNMENT):
        condition = Batch.holder_org_id == org.id
    elif kind in HANDLED_LIKE_STORAGE:
        condition = or_(Batch.holder_org_id == org.id, Batch.origin_org_id == org.id)
    else:
        condition = Batch.origin_org_id == org.id
    return list(
        session.scalars(
            select(Batch)
            .where(condition)
            .order_by(Batch.created_index.desc(), Batch.lot)
            .limit(limit)
        )
    )


def unrecalled_batches(session: Session, ids: Iterable[uuid.UUID], limit: int = 200) -> list[Batch]:
    """Those of the given batches that are not recalled, newest first."""
    return list(
        session.scalars(
            select(Batch)
            .where(Batch.id.in_(list(ids)), Batch.recall_digest.is_(None))
            .order_by(Batch.created_index.desc(), Batch.lot)
            .limit(limit)
        )
    )


def batch_by_ref(session: Session, ref: str) -> Batch | None:
    """The batch a record names as ``product_id:lot``, if it exists."""
    product_id, _, lot = ref.partition(":")
    return session.scalars(
        select(Batch).where(Batch.product_id == uuid.UUID(product_id), Batch.lot == lot)
    ).first()


def batches_by_id(session: Session, ids: Iterable[str]) -> list[Batch]:
    """The batches with these ids (as strings), in that order, skipping unknown ones."""
    found = (session.get(Batch, uuid.UUID(i)) for i in ids)
    return [b for b in found if b is not None]


def by_id(session: Session, model: Any, ids: Iterable[uuid.UUID | None]) -> dict[uuid.UUID, Any]:
    """Rows of ``model`` (any table with an ``id``) by id, for the ids given (None skipped)."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {row.id: row for row in session.scalars(select(model).where(model.id.in_(wanted)))}


def get_by_id(session: Session, model: Any, row_id: uuid.UUID | None) -> Any:
    """One row of ``model`` by primary key, or None (also for a None id)."""
    return session.get(model, row_id) if row_id is not None else None


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
    """The records with their signing organization and the batches each names."""
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


def recent_records(session: Session, org_id: uuid.UUID, limit: int = 10) -> list[RecordLine]:
    """The organization's latest signed records (keys' records left out), newest first."""
    records = list(
        session.scalars(
            select(Record)
            .where(
                Record.organization_id == org_id,
                Record.kind.not_in([k.value for k in KEY_KINDS]),
            )
            .order_by(Record.log_index.desc())
            .limit(limit)
        )
    )
    return record_lines(session, records)


def products_of(session: Session, org_id: uuid.UUID) -> list[Product]:
    """The organization's products, oldest first."""
    return list(
        session.scalars(
            select(Product)
            .where(Product.organization_id == org_id)
            .order_by(Product.created_at, Product.name_zh)
        )
    )


def batch_counts(session: Session, product_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    """How many batches each product has (products without batches left out)."""
    if not product_ids:
        return {}
    rows = session.execute(
        select(Batch.product_id, func.count())
        .where(Batch.product_id.in_(product_ids))
        .group_by(Batch.product_id)
    ).all()
    return {product_id: int(count) for product_id, count in rows}


def products_page(
    session: Session, after: uuid.UUID | None, limit: int, organization_id: uuid.UUID | None
) -> tuple[list[Product], bool]:
    """One page of products in id order: at most ``limit`` with an id greater than ``after``
    (from the start when None), of one organization when ``organization_id`` is given, and
    whether more follow. The next page's cursor is the last returned product's id."""
    query = select(Product).order_by(Product.id).limit(limit + 1)
    if after is not None:
        query = query.where(Product.id > after)
    if organization_id is not None:
        query = query.where(Product.organization_id == organization_id)
    rows = list(session.scalars(query))
    return rows[:limit], len(rows) > limit


def batches_page(
    session: Session,
    after: tuple[int, uuid.UUID] | None,
    limit: int,
    product_id: uuid.UUID | None,
) -> tuple[list[Batch], bool]:
    """One page of batches in (created_index, id) order: at most ``limit`` coming after the
    key ``after`` (from the start when None), of one product when ``product_id`` is given,
    and whether more follow. Batches made by one processing record share a created_index,
    so the next page's cursor is the last returned batch's (created_index, id) pair."""
    query = select(Batch).order_by(Batch.created_index, Batch.id).limit(limit + 1)
    if after is not None:
        index, last_id = after
        query = query.where(
            or_(
                Batch.created_index > index,
                and_(Batch.created_index == index, Batch.id > last_id),
            )
        )
    if product_id is not None:
        query = query.where(Batch.product_id == product_id)
    rows = list(session.scalars(query))
    return rows[:limit], len(rows) > limit
