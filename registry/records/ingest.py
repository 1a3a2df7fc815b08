"""Accepting signed records: verify, apply the policy, project, append to the log.

One path for both ways of signing: a client-held key's envelope (``submit``) and a draft the
registry signs with the account's custodial key (``sign_and_submit``). Each takes the log's
append lock first, so the per-batch chain check, the index and the checkpoint are decided
by one writer at a time. The record format and the signing policy are in docs/records.md;
a record's log leaf is ``schema.leaf_bytes`` (an RFC 6962 leaf, RFC 8785 bytes).
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry import places, policy
from registry.context import RegistryContext
from registry.crypto.dsse import Envelope, sign_envelope, verified_keyids
from registry.crypto.jcs import canonicalize, parse_canonical
from registry.crypto.keys import load_public_key
from registry.db import in_chunks
from registry.errors import Conflict, InvalidInput, RegistryError
from registry.models import Account, BatchInput, Record, SigningKey
from registry.records.custodial import complete_draft, custodial_signer
from registry.records.endorsement_projection import apply_endorsement, apply_revocation
from registry.records.ingest_cache import IngestCache
from registry.records.projection import Touched, apply_key_record, apply_supply_chain
from registry.records.schema import (
    RECORD_PAYLOAD_TYPE,
    Correction,
    EndorsementRevocation,
    KeyRegistration,
    KeyRevocation,
    KeyRotation,
    Kind,
    LogRename,
    ScriptRelease,
    StatusIndex,
    WitnessPolicy,
    batch_ref,
    leaf_bytes,
    parse_record,
)
from registry.records.schema import Endorsement as EndorsementDoc
from registry.records.signers import check_submitter, verify_signers
from registry.transparency import log as log_service
from registry.transparency import status_index as index_service

# Kinds whose checks query rows (lineage, records, keys) that earlier records of the same
# submission may have added: the session is flushed before them.
_NEEDS_EARLIER_ROWS = frozenset(
    {
        Kind.RECALL,
        Kind.CORRECTION,
        Kind.ENDORSEMENT,
        Kind.ENDORSEMENT_REVOCATION,
        Kind.KEY_REGISTRATION,
        Kind.KEY_ROTATION,
        Kind.KEY_REVOCATION,
    }
)

ACCEPTED_RECALLS = "registry.accepted_recalls"
"""``session.info`` key: log indices of the recalls a transaction accepted (for whoever
notifies subscribers when the transaction commits)."""

MAX_CLOCK_SKEW = timedelta(minutes=5)
"""How far a record's ``time`` may be ahead of the registry's clock (phones drift)."""


@dataclass(frozen=True)
class Ingested:
    """A record checked and projected, its leaf not yet appended."""

    index: int
    digest: str
    kind: str
    leaf: bytes


@dataclass(frozen=True)
class Accepted:
    """A record appended to the log: its index, payload digest, kind and the size of the
    checkpoint published with it."""

    index: int
    digest: str
    kind: str
    checkpoint_size: int

    def row(self, session: Session) -> Record:
        """The stored row, read back (ingestion writes rows, not ORM objects)."""
        row = session.get(Record, self.index)
        assert row is not None, f"record {self.index} was accepted but is not stored"
        return row


@dataclass
class _Projection:
    """What projecting one record produced, for its rows."""

    org_id: uuid.UUID
    touched: Touched
    edges: list[BatchInput]
    after_record: Callable[[], None] | None = None


def submit(
    session: Session, ctx: RegistryContext, envelope: Envelope, submitter: Account | None
) -> Accepted:
    """Accept one signed envelope (client-held key) and append it to the log."""
    return submit_many(session, ctx, [envelope], submitter)[0]


def submit_many(
    session: Session,
    ctx: RegistryContext,
    envelopes: Sequence[Envelope],
    submitter: Account | None,
) -> list[Accepted]:
    """Accept envelopes in order, all or nothing, under one lock and one checkpoint."""
    cache = IngestCache()
    _check_before_lock(session, envelopes, cache)
    size = log_service.lock_log(session)
    cache.prefetch(session, envelopes)
    records = []
    # No autoflush: a whole batch of records is then written with a few executemany
    # statements instead of two flushes per record. Checks that must see earlier records of
    # the same batch write them first (see _ingest) or use the cache.
    with session.no_autoflush:
        for offset, envelope in enumerate(envelopes):
            records.append(_ingest(session, ctx, envelope, size + offset, submitter, cache))
    return _append(session, ctx, size, records, cache)


def sign_and_submit(
    session: Session, ctx: RegistryContext, account: Account, draft: dict[str, Any]
) -> Accepted:
    """Custodial signing: complete a draft record for ``account``, sign it, accept it.

    The registry fills ``org`` (the account's), ``time`` (now, if absent) and ``prev`` (each
    batch's current head, read under the append lock so it cannot go stale), and derives
    ``batches`` for processing from its inputs and outputs.
    """
    size = log_service.lock_log(session)
    signer = custodial_signer(session, ctx, account)
    document = complete_draft(session, ctx, account, draft)
    envelope = sign_envelope(RECORD_PAYLOAD_TYPE, canonicalize(document), [signer])
    cache = IngestCache()
    cache.prefetch(session, [envelope])
    with session.no_autoflush:
        record = _ingest(session, ctx, envelope, size, account, cache)
    return _append(session, ctx, size, [record], cache)[0]


def _check_before_lock(session: Session, envelopes: Sequence[Envelope], cache: IngestCache) -> None:
    """Parse the records and verify their signatures before the append lock, so that
    several workers do this, most of a record's cost, at once; remember what passed.

    Parsing is a function of the bytes alone. A signature is checked against the registered
    key its key id names, and a key id is the SHA-256 of its public key, so the key cannot
    differ under the lock; whether the key may still sign (rotated, revoked) is decided under
    the lock. Anything that fails here is simply checked again there, in order, where the
    error is reported."""
    if len(envelopes) < 2:
        return  # one record: nothing to overlap, so no second key query
    keyids = {s.keyid for e in envelopes for s in e.signatures}
    public: dict[str, Any] = {}
    for chunk in in_chunks(sorted(keyids)):
        for key_id, raw in session.execute(
            select(SigningKey.key_id, SigningKey.public_key).where(SigningKey.key_id.in_(chunk))
        ):
            public[key_id] = load_public_key(raw)
    for envelope in envelopes:
        try:
            record = _parse(envelope)
            verified_keyids(envelope, public.get)
        except RegistryError:
            continue
        cache.parsed[envelope] = record
        cache.verified.add(envelope)


def _append(
    session: Session,
    ctx: RegistryContext,
    size: int,
    records: list[Ingested],
    cache: IngestCache,
) -> list[Accepted]:
    cache.write(session)  # the records first: the index's queries flush the session
    # The transaction's last entry: the status index over every entry before it, so the
    # checkpoint ends with it (docs/records.md, "The status index").
    index_record = index_service.append_status_index(
        session, ctx, size, size + len(records), cache.index_changes
    )
    cache.rows.append(index_record.row)
    cache.write(session)
    recalls = [r.index for r in records if r.kind == Kind.RECALL.value]
    if recalls:  # for whoever notifies subscribers when the transaction commits
        session.info.setdefault(ACCEPTED_RECALLS, []).extend(recalls)
    leaves = [r.leaf for r in records] + [index_record.leaf]
    new_size = log_service.append_leaves(session, size, leaves)
    log_service.publish_checkpoint(session, ctx, new_size)
    return [Accepted(r.index, r.digest, r.kind, new_size) for r in records]


def _parse(envelope: Envelope) -> Any:
    """The record an envelope carries, checked for form (a pure function of its bytes)."""
    if envelope.payload_type != RECORD_PAYLOAD_TYPE:
        raise InvalidInput(
            f"payloadType must be {RECORD_PAYLOAD_TYPE!r}, not {envelope.payload_type!r}"
        )
    record = parse_record(parse_canonical(envelope.payload))
    # New records name divisions that exist now; the schema checks only the form, so that
    # a record signed before a division was merged away still parses in an audit.
    places.check_regions_in(record.model_dump(exclude_none=True))
    return record


def _ingest(
    session: Session,
    ctx: RegistryContext,
    envelope: Envelope,
    index: int,
    submitter: Account | None,
    cache: IngestCache,
) -> Ingested:
    record = cache.parsed.get(envelope) or _parse(envelope)
    if isinstance(record, StatusIndex):
        raise InvalidInput(
            "status_index records are appended by the registry itself, never submitted",
            rule="status-index-by-registry",
        )
    now = ctx.clock()
    record_time = datetime.fromisoformat(record.time)
    if record_time > now + MAX_CLOCK_SKEW:
        raise InvalidInput(f"record time {record.time} is in the future", rule="time-in-future")
    digest = hashlib.sha256(envelope.payload).hexdigest()
    if digest in cache.digests:
        raise Conflict("this record is twice in the same submission", rule="duplicate-record")
    existing = cache.logged.get(digest)
    if existing is not None:
        raise Conflict(f"this record is already in the log at index {existing}", index=existing)
    cache.digests.add(digest)
    if record.kind in _NEEDS_EARLIER_ROWS:
        cache.write(session)  # these kinds query rows that earlier records of this batch added

    signers = verify_signers(session, envelope, record, cache)
    signer = policy.check_signers(Kind(record.kind), signers)
    check_submitter(session, submitter, signer, record)
    projection = _project(session, record, signers, signer, digest, index, now, cache)
    return _store(session, envelope, record, digest, index, now, record_time, projection, cache)


def _project(
    session: Session,
    record: Any,
    signers: list[policy.SignerFacts],
    signer: policy.SignerFacts,
    digest: str,
    index: int,
    now: datetime,
    cache: IngestCache,
) -> _Projection:
    """Project the record by kind: key records, endorsements, or the supply chain."""
    if isinstance(record, KeyRegistration | KeyRotation | KeyRevocation):
        cache.forget_keys()
        return _Projection(apply_key_record(session, record, index, now), [], [])
    if isinstance(record, LogRename):
        return _Projection(signer.org_id, [], [])  # the log's name lives in log_state
    if isinstance(record, WitnessPolicy | ScriptRelease):
        return _Projection(signer.org_id, [], [])  # read back from the log where needed
    if isinstance(record, EndorsementDoc | EndorsementRevocation):
        policy.check_record(record, signer, {})
        projection = _Projection(signer.org_id, [], [])
        if isinstance(record, EndorsementDoc):
            projection.after_record = apply_endorsement(session, record, signers, digest, index)
            cache.index_changes.endorsement(record.code, index)
        else:
            apply_revocation(session, record, signer, index, now)
            cache.index_changes.revocation(record.code, index)
        return projection
    touched, edges = apply_supply_chain(session, record, signer, digest, index, cache)
    cache.index_changes.heads(record.batches, index)
    return _Projection(signer.org_id, touched, edges)


def _store(
    session: Session,
    envelope: Envelope,
    record: Any,
    digest: str,
    index: int,
    now: datetime,
    record_time: datetime,
    projection: _Projection,
    cache: IngestCache,
) -> Ingested:
    """Queue the record's row, its leaf and its chain links; advance the batches' heads."""
    signatures = [
        {"keyid": s.keyid, "sig": base64.b64encode(s.sig).decode()} for s in envelope.signatures
    ]
    logged_at = now.isoformat(timespec="microseconds").replace("+00:00", "Z")
    kind = Kind(record.kind).value
    leaf = leaf_bytes(kind, envelope.payload_type, digest, signatures, logged_at)
    cache.rows.append(
        {
            "log_index": index,
            "digest": digest,
            "kind": kind,
            "payload_type": envelope.payload_type,
            "payload": envelope.payload,
            "signatures": signatures,
            "leaf": leaf,
            "organization_id": projection.org_id,
            "record_time": record_time,
            "logged_at": now,
            "corrects": record.corrects if isinstance(record, Correction) else None,
        }
    )
    # Lineage and endorsement rows reference the record: written after it (IngestCache.write).
    session.add_all(projection.edges)
    if projection.after_record is not None:
        cache.write(session)
        projection.after_record()
    for batch, role in projection.touched:
        cache.links.append(
            {
                "record_index": index,
                "batch_id": batch.id,
                "role": role,
                "prev_digest": record.prev[batch_ref(batch.product_id, batch.lot)],
            }
        )
        batch.head_digest = digest
    return Ingested(index, digest, kind, leaf)
