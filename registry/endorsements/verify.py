"""The verification document of an endorsement: everything a phone needs to check the
guarantee without trusting the server — the signed records (envelopes), the key records that
bind each signing key to its holder, an inclusion proof of each against one signed
checkpoint, the log's verifier key, the precondition results and the computed status.

The records are DSSE envelopes (docs/records.md); the proofs are RFC 6962 §2.1.1 audit paths
against a C2SP tlog-checkpoint signed note, checkable with the log's signed-note verifier key.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.accounts.operator import OPERATOR_NAME_EN, OPERATOR_NAME_ZH
from registry.context import RegistryContext
from registry.endorsements.published import covered_batches
from registry.log import merkle
from registry.log.status_index import batch_key, endorsement_key
from registry.models import (
    Account,
    Batch,
    Endorsement,
    EndorsementSigner,
    Organization,
    Product,
    Record,
    SigningKey,
)
from registry.models import Checkpoint as CheckpointRow
from registry.policy import endorsement_preconditions
from registry.records.evidence import Evidence, gather_evidence
from registry.records.schema import Kind
from registry.records.stored import find_batch, record_problem
from registry.status import endorsement_status
from registry.transparency import log as log_service
from registry.transparency import witnessing
from registry.transparency.log import DatabaseNodeReader
from registry.transparency.status_index import prove_at


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _entry(record: Record, proof: list[bytes], problem: str | None) -> dict[str, Any]:
    return {
        "index": record.log_index,
        "digest": record.digest,
        "kind": record.kind,
        "logged_at": record.logged_at.isoformat(),
        "record": json.loads(record.payload) if record.payload is not None else None,
        "envelope": {
            "payload": _b64(record.payload) if record.payload is not None else None,
            "payloadType": record.payload_type,
            "signatures": record.signatures,
        },
        "leaf": _b64(record.leaf),
        "inclusion_proof": [_b64(h) for h in proof],
        "verified": problem is None,
        "problem": problem,
    }


def _org(org: Organization | None) -> dict[str, Any] | None:
    if org is None:
        return None
    return {
        "id": str(org.id),
        "kind": org.kind.value,
        "name_zh": org.name_zh,
        "name_en": org.name_en,
        "region_code": org.region_code,
        "jurisdiction": org.jurisdiction,
    }


def build_document(
    session: Session, ctx: RegistryContext, endorsement: Endorsement, now: datetime
) -> dict[str, Any]:
    """The verification document of ``endorsement`` at ``now`` (what ``GET
    /api/v1/verify/{code}`` serves): signed records with RFC 6962 inclusion proofs against
    one C2SP checkpoint, the key records behind every signature, the preconditions
    re-evaluated, and the status."""
    covered = covered_batches(session, endorsement)
    evidence = gather_evidence(session, covered)
    endorsement_record = session.get(Record, endorsement.record_index)
    assert endorsement_record is not None and endorsement_record.payload is not None
    signed = json.loads(endorsement_record.payload)
    records = {r.log_index: r for r in evidence.records}
    records[endorsement_record.log_index] = endorsement_record
    revocation = _revocation(session, endorsement, records)
    recall_digests = {b.recall_digest for b in covered if b.recall_digest}
    recall = _recall(session, recall_digests, records)
    # Every key that signed any of these records, and every record of its life.
    keys = {k.key_id: k for k in session.scalars(select(SigningKey))}
    used = _close_over_key_records(session, records, keys)
    key_entries = [_key_entry(session, keys[k]) for k in sorted(used) if k in keys]
    policy_record = latest_witness_policy(session)
    newest = max([*records, policy_record.log_index if policy_record else 0])
    checkpoint, note = _proved_checkpoint(session, ctx, now, newest)
    chain = _chain(session, records, keys, checkpoint.size)
    status = endorsement_status(
        now,
        endorsement.valid_from,
        endorsement.valid_until,
        revoked=endorsement.revocation_index is not None,
        recalled=bool(recall_digests),
    )
    officials = _officials(session, endorsement)
    product = session.get(Product, endorsement.product_id)
    authority = session.get(Organization, endorsement.authority_id)
    assert product is not None and authority is not None
    return {
        "code": endorsement.code,
        "status": status.value,
        "status_reason": (recall or {}).get("reason") or (revocation or {}).get("reason"),
        "computed_at": now.isoformat(),
        "endorsement": _signed_endorsement(endorsement, signed, officials, authority),
        "product": _product(product),
        "revocation": revocation,
        "recall": recall,
        "batches": [_batch(session, b, covered) for b in _lineage(session, evidence)],
        "preconditions": _preconditions(authority, evidence, signed),
        "chain": chain,
        "keys": key_entries,
        "checkpoint": {
            "size": checkpoint.size,
            "root": _b64(checkpoint.root_hash),
            "note": note,
        },
        "witness_policy": _witness_policy(session, policy_record, keys, checkpoint.size),
        "status_index": _status_index(session, endorsement, evidence, checkpoint.size),
        "log": {"origin": ctx.log_origin, "vkey": log_service.log_vkey(ctx)},
    }


def _proved_checkpoint(
    session: Session, ctx: RegistryContext, now: datetime, newest_index: int
) -> tuple[CheckpointRow, str]:
    """The checkpoint the document's proofs are against, and its note with cosignatures:
    the one ``GET /log/checkpoint`` serves (the newest cosigned one while witnesses keep
    up), unless a record of the document is newer; then the newest checkpoint, cosigned
    or not yet (the scan cache rebuilds the document when its cosignatures arrive)."""
    checkpoint, note = witnessing.served_checkpoint_row(
        session, witnessed=bool(ctx.settings.witnesses), now=now
    )
    if checkpoint.size <= newest_index:
        checkpoint = log_service.latest_checkpoint(session)
        note = witnessing.cosigned_note(session, checkpoint)
    return checkpoint, note


def _status_index(
    session: Session, endorsement: Endorsement, evidence: Evidence, size: int
) -> dict[str, Any] | None:
    """The status index committed by the checkpoint's last entry, with a proof for the code
    and for every batch of its lineage (docs/records.md, "In the verification document"):
    what lets the phone see that no revocation or recall was left out. None for a checkpoint
    that does not end with one (logged before the index existed)."""
    head = session.get(Record, size - 1)
    if head is None or head.kind != Kind.STATUS_INDEX.value:
        return None
    keys = [endorsement_key(endorsement.code)]
    keys += [batch_key(ref) for ref in dict.fromkeys(e.ref for e in evidence.batches)]
    proof = merkle.inclusion_proof(head.log_index, size, DatabaseNodeReader(session))
    return {
        "head": {
            "index": head.log_index,
            "envelope": {
                "payload": _b64(head.payload) if head.payload is not None else None,
                "payloadType": head.payload_type,
                "signatures": head.signatures,
            },
            "leaf": _b64(head.leaf),
            "inclusion_proof": [_b64(h) for h in proof],
        },
        "proofs": [prove_at(session, head.log_index, key) for key in keys],
    }


def latest_witness_policy(session: Session) -> Record | None:
    """The newest logged ``witness_policy`` record: the policy in force."""
    return session.scalars(
        select(Record)
        .where(Record.kind == Kind.WITNESS_POLICY.value)
        .order_by(Record.log_index.desc())
        .limit(1)
    ).first()


def _witness_policy(
    session: Session, record: Record | None, keys: dict[str, SigningKey], size: int
) -> dict[str, Any] | None:
    """The witness policy in force, its record with an inclusion proof; None if none is
    logged (or it is newer than the checkpoint, which cannot happen once published)."""
    if record is None or record.payload is None or record.log_index >= size:
        return None
    signed = json.loads(record.payload)
    proof = merkle.inclusion_proof(record.log_index, size, DatabaseNodeReader(session))
    return {
        "text": signed["policy"],
        "max_age_seconds": signed["max_age_seconds"],
        "record": _entry(record, proof, record_problem(record, keys)),
    }


def _chain(
    session: Session, records: dict[int, Record], keys: dict[str, SigningKey], size: int
) -> list[dict[str, Any]]:
    """Each record in log order with its inclusion proof in the tree of ``size``."""
    reader = DatabaseNodeReader(session)
    chain = []
    for index in sorted(records):
        record = records[index]
        proof = merkle.inclusion_proof(index, size, reader)
        chain.append(_entry(record, proof, record_problem(record, keys)))
    return chain


def _preconditions(
    authority: Organization, evidence: Evidence, signed: dict[str, Any]
) -> list[dict[str, Any]]:
    """The preconditions evaluated again now, over the stream the record names."""
    return [
        p.as_json()
        for p in endorsement_preconditions(
            authority.jurisdiction or "",
            evidence.batches,
            datetime.fromisoformat(signed["stream"]["start"]),
            datetime.fromisoformat(signed["stream"]["end"]),
        )
    ]


def _revocation(
    session: Session, endorsement: Endorsement, records: dict[int, Record]
) -> dict[str, Any] | None:
    """The revocation part, its record added to ``records``; None if not revoked."""
    if endorsement.revocation_index is None:
        return None
    revocation_record = session.get(Record, endorsement.revocation_index)
    assert revocation_record is not None
    records[revocation_record.log_index] = revocation_record
    return {
        "index": endorsement.revocation_index,
        "reason": endorsement.revocation_reason,
        "revoked_at": endorsement.revoked_at.isoformat() if endorsement.revoked_at else None,
    }


def _recall(
    session: Session, recall_digests: set[str], records: dict[int, Record]
) -> dict[str, Any] | None:
    """The first recall reaching a covered batch, its record added to ``records``."""
    if not recall_digests:
        return None
    recall_record = session.scalars(
        select(Record).where(Record.digest.in_(recall_digests)).order_by(Record.log_index)
    ).first()
    if recall_record is None or recall_record.payload is None:
        return None
    records[recall_record.log_index] = recall_record
    recall_doc = json.loads(recall_record.payload)
    return {"index": recall_record.log_index, "reason": recall_doc.get("reason")}


def _close_over_key_records(
    session: Session, records: dict[int, Record], keys: dict[str, SigningKey]
) -> set[str]:
    """Add to ``records`` every key record (registration, rotation, revocation) of every key
    that signed one of them; return those key ids. Each key record is countersigned by the
    registry key, whose own registration (leaf 0) is self-signed, so the set is complete
    when nothing new appears. A phone rebuilds each key's life from these alone."""
    ended = _key_endings(session)
    used: set[str] = set()
    pending = {s["keyid"] for r in records.values() for s in r.signatures}
    while pending:
        used |= pending
        for key_id in pending:
            key = keys.get(key_id)
            indices = [key.registered_index] if key else []
            for index in [*indices, *ended.get(key_id, [])]:
                found = session.get(Record, index)
                if found is not None:
                    records.setdefault(found.log_index, found)
        pending = {s["keyid"] for r in records.values() for s in r.signatures} - used
    return used


