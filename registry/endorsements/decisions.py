"""Deciding an endorsement request: the official's review of the evidence, approval (a
signed endorsement record, possibly needing several officials of the authority on one DSSE
envelope), rejection, and the later revocation of a published endorsement.

The preconditions (docs/records.md, "Endorsements") are one policy function
(``policy.endorsement_preconditions``); the server runs it before signing and again when
accepting the signed record, and its results are part of the signed record and of the
verification document.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.codes import new_code
from registry.context import RegistryContext
from registry.crypto.dsse import Envelope, add_signature, sign_envelope
from registry.crypto.jcs import canonicalize
from registry.endorsements.published import get_endorsement
from registry.endorsements.requests import get_request
from registry.errors import Conflict, Forbidden, InvalidInput, PolicyViolation
from registry.models import (
    Account,
    Batch,
    Endorsement,
    EndorsementRequest,
    Organization,
    RequestStatus,
    Role,
    SigningKey,
)
from registry.records import ingest
from registry.records.custodial import custodial_signer
from registry.records.evidence import preconditions_for
from registry.records.schema import RECORD_PAYLOAD_TYPE, Kind, Stream, batch_ref
from registry.transparency.log import lock_log


def _reviewer(session: Session, request: EndorsementRequest, official: Account) -> Organization:
    if official.role is not Role.OFFICIAL or official.organization_id != request.authority_id:
        raise Forbidden("only an official of the authority asked may review this request")
    authority = session.get(Organization, request.authority_id)
    assert authority is not None
    return authority


def review(session: Session, request_id: uuid.UUID, official: Account) -> dict[str, Any]:
    """The evidence an official sees before deciding."""
    request = get_request(session, request_id)
    authority = _reviewer(session, request, official)
    covered = [b for b in _request_batches(session, request)]
    stream = Stream.model_validate(request.stream)
    evidence, results = preconditions_for(session, authority, covered, stream)
    return {
        "request": request,
        "evidence": evidence,
        "preconditions": results,
    }


def _request_batches(session: Session, request: EndorsementRequest) -> list[Batch]:
    found = []
    for ident in request.batch_ids:
        batch = session.get(Batch, uuid.UUID(ident))
        assert batch is not None
        found.append(batch)
    return found


def approve(
    session: Session,
    ctx: RegistryContext,
    request_id: uuid.UUID,
    official: Account,
    at: datetime | None = None,
) -> EndorsementRequest:
    """Sign the endorsement with the official's key; publish it once enough officials have."""
    lock_log(session)  # decide (and pick the code) under the append lock
    request = get_request(session, request_id)
    authority = _reviewer(session, request, official)
    if request.status not in (RequestStatus.PENDING, RequestStatus.PARTIALLY_APPROVED):
        raise Conflict(f"this request is already {request.status.value}", rule="request-decided")
    signer = custodial_signer(session, ctx, official)
    if request.pending_envelope is not None:
        envelope = Envelope.from_json(request.pending_envelope)
        if any(s.keyid == signer.key_id for s in envelope.signatures):
            raise Conflict("you have already approved; a second official must approve")
        signed_by = {
            k.account_id
            for k in session.scalars(
                select(SigningKey).where(
                    SigningKey.key_id.in_([s.keyid for s in envelope.signatures])
                )
            )
        }
        if official.id in signed_by:
            raise Conflict("you have already approved; a second official must approve")
        envelope = add_signature(envelope, signer)
    else:
        document = endorsement_document(session, ctx, request, authority, at)
        envelope = sign_envelope(RECORD_PAYLOAD_TYPE, canonicalize(document), [signer])
    if len(envelope.signatures) < authority.approvals_required:
        request.pending_envelope = envelope.to_json()
        request.status = RequestStatus.PARTIALLY_APPROVED
        session.flush()
        return request
    ingest.submit(session, ctx, envelope, official)
    session.refresh(request)
    return request


def endorsement_document(
    session: Session,
    ctx: RegistryContext,
    request: EndorsementRequest,
    authority: Organization,
    at: datetime | None = None,
) -> dict[str, Any]:
    """The endorsement record for ``request`` as its officials sign it, with the
    preconditions evaluated now; ``PolicyViolation`` if one is not met."""
    covered = _request_batches(session, request)
    stream = Stream.model_validate(request.stream)
    _, results = preconditions_for(session, authority, covered, stream)
    unmet = [r for r in results if not r.ok]
    if unmet:
        raise PolicyViolation(
            f"precondition-{unmet[0].id}",
            "; ".join(f"{r.id}: {r.detail}" for r in unmet),
            preconditions=[r.as_json() for r in results],
        )
    request.code = request.code or new_code()
    return {
        "kind": Kind.ENDORSEMENT.value,
        "time": (at or ctx.clock()).astimezone().isoformat(timespec="seconds"),
        "org": str(authority.id),
        "code": request.code,
        "request": str(request.id),
        "product": str(request.product_id),
        "covers": [batch_ref(b.product_id, b.lot) for b in covered],
        "evidence": {batch_ref(b.product_id, b.lot): b.head_digest for b in covered},
        "claims": request.claims,
        "stream": request.stream,
        "valid_from": request.valid_from.astimezone().isoformat(timespec="seconds"),
        "valid_until": request.valid_until.astimezone().isoformat(timespec="seconds"),
        "quantity": request.quantity,
        "unit": request.unit,
        "threshold": authority.approvals_required,
        "preconditions": [r.signed() for r in results],
    }


def reject(
    session: Session, request_id: uuid.UUID, official: Account, reason: str
) -> EndorsementRequest:
    """Reject a pending request, saying why (a partial approval is dropped)."""
    lock_log(session)  # decide under the lock approvals take, so one of the two loses
    request = get_request(session, request_id)
    _reviewer(session, request, official)
    if request.status not in (RequestStatus.PENDING, RequestStatus.PARTIALLY_APPROVED):
        raise Conflict(f"this request is already {request.status.value}", rule="request-decided")
    if not reason.strip():
        raise InvalidInput("say why the request is rejected")
    request.status = RequestStatus.REJECTED
    request.reason = reason.strip()
    request.decided_by = official.id
    request.decided_at = datetime.now().astimezone()
    request.pending_envelope = None
    session.flush()
    return request


def revoke(
    session: Session, ctx: RegistryContext, code: str, official: Account, reason: str
) -> Endorsement:
    """A signed revocation by the endorsing official or another official of the authority."""
    endorsement = get_endorsement(session, code)
    if official.role is not Role.OFFICIAL or official.organization_id != endorsement.authority_id:
        raise Forbidden("only the endorsing official or their authority may revoke")
    if not reason.strip():
        raise InvalidInput("a revocation needs a reason")
    ingest.sign_and_submit(
        session,
        ctx,
        official,
        {
            "kind": Kind.ENDORSEMENT_REVOCATION.value,
            "endorsement": endorsement.digest,
            "code": endorsement.code,
            "reason": reason.strip(),
        },
    )
    session.refresh(endorsement)
    return endorsement
