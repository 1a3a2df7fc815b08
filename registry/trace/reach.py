"""What a recall reaches: the batches it marks, the endorsements it turns ``recalled``, and
who hears of it.

A recall names batches; ingestion marks them and every descendant with the recall's digest
(docs/records.md, "Kinds and who signs them": a recall "reaches every descendant"), which
turns every endorsement covering one of them ``recalled`` (docs/records.md, "Endorsements").
The descendants are found by the trace's forward reach (``registry.trace.queries``).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry import policy
from registry.db import in_chunks
from registry.models import Batch, Endorsement, EndorsementBatch, Organization, OrgKind
from registry.trace.queries import IN_CHUNK, reached_batches
from registry.trace.view import Direction, TracedBatch

__all__ = ["endorsements_turned", "reach_per_recall", "recall_audience"]


def reach_per_recall(
    session: Session, seeds: dict[int, list[uuid.UUID]]
) -> tuple[dict[int, list[TracedBatch]], dict[int, list[str]]]:
    """Per recall (by log index, with the ids of the batches it names): the batches it
    reached, and the codes of the endorsements covering one of them.

    Recalls are rare and a page is short: one trace and one endorsement query per recall."""
    reached: dict[int, list[TracedBatch]] = {}
    endorsements: dict[int, list[str]] = {}
    for index, ids in seeds.items():
        if not ids:
            continue
        reached[index], _ = reached_batches(session, ("ids", ids), Direction.FORWARD, None)
        codes: set[str] = set()
        for chunk in in_chunks([b.id for b in reached[index]], IN_CHUNK):
            codes.update(
                session.scalars(
                    select(Endorsement.code)
                    .join(EndorsementBatch, EndorsementBatch.endorsement_id == Endorsement.id)
                    .where(EndorsementBatch.batch_id.in_(chunk))
                )
            )
        endorsements[index] = sorted(codes)
    return reached, endorsements


def endorsements_turned(session: Session, codes: Sequence[str], digest: str) -> list[str]:
    """Of the endorsements ``codes`` (covering a batch the recall reached), those whose
    recalled covered batches were all recalled by ``digest``: not recalled before it."""
    if not codes:
        return []
    digests: dict[str, set[str]] = {code: set() for code in codes}
    for code, recall_digest in session.execute(
        select(Endorsement.code, Batch.recall_digest)
        .join(EndorsementBatch, EndorsementBatch.endorsement_id == Endorsement.id)
        .join(Batch, Batch.id == EndorsementBatch.batch_id)
        .where(Endorsement.code.in_(codes))
    ):
        if recall_digest is not None:
            digests[code].add(recall_digest)
    return sorted(code for code, found in digests.items() if found == {digest})


def recall_audience(
    session: Session, reached: Sequence[TracedBatch], endorsement_codes: Sequence[str]
) -> set[uuid.UUID]:
    """Who hears of a recall: the producers of every batch it reached, the authorities of the
    endorsements covering them, and every authority whose jurisdiction covers a reached
    batch's region."""
    audience = {b.origin_org_id for b in reached}
    if endorsement_codes:
        audience.update(
            session.scalars(
                select(Endorsement.authority_id).where(Endorsement.code.in_(endorsement_codes))
            )
        )
    regions = {b.region_code for b in reached}
    for org_id, jurisdiction in session.execute(
        select(Organization.id, Organization.jurisdiction).where(
            Organization.kind == OrgKind.AUTHORITY
        )
    ):
        if any(policy.covers(jurisdiction, region) for region in regions):
            audience.add(org_id)
    return audience
