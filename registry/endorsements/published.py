"""Published endorsements: found by their code, the batches they cover, their status now.

The status is ``registry.status.endorsement_status`` of the validity window, a revocation
and any recall of a covered batch (docs/records.md, "Endorsements").
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.codes import normalize_code
from registry.errors import InvalidInput, NotFound
from registry.models import Batch, Endorsement, EndorsementBatch
from registry.status import Status, endorsement_status


def get_endorsement(session: Session, code: str) -> Endorsement:
    """The endorsement with this public code (normalized first); ``NotFound`` otherwise."""
    try:
        normalized = normalize_code(code)
    except InvalidInput:
        raise NotFound(f"no endorsement {code!r}") from None
    endorsement = session.scalars(select(Endorsement).where(Endorsement.code == normalized)).first()
    if endorsement is None:
        raise NotFound(f"no endorsement {normalized}")
    return endorsement


def covered_batches(session: Session, endorsement: Endorsement) -> list[Batch]:
    """The batches the endorsement covers, by lot."""
    return list(
        session.scalars(
            select(Batch)
            .join(EndorsementBatch, EndorsementBatch.batch_id == Batch.id)
            .where(EndorsementBatch.endorsement_id == endorsement.id)
            .order_by(Batch.lot)
        )
    )


def status_of(session: Session, endorsement: Endorsement, now: datetime) -> Status:
    """The endorsement's status at ``now``: valid, not yet valid, expired, revoked, recalled."""
    recalled = any(b.recall_digest for b in covered_batches(session, endorsement))
    return endorsement_status(
        now,
        endorsement.valid_from,
        endorsement.valid_until,
        revoked=endorsement.revocation_index is not None,
        recalled=recalled,
    )
