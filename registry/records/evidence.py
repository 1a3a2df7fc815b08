"""The evidence behind an endorsement: every record of the covered batches' lineage, each
with its verification, and the preconditions evaluated over it (docs/records.md,
"Endorsements").

The registry evaluates the preconditions (``policy.endorsement_preconditions``) before an
official signs and again when accepting the signed record; both read the evidence here.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry import policy
from registry.catalog import batches as batch_service
from registry.models import Batch, Organization, Record, RecordBatch, SigningKey
from registry.records.schema import Stream, batch_ref
from registry.records.stored import record_problem


@dataclass(frozen=True)
class Evidence:
    """The covered batches' lineage as the preconditions see it."""

    covered: list[Batch]
    batches: list[policy.BatchEvidence]
    records: list[Record]  # every record of every batch in the lineage, by log index
    origin_regions: dict[str, str]  # root lot -> region of its harvest signer


def gather_evidence(session: Session, covered: Sequence[Batch]) -> Evidence:
    """The lineage of the covered batches with each record's verification."""
    covered_ids = {b.id for b in covered}
    lineage_ids = batch_service.ancestor_ids(session, list(covered_ids))
    lineage = list(session.scalars(select(Batch).where(Batch.id.in_(lineage_ids))))
    with_inputs = set(
        session.scalars(
            select(RecordBatch.batch_id).where(
                RecordBatch.batch_id.in_(lineage_ids), RecordBatch.role == "output"
            )
        )
    )
    by_batch, records = _lineage_records(session, lineage_ids)
    evidence = []
    origin_regions = {}
    for batch in sorted(lineage, key=lambda b: b.created_index):
        items = tuple(by_batch.get(batch.id, []))
        is_root = batch.id not in with_inputs
        if is_root:
            harvest = next((r for r in items if r.kind == "harvest"), None)
            origin_regions[batch.lot] = harvest.signer_region if harvest else batch.region_code
        evidence.append(
            policy.BatchEvidence(
                ref=batch_ref(batch.product_id, batch.lot),
                lot=batch.lot,
                origin_org_id=batch.origin_org_id,
                covered=batch.id in covered_ids,
                is_root=is_root,
                best_before=batch.best_before,
                recalled=batch.recall_digest is not None,
                records=items,
            )
        )
    return Evidence(
        covered=list(covered),
        batches=evidence,
        records=[records[i] for i in sorted(records)],
        origin_regions=origin_regions,
    )


def _lineage_records(
    session: Session, lineage_ids: set[uuid.UUID]
) -> tuple[dict[uuid.UUID, list[policy.EvidenceRecord]], dict[int, Record]]:
    """Each lineage batch's records as evidence, and every such record by log index."""
    rows = session.execute(
        select(RecordBatch.batch_id, Record)
        .join(Record, Record.log_index == RecordBatch.record_index)
        .where(RecordBatch.batch_id.in_(lineage_ids))
        .order_by(Record.log_index)
    ).all()
    keys = {k.key_id: k for k in session.scalars(select(SigningKey))}
    orgs = {o.id: o for o in session.scalars(select(Organization))}
    by_batch: dict[uuid.UUID, list[policy.EvidenceRecord]] = {}
    records: dict[int, Record] = {}
    for batch_id, record in rows:
        records[record.log_index] = record
        by_batch.setdefault(batch_id, []).append(_evidence_record(record, batch_id, keys, orgs))
    return by_batch, records


def _evidence_record(
    record: Record,
    batch_id: uuid.UUID,
    keys: dict[str, SigningKey],
    orgs: dict[uuid.UUID, Organization],
) -> policy.EvidenceRecord:
    document = json.loads(record.payload) if record.payload is not None else {}
    key = keys.get(record.signatures[0]["keyid"])
    org = orgs.get(key.organization_id) if key and key.organization_id else None
    return policy.EvidenceRecord(
        index=record.log_index,
        kind=record.kind,
        batch_ref=str(batch_id),
        signer_org_id=org.id if org else uuid.UUID(int=0),
        signer_org_kind=org.kind.value if org else "unknown",
        signer_region=org.region_code if org else "",
        time=datetime.fromisoformat(document["time"]) if "time" in document else record.logged_at,
        verdict=document.get("verdict"),
        problem=record_problem(record, keys),
    )


def preconditions_for(
    session: Session, authority: Organization, covered: Sequence[Batch], stream: Stream
) -> tuple[Evidence, list[policy.Precondition]]:
    """The evidence for ``covered`` and the endorsement preconditions evaluated on it for
    ``authority``'s jurisdiction and the stream's times (docs/records.md, "Endorsements")."""
    evidence = gather_evidence(session, covered)
    results = policy.endorsement_preconditions(
        authority.jurisdiction or "",
        evidence.batches,
        datetime.fromisoformat(stream.start),
        datetime.fromisoformat(stream.end),
    )
    return evidence, results