def _key_endings(session: Session) -> dict[str, list[int]]:
    """The log indices of the rotations and revocations of each key, by key id."""
    ended: dict[str, list[int]] = {}
    for record in session.scalars(
        select(Record).where(Record.kind.in_([Kind.KEY_ROTATION.value, Kind.KEY_REVOCATION.value]))
    ):
        if record.payload is None:
            continue
        signed = json.loads(record.payload)
        key_id = signed.get("old_key") or signed.get("key_id")
        if isinstance(key_id, str):
            ended.setdefault(key_id, []).append(record.log_index)
    return ended


def _key_entry(session: Session, key: SigningKey) -> dict[str, Any]:
    """A signing key as the document lists it, with its organization and holder."""
    holder = session.get(Account, key.account_id) if key.account_id else None
    return {
        "key_id": key.key_id,
        "public_key": _b64(key.public_key),
        "registered_index": key.registered_index,
        "status": key.status.value,
        "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None,
        "compromised_since": (key.compromised_since.isoformat() if key.compromised_since else None),
        "organization": _org(session.get(Organization, key.organization_id))
        if key.organization_id
        else None,
        "holder": {
            "name_zh": holder.name_zh,
            "name_en": holder.name_en,
            "title_zh": holder.title_zh,
            "title_en": holder.title_en,
            "role": holder.role.value,
        }
        if holder
        else {"role": "registry", "name_zh": OPERATOR_NAME_ZH, "name_en": OPERATOR_NAME_EN},
    }


