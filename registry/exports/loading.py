"""The database side of the exports: the supply-chain records inside the latest signed
checkpoint, with the batches and organizations they name.

Every export reads the latest checkpoint first and then only records inside it, so what it
shows can be proven against that checkpoint (RFC 6962 §2.1.1, ``/log/proof/inclusion``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select, tuple_
from sqlalchemy.orm import Session

from registry.catalog import batches as batch_service
from registry.db import in_chunks
from registry.exports.epcis.facts import BatchInfo, LoggedRecord, OrgInfo
from registry.exports.filters import TimeRange
from registry.models import Batch, Checkpoint, Organization, Product, Record, RecordBatch
from registry.records.schema import split_batch_ref


@dataclass
class Loaded:
    """Records of an export, the checkpoint they are inside, and what they name."""

    checkpoint: Checkpoint | None
    records: list[LoggedRecord]
    batches: dict[str, tuple[Batch, Product]]
    orgs: dict[uuid.UUID, Organization]


def org_info(org: Organization) -> OrgInfo:
    """An organization as an export names it."""
    return OrgInfo(org.id, org.name_zh, org.name_en, org.region_code, org.gln)


def batch_info(batch: Batch, product: Product) -> BatchInfo:
    """A batch (and its product) as an export names it."""
    return BatchInfo(
        ref=f"{batch.product_id}:{batch.lot}",
        product_id=batch.product_id,
        lot=batch.lot,
        code=batch.code,
        unit=batch.unit,
        gtin=product.gtin,
        product_zh=product.name_zh,
        product_en=product.name_en,
        best_before=batch.best_before,
    )


def load_batches(session: Session, refs: Iterable[str]) -> dict[str, tuple[Batch, Product]]:
    """The batches (with products) of batch refs ``"<product id>:<lot>"``, by ref."""
    keys = sorted({split_batch_ref(ref) for ref in refs})
    found: dict[str, tuple[Batch, Product]] = {}
    for chunk in in_chunks(keys):
        rows = session.execute(
            select(Batch, Product)
            .join(Product, Product.id == Batch.product_id)
            .where(tuple_(Batch.product_id, Batch.lot).in_(list(chunk)))
        ).all()
        found.update({f"{b.product_id}:{b.lot}": (b, p) for b, p in rows})
    return found


def _organizations(session: Session, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Organization]:
    return {
        o.id: o
        for chunk in in_chunks(sorted(ids))
        for o in session.scalars(select(Organization).where(Organization.id.in_(list(chunk))))
    }


def _record_rows(
    session: Session, query: Select[Record], record_indices: set[int] | None
) -> list[Record]:
    if record_indices is None:
        return list(session.scalars(query))
    rows: list[Record] = []
    for indices in in_chunks(sorted(record_indices)):
        rows.extend(session.scalars(query.where(Record.log_index.in_(list(indices)))))
    rows.sort(key=lambda r: r.log_index)
    return rows


def load(
    session: Session,
    *,
    window: TimeRange,
    record_indices: set[int] | None,
    kinds: frozenset[str],
) -> Loaded:
    """The records of ``kinds`` inside the latest checkpoint whose time is in ``window``
    (and, if given, whose log index is in ``record_indices``), in log order."""
    checkpoint = session.scalars(
        select(Checkpoint).order_by(Checkpoint.size.desc()).limit(1)
    ).first()
    size = checkpoint.size if checkpoint is not None else 0
    query = (
        select(Record)
        .where(Record.kind.in_(sorted(kinds)), Record.log_index < size)
        .order_by(Record.log_index)
    )
    if window.since is not None:
        query = query.where(Record.record_time >= window.since)
    if window.before is not None:
        query = query.where(Record.record_time < window.before)
    rows = _record_rows(session, query, record_indices)
    orgs = _organizations(
        session, {r.organization_id for r in rows if r.organization_id is not None}
    )
    records = []
    refs: set[str] = set()
    for row in rows:
        if row.payload is None:  # erased personal data: nothing left to export
            continue
        document = json.loads(row.payload)
        refs.update(str(r) for r in document.get("batches", []))
        org = orgs.get(row.organization_id) if row.organization_id else None
        records.append(_logged(row, document, org))
    # Batch rows of the origin organizations too (the TLC source of a spreadsheet row).
    batches = load_batches(session, refs)
    orgs.update(_organizations(session, {b.origin_org_id for b, _ in batches.values()} - set(orgs)))
    return Loaded(checkpoint, records, batches, orgs)


def _logged(row: Record, document: dict[str, Any], org: Organization | None) -> LoggedRecord:
    return LoggedRecord(
        log_index=row.log_index,
        digest=row.digest,
        logged_at=row.logged_at,
        kind=row.kind,
        document=document,
        org=org_info(org) if org is not None else None,
    )


def corrected_record(session: Session, correction: LoggedRecord) -> LoggedRecord | None:
    """The record a correction corrects (by digest), if it is still there to export."""
    digest = correction.document.get("corrects")
    row = session.scalars(select(Record).where(Record.digest == digest)).first()
    if row is None or row.payload is None:
        return None
    org = session.get(Organization, row.organization_id) if row.organization_id else None
    return _logged(row, json.loads(row.payload), org)


def trace_record_indices(session: Session, batch: Batch) -> tuple[set[uuid.UUID], set[int]]:
    """The trace of a batch: its ancestors and descendants at any depth (the lineage CTEs),
    and the records of that trace: every record naming one of those batches, except a
    transformation that only consumed one of them into something outside the trace."""
    batch_ids = batch_service.ancestor_ids(session, [batch.id]) | batch_service.descendant_ids(
        session, [batch.id]
    )
    indices: set[int] = set()
    for chunk in in_chunks(sorted(batch_ids)):
        rows = session.execute(
            select(RecordBatch.record_index, RecordBatch.role).where(
                RecordBatch.batch_id.in_(list(chunk))
            )
        )
        indices.update(index for index, role in rows if role != "input")
    return batch_ids, indices
