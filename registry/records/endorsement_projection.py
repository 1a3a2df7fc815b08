"""Projecting accepted endorsement and endorsement-revocation records (docs/records.md,
"Endorsements"): the signed record is checked against the registry's own evaluation of the
preconditions and then stored as an ``endorsements`` row with its batches and signers.

Here, below the endorsement workflow (``registry.endorsements``), so that accepting a record
never needs the workflow that produces one: records are accepted the same way whoever
signed them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry import policy
from registry.errors import Conflict, InvalidInput, PolicyViolation
from registry.models import (
    Batch,
    Endorsement,
    EndorsementBatch,
    EndorsementRequest,
    EndorsementSigner,
    Organization,
    OrgKind,
    Product,
    Record,
    RecordBatch,
    RequestStatus,
    SigningKey,
)
from registry.records.evidence import preconditions_for
from registry.records.schema import Endorsement as EndorsementDoc
from registry.records.schema import EndorsementRevocation
from registry.records.stored import find_batch


def apply_endorsement(
    session: Session,
    record: EndorsementDoc,
    signers: list[policy.SignerFacts],
    digest: str,
    index: int,
) -> Callable[[], None]:
    """Validate an endorsement record; return the step that stores its projection once the
    record row exists (the projection references it)."""
    authority = session.get(Organization, uuid.UUID(record.org))
    if authority is None or authority.kind is not OrgKind.AUTHORITY:
        raise InvalidInput("an endorsement names the endorsing authority as org")
    covered = _covered(session, record)
    if session.get(Product, uuid.UUID(record.product)) is None:
        raise InvalidInput(f"unknown product {record.product}")
    if session.scalars(select(Endorsement).where(Endorsement.code == record.code)).first():
        raise Conflict(f"endorsement code {record.code} is taken", rule="duplicate-code")
    evidence, results = preconditions_for(session, authority, covered, record.stream)
    policy.check_endorsement(
        record,
        signers,
        authority.jurisdiction,
        authority.approvals_required,
        evidence.origin_regions,
    )
    unmet = [r for r in results if not r.ok]
    if unmet:
        raise PolicyViolation(
            f"precondition-{unmet[0].id}", "; ".join(f"{r.id}: {r.detail}" for r in unmet)
        )
    signed = {p.id: p.ok for p in record.preconditions}
    if signed != {r.id: r.ok for r in results}:
        raise PolicyViolation(
            "preconditions-mismatch",
            "the signed precondition results differ from the registry's evaluation",
        )
    endorsement = Endorsement(
        code=record.code,
        record_index=index,
        digest=digest,
        request_id=uuid.UUID(record.request),
        authority_id=authority.id,
        product_id=uuid.UUID(record.product),
        valid_from=datetime.fromisoformat(record.valid_from),
        valid_until=datetime.fromisoformat(record.valid_until),
    )
    request = session.get(EndorsementRequest, endorsement.request_id)
    if request is None:
        endorsement.request_id = None
    return lambda: _insert_endorsement(session, endorsement, covered, signers, request)


def _covered(session: Session, record: EndorsementDoc) -> list[Batch]:
    """The covered batches, each of the endorsed product, each pinned by a record of it."""
    covered = []
    for ref in record.covers:
        batch = find_batch(session, ref)
        if batch is None:
            raise InvalidInput(f"unknown batch {ref}", rule="unknown-batch")
        if str(batch.product_id) != record.product:
            raise InvalidInput("every covered batch must be of the endorsed product")
        linked = session.scalars(
            select(RecordBatch.record_index)
            .join(Record, Record.log_index == RecordBatch.record_index)
            .where(RecordBatch.batch_id == batch.id, Record.digest == record.evidence[ref])
        ).first()
        if linked is None:
            raise InvalidInput(f"evidence for {batch.lot} is not a record of that batch")
        covered.append(batch)
    return covered


def _insert_endorsement(
    session: Session,
    endorsement: Endorsement,
    covered: list[Batch],
    signers: list[policy.SignerFacts],
    request: EndorsementRequest | None,
) -> None:
    session.add(endorsement)
    session.flush()
    for batch in covered:
        session.add(EndorsementBatch(endorsement_id=endorsement.id, batch_id=batch.id))
    for signer in signers:
        key = session.get(SigningKey, signer.key_id)
        assert key is not None and key.account_id is not None
        session.add(
            EndorsementSigner(
                endorsement_id=endorsement.id, account_id=key.account_id, key_id=key.key_id
            )
        )
    if request is not None:
        request.status = RequestStatus.APPROVED
        request.code = endorsement.code
        request.pending_envelope = None
        request.decided_at = datetime.now().astimezone()
        request.decided_by = session.get(SigningKey, signers[-1].key_id).account_id  # type: ignore[union-attr]
    session.flush()


def apply_revocation(
    session: Session,
    record: EndorsementRevocation,
    signer: policy.SignerFacts,
    index: int,
    now: datetime,
) -> None:
    """Mark the endorsement a revocation record names as revoked at ``index``; only its
    endorsing authority may revoke it, once."""
    endorsement = session.scalars(
        select(Endorsement).where(Endorsement.digest == record.endorsement)
    ).first()
    if endorsement is None or endorsement.code != record.code:
        raise InvalidInput("the revocation names no endorsement of this registry")
    if str(endorsement.authority_id) != record.org or signer.org_id != endorsement.authority_id:
        raise PolicyViolation(
            "revocation-by-endorser", "only the endorsing official or their authority may revoke"
        )
    if endorsement.revocation_index is not None:
        raise Conflict(f"endorsement {endorsement.code} is already revoked", rule="revoked")
    endorsement.revocation_index = index
    endorsement.revocation_reason = record.reason
    endorsement.revoked_at = now
