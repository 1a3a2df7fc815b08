"""Endorsements: a cooperative's request, the official's review of the evidence, approval
(a signed endorsement record, possibly needing several officials), rejection, revocation.

The preconditions of PRODUCT.md §5 are one policy function (``policy.endorsement_
preconditions``); the server runs it before signing and again when accepting the signed
record, and its results are part of the signed record and of the verify document.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry import policy
from registry.catalog import batches as batch_service
from registry.codes import new_code, normalize_code
from registry.context import RegistryContext
from registry.crypto.dsse import Envelope, add_signature, sign_envelope, verified_keyids
from registry.crypto.jcs import canonicalize
from registry.crypto.keys import load_public_key
from registry.errors import Conflict, Forbidden, InvalidInput, NotFound, PolicyViolation
from registry.models import (
    Account,
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
    Role,
    SigningKey,
)
from registry.records.schema import (
    RECORD_PAYLOAD_TYPE,
    Claim,
    EndorsementRevocation,
    Kind,
    Stream,
    batch_ref,
)
from registry.records.schema import Endorsement as EndorsementDoc
from registry.services import records as record_service
from registry.status import Status, endorsement_status
from registry.transparency.log import lock_log

DEFAULT_VALIDITY_AFTER_STREAM = timedelta(days=7)


# --- evidence ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Evidence:
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


def record_problem(record: Record, keys: dict[str, SigningKey]) -> str | None:
    """Why a stored record does not verify now (signature, key validity at logging)."""
    if record.payload is None:
        return "payload erased"
    try:
        envelope = stored_envelope(record)
        verified_keyids(
            envelope,
            lambda k: load_public_key(keys[k].public_key) if k in keys else None,
        )
    except Exception as exc:
        return str(getattr(exc, "detail", exc))
    for signature in envelope.signatures:
        key = keys[signature.keyid]
        if key.revoked_at is not None and key.revoked_at < record.logged_at:
            return f"signed with key {key.key_id[:12]}… after its revocation"
        # The time a record claims is chosen by whoever holds the key, a thief too; the
        # registry's logging time is not. A record logged after the compromise may be the
        # thief's, whatever time it claims, so it is suspect as well.
        if key.compromised_since is not None and (
            record.record_time >= key.compromised_since or record.logged_at >= key.compromised_since
        ):
            return f"signed with key {key.key_id[:12]}… after it was compromised (suspect)"
    return None


def all_keys(session: Session) -> list[SigningKey]:
    return list(session.scalars(select(SigningKey)))


def stored_envelope(record: Record) -> Envelope:
    assert record.payload is not None
    return Envelope.from_json(
        {
            "payload": base64.b64encode(record.payload).decode(),
            "payloadType": record.payload_type,
            "signatures": record.signatures,
        }
    )


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
    evidence = gather_evidence(session, covered)
    results = policy.endorsement_preconditions(
        authority.jurisdiction or "",
        evidence.batches,
        datetime.fromisoformat(stream.start),
        datetime.fromisoformat(stream.end),
    )
    return evidence, results


# --- requests ---------------------------------------------------------------------------


def _covered_batches(session: Session, idents: Sequence[str]) -> list[Batch]:
    if not idents:
        raise InvalidInput("name at least one batch")
    found = [batch_service.get_batch(session, ident) for ident in idents]
    if len({b.id for b in found}) != len(found):
        raise InvalidInput("a batch is named twice")
    if len({b.product_id for b in found}) != 1:
        raise InvalidInput("an endorsement covers batches of one product")
    return found


def request_endorsement(
    session: Session,
    ctx: RegistryContext,
    account: Account,
    *,
    batches: Sequence[str],
    official: str,
    stream: dict[str, Any],
    claims: Sequence[str],
    quantity: str,
    unit: str | None = None,
    valid_from: datetime | None = None,
    valid_until: datetime | None = None,
) -> EndorsementRequest:
    org = session.get(Organization, account.organization_id)
    assert org is not None
    if org.kind not in (OrgKind.COOPERATIVE, OrgKind.PROCESSOR):
        raise Forbidden("only cooperatives and processors request endorsements")
    covered = _covered_batches(session, batches)
    lineage_producers = {
        b.origin_org_id
        for b in session.scalars(
            select(Batch).where(
                Batch.id.in_(batch_service.ancestor_ids(session, [b.id for b in covered]))
            )
        )
    }
    if org.id not in lineage_producers:
        raise Forbidden("you may request endorsements only of batches you or your goods made")
    officer = _official(session, official)
    authority = session.get(Organization, officer.organization_id)
    assert authority is not None
    stream_doc = _stream(stream, officer)
    for claim in claims:
        if claim not in Claim.__members__.values():
            raise InvalidInput(f"unknown claim {claim!r}; one of {', '.join(c for c in Claim)}")
    if not claims or len(set(claims)) != len(claims):
        raise InvalidInput("name each claim once, at least one")
    units = {b.unit for b in covered}
    unit = unit or next(iter(units))
    if units != {unit}:
        raise InvalidInput(f"quantity unit {unit} differs from the batches' unit")
    try:
        wanted = Decimal(quantity)
    except ArithmeticError:
        raise InvalidInput("quantity must be a decimal string") from None
    available = sum((Decimal(b.quantity) for b in covered), Decimal(0))
    if not 0 < wanted <= available:
        raise InvalidInput(f"quantity must be within 0..{available} {unit} (the batches' total)")
    start = datetime.fromisoformat(stream_doc.start)
    end = datetime.fromisoformat(stream_doc.end)
    valid_from = valid_from or start
    valid_until = valid_until or end + DEFAULT_VALIDITY_AFTER_STREAM
    if valid_until <= valid_from:
        raise InvalidInput("valid_until must be after valid_from")
    policy.check_origins(authority.jurisdiction, gather_evidence(session, covered).origin_regions)
    request = EndorsementRequest(
        organization_id=org.id,
        authority_id=authority.id,
        requested_by=account.id,
        product_id=covered[0].product_id,
        batch_ids=[str(b.id) for b in covered],
        official_id=officer.id,
        stream=stream_doc.model_dump(mode="json", exclude_none=True),
        claims=list(claims),
        quantity=quantity,
        unit=unit,
        valid_from=valid_from,
        valid_until=valid_until,
        status=RequestStatus.PENDING,
    )
    session.add(request)
    session.flush()
    return request


def _official(session: Session, ident: str) -> Account:
    try:
        query = select(Account).where(Account.id == uuid.UUID(ident))
    except ValueError:
        query = select(Account).where(Account.username == ident)
    officer = session.scalars(query).first()
    if officer is None or officer.role is not Role.OFFICIAL:
        raise InvalidInput(f"{ident!r} is not an official's account")
    return officer


def _stream(stream: dict[str, Any], officer: Account) -> Stream:
    from registry.records.schema import parse_stream

    document = dict(stream)
    hosts = list(document.get("hosts") or [])
    if not any(isinstance(h, dict) and h.get("role") == "official" for h in hosts):
        title = officer.title_zh or None
        official_host = {"name": officer.name_zh, "role": "official", "account": str(officer.id)}
        if title:
            official_host["title"] = title
        hosts.insert(0, official_host)
    document["hosts"] = hosts
    return parse_stream(document)


def get_request(session: Session, request_id: uuid.UUID) -> EndorsementRequest:
    request = session.get(EndorsementRequest, request_id)
    if request is None:
        raise NotFound(f"no endorsement request {request_id}")
    return request


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
    from registry.services.records import custodial_signer

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
    record_service.submit(session, ctx, envelope, official)
    session.refresh(request)
    return request


def endorsement_document(
    session: Session,
    ctx: RegistryContext,
    request: EndorsementRequest,
    authority: Organization,
    at: datetime | None = None,
) -> dict[str, Any]:
    covered = _request_batches(session, request)
    stream = Stream.model_validate(request.stream)
    _, results = preconditions_for(session, authority, covered, stream)
    unmet = [r for r in results if not r.ok]
    if unmet:
        raise PolicyViolation(
            f"precondition-{unmet[0].id}",
            "; ".join(f"{r.id}: {r.detail}" for r in unmet),
            preconditions=[r.__dict__ for r in results],
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
        "preconditions": [{"id": r.id, "ok": r.ok, "detail": r.detail} for r in results],
    }


def reject(
    session: Session, request_id: uuid.UUID, official: Account, reason: str
) -> EndorsementRequest:
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
    from registry.services.records import sign_and_submit

    endorsement = get_endorsement(session, code)
    if official.role is not Role.OFFICIAL or official.organization_id != endorsement.authority_id:
        raise Forbidden("only the endorsing official or their authority may revoke")
    if not reason.strip():
        raise InvalidInput("a revocation needs a reason")
    sign_and_submit(
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


def get_endorsement(session: Session, code: str) -> Endorsement:
    try:
        normalized = normalize_code(code)
    except InvalidInput:
        raise NotFound(f"no endorsement {code!r}") from None
    endorsement = session.scalars(select(Endorsement).where(Endorsement.code == normalized)).first()
    if endorsement is None:
        raise NotFound(f"no endorsement {normalized}")
    return endorsement


def covered_batches(session: Session, endorsement: Endorsement) -> list[Batch]:
    return list(
        session.scalars(
            select(Batch)
            .join(EndorsementBatch, EndorsementBatch.batch_id == Batch.id)
            .where(EndorsementBatch.endorsement_id == endorsement.id)
            .order_by(Batch.lot)
        )
    )


def status_of(session: Session, endorsement: Endorsement, now: datetime) -> Status:
    recalled = any(b.recall_digest for b in covered_batches(session, endorsement))
    return endorsement_status(
        now,
        endorsement.valid_from,
        endorsement.valid_until,
        revoked=endorsement.revocation_index is not None,
        recalled=recalled,
    )


# --- projections applied when the signed records are accepted ----------------------------


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
    covered = []
    for ref in record.covers:
        batch = record_service.find_batch(session, ref)
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
