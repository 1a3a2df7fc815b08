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


def records_page(
    session: Session, after: int | None, limit: int, kind: str | None
) -> tuple[list[Record], bool]:
    """One page of records in log order: at most ``limit`` with a log index greater than
    ``after`` (from the start when None), of one kind when ``kind`` is given, and whether
    more follow. The next page's cursor is the last returned record's log index."""
    query = select(Record).order_by(Record.log_index).limit(limit + 1)
    if after is not None:
        query = query.where(Record.log_index > after)
    if kind is not None:
        query = query.where(Record.kind == kind)
    rows = list(session.scalars(query))
    return rows[:limit], len(rows) > limit


def record_by_id(session: Session, record_id: str) -> Record:
    """The record ``record_id`` names: a log index (ASCII digits) or a payload digest (hex
    SHA-256, any case); ``NotFound`` if there is none. An index too large for the
    database's 64-bit integer is never asked, and the message quotes the id as written."""
    if record_id.isascii() and record_id.isdigit():  # not '¹', which int() refuses
        index = int(record_id)
        found = session.get(Record, index) if index < 2**63 else None
        if found is None:
            raise NotFound(f"no record at index {record_id}")
        return found
    return record_by_digest(session, record_id.lower())


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