def _officials(session: Session, endorsement: Endorsement) -> list[dict[str, Any]]:
    """The officials who signed the endorsement, with their key ids."""
    officials = []
    for signer in session.scalars(
        select(EndorsementSigner).where(EndorsementSigner.endorsement_id == endorsement.id)
    ):
        account = session.get(Account, signer.account_id)
        assert account is not None
        officials.append(
            {
                "name_zh": account.name_zh,
                "name_en": account.name_en,
                "title_zh": account.title_zh,
                "title_en": account.title_en,
                "key_id": signer.key_id,
            }
        )
    return officials


def _signed_endorsement(
    endorsement: Endorsement,
    signed: dict[str, Any],
    officials: list[dict[str, Any]],
    authority: Organization,
) -> dict[str, Any]:
    """What the signed endorsement record says, with who signed it for which authority."""
    return {
        "index": endorsement.record_index,
        "digest": endorsement.digest,
        "claims": signed["claims"],
        "stream": signed["stream"],
        "valid_from": signed["valid_from"],
        "valid_until": signed["valid_until"],
        "quantity": signed["quantity"],
        "unit": signed["unit"],
        "threshold": signed.get("threshold", 1),
        "officials": officials,
        "authority": _org(authority),
        "signed_preconditions": signed["preconditions"],
    }


def _product(product: Product) -> dict[str, Any]:
    return {
        "id": str(product.id),
        "name_zh": product.name_zh,
        "name_en": product.name_en,
        "category": product.category,
        "gtin": product.gtin,
        "standard_ref": product.standard_ref,
    }


def _lineage(session: Session, evidence: Evidence) -> list[Batch]:
    found = [find_batch(session, e.ref) for e in evidence.batches]
    return sorted((b for b in found if b is not None), key=lambda b: b.created_index)


def _batch(session: Session, batch: Batch, covered: list[Batch]) -> dict[str, Any]:
    product = session.get(Product, batch.product_id)
    origin = session.get(Organization, batch.origin_org_id)
    assert product is not None
    return {
        "code": batch.code,
        "ref": f"{batch.product_id}:{batch.lot}",
        "lot": batch.lot,
        "covered": batch in covered,
        "product": {"name_zh": product.name_zh, "name_en": product.name_en, "gtin": product.gtin},
        "quantity": batch.quantity,
        "unit": batch.unit,
        "origin": _org(origin),
        "region_code": batch.region_code,
        "lat": batch.lat,
        "lon": batch.lon,
        "harvest_date": batch.harvest_date.isoformat() if batch.harvest_date else None,
        "best_before": batch.best_before.isoformat() if batch.best_before else None,
        "recalled": batch.recall_digest is not None,
    }
