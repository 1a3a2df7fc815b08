"""Stored records: found by digest, their DSSE envelope rebuilt, and whether it still verifies;
and the stored batch a record's ``"<product id>:<lot>"`` reference names.

A record row keeps the payload bytes, the payload type and the signatures as they were
signed (DSSE v1, docs/records.md "Bytes that get signed"), so the envelope can be rebuilt
byte for byte and checked again against the registered keys.
"""

from __future__ import annotations

import base64

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.crypto.dsse import Envelope, verified_keyids
from registry.crypto.keys import load_public_key
from registry.errors import NotFound
from registry.models import Batch, Record, SigningKey
from registry.records.schema import split_batch_ref


def record_by_digest(session: Session, digest: str) -> Record:
    """The record whose payload has this SHA-256 (hex); ``NotFound`` if none."""
    record = session.scalars(select(Record).where(Record.digest == digest)).first()
    if record is None:
        raise NotFound(f"no record with digest {digest}")
    return record


def find_batch(session: Session, ref: str) -> Batch | None:
    """The batch a record's ``"<product id>:<lot>"`` reference names, or None."""
    product_id, lot = split_batch_ref(ref)
    return session.scalars(
        select(Batch).where(Batch.product_id == product_id, Batch.lot == lot)
    ).first()


def all_keys(session: Session) -> list[SigningKey]:
    """Every registered signing key, to check many stored records against."""
    return list(session.scalars(select(SigningKey)))


def stored_envelope(record: Record) -> Envelope:
    """The DSSE envelope a stored record was accepted as (its payload must not be erased)."""
    assert record.payload is not None
    return Envelope.from_json(
        {
            "payload": base64.b64encode(record.payload).decode(),
            "payloadType": record.payload_type,
            "signatures": record.signatures,
        }
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
