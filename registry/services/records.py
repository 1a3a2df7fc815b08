"""Accepting signed records: verify, apply the policy, project, append to the log.

One path for both ways of signing: a client-held key's envelope (``submit``) and a draft the
registry signs with the account's custodial key (``sign_and_submit``). Each takes the log's
append lock first, so the per-batch chain check, the index and the checkpoint are decided
by one writer at a time.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, cast

import orjson
from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from registry import policy
from registry.codes import new_code
from registry.context import RegistryContext
from registry.crypto.dsse import Envelope, sign_envelope, verified_keyids
from registry.crypto.jcs import canonicalize, parse_canonical
from registry.crypto.keys import Signer, load_public_key, open_private_key
from registry.db import in_chunks, insert_rows
from registry.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    PolicyViolation,
    RegistryError,
    VerificationError,
)
from registry.models import (
    Account,
    Batch,
    BatchInput,
    KeyStatus,
    Organization,
    Product,
    Record,
    RecordBatch,
    Role,
    SigningKey,
)
from registry.records.schema import (
    KEY_KINDS,
    RECORD_PAYLOAD_TYPE,
    Correction,
    EndorsementRevocation,
    Harvest,
    KeyRegistration,
    KeyRevocation,
    KeyRotation,
    Kind,
    Processing,
    Recall,
    leaf_bytes,
    parse_record,
    split_batch_ref,
)
from registry.records.schema import Endorsement as EndorsementDoc
from registry.transparency import log as log_service

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

# Written as plain rows, through the session's connection (so no autoflush runs first).
_RECORDS = cast(Table, Record.__table__)
_RECORD_BATCHES = cast(Table, RecordBatch.__table__)

# session.info key: log indices of the recalls a transaction accepted.
ACCEPTED_RECALLS = "registry.accepted_recalls"

# A record may claim a time slightly ahead of the registry's clock (phones drift), no more.
MAX_CLOCK_SKEW = timedelta(minutes=5)


@dataclass
class IngestCache:
    """What one transaction's records look up again and again: keys, signer facts, batches.

    Valid only inside the transaction (and the append lock) that made it; key records
    clear the key entries, since they change key status."""

    keys: dict[str, SigningKey] = field(default_factory=dict)
    facts: dict[str, policy.SignerFacts] = field(default_factory=dict)
    batches: dict[str, Batch] = field(default_factory=dict)
    absent: set[str] = field(default_factory=set)  # batch refs known not to exist yet
    products: dict[uuid.UUID, Product | None] = field(default_factory=dict)
    digests: set[str] = field(default_factory=set)  # of this submission's records so far
    logged: dict[str, int] = field(default_factory=dict)  # digest -> index, already logged
    verified: set[Envelope] = field(default_factory=set)  # signatures checked before the lock
    parsed: dict[Envelope, Any] = field(default_factory=dict)  # records parsed before it
    rows: list[dict[str, Any]] = field(default_factory=list)  # records not yet written
    links: list[dict[str, Any]] = field(default_factory=list)  # their record_batches rows

    def prefetch(self, session: Session, envelopes: Sequence[Envelope]) -> None:
        """Look up, for a whole submission at once, which of its records are already logged
        and the batches they name: a few ``IN`` queries instead of one or two per record
        (on PostgreSQL each query is a network round trip)."""
        digests = [hashlib.sha256(e.payload).hexdigest() for e in envelopes]
        for chunk in in_chunks(digests):
            logged = select(Record.digest, Record.log_index).where(Record.digest.in_(chunk))
            self.logged.update((digest, index) for digest, index in session.execute(logged))
        lots: dict[uuid.UUID, set[str]] = {}
        for envelope in envelopes:
            for ref in _named_batches(envelope.payload):
                try:
                    product_id, lot = split_batch_ref(ref)
                except ValueError:
                    continue  # malformed: the record's own checks say so, in order
                if f"{product_id}:{lot}" != ref:
                    continue  # not canonical: likewise
                lots.setdefault(product_id, set()).add(lot)
                self.absent.add(ref)
        for product_id, wanted in lots.items():
            for chunk in in_chunks(sorted(wanted)):
                named = select(Batch).where(Batch.product_id == product_id, Batch.lot.in_(chunk))
                for batch in session.scalars(named):
                    self.batches[_ref(batch)] = batch
        self.absent.difference_update(self.batches)

    def write(self, session: Session) -> None:
        """Write what the submission accepted so far, in the order references need: record
        rows (lineage edges and projections point at them), then the session's objects (new
        batches, keys, edges), then the batches' chain links.

        Rows, not ORM objects, for the two tables every record adds to: a unit-of-work
        insert costs several times a plain ``INSERT`` of the same rows."""
        insert_rows(session.connection(), _RECORDS, self.rows)
        self.rows = []
        session.flush()
        insert_rows(session.connection(), _RECORD_BATCHES, self.links)
        self.links = []

    def find_batch(self, session: Session, ref: str) -> Batch | None:
        batch = self.batches.get(ref)
        if batch is None and ref not in self.absent:
            batch = find_batch(session, ref)
        return batch

    def forget_keys(self) -> None:
        self.keys.clear()
        self.facts.clear()


@dataclass(frozen=True)
class Ingested:
    index: int
    digest: str
    kind: str
    leaf: bytes


@dataclass(frozen=True)
class Accepted:
    index: int
    digest: str
    kind: str
    checkpoint_size: int

    def row(self, session: Session) -> Record:
        """The stored row, read back (ingestion writes rows, not ORM objects)."""
        row = session.get(Record, self.index)
        assert row is not None, f"record {self.index} was accepted but is not stored"
        return row


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
    cache.write(session)
    recalls = [r.index for r in records if r.kind == Kind.RECALL.value]
    if recalls:  # for whoever notifies subscribers when the transaction commits
        session.info.setdefault(ACCEPTED_RECALLS, []).extend(recalls)
    new_size = log_service.append_leaves(session, size, [r.leaf for r in records])
    log_service.publish_checkpoint(session, ctx, new_size)
    return [Accepted(r.index, r.digest, r.kind, new_size) for r in records]


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


def complete_draft(
    session: Session, ctx: RegistryContext, account: Account, draft: dict[str, Any]
) -> dict[str, Any]:
    if not isinstance(draft, dict):
        raise InvalidInput("a record draft must be a JSON object")
    if draft.get("kind") in {k.value for k in KEY_KINDS}:
        raise InvalidInput("key records are made through the keys API, not as drafts")
    document = dict(draft)
    document["org"] = str(account.organization_id)
    document.setdefault("time", ctx.clock().astimezone().isoformat(timespec="seconds"))
    if document.get("kind") == Kind.PROCESSING and "batches" not in document:
        refs = [i.get("batch") for i in document.get("inputs", []) if isinstance(i, dict)]
        refs += [o.get("batch") for o in document.get("outputs", []) if isinstance(o, dict)]
        document["batches"] = refs
    batches = document.get("batches")
    if isinstance(batches, list) and "prev" not in document:
        created = _draft_created(document)
        prev: dict[str, str | None] = {}
        for ref in batches:
            if not isinstance(ref, str):
                continue  # the schema check names it
            batch = None if ref in created else find_batch(session, ref)
            prev[ref] = batch.head_digest if batch is not None else None
        document["prev"] = prev
    return document


def _draft_created(document: dict[str, Any]) -> set[Any]:
    if document.get("kind") == Kind.HARVEST:
        return {b for b in document.get("batches", []) if isinstance(b, str)}
    if document.get("kind") == Kind.PROCESSING:
        return {o.get("batch") for o in document.get("outputs", []) if isinstance(o, dict)}
    return set()


def custodial_signer(session: Session, ctx: RegistryContext, account: Account) -> Signer:
    key = session.scalars(
        select(SigningKey).where(
            SigningKey.account_id == account.id,
            SigningKey.status == KeyStatus.ACTIVE,
            SigningKey.custodial.is_(True),
        )
    ).first()
    if key is None or key.sealed_private_key is None:
        raise Conflict(
            f"account {account.username} has no active custodial key; create one first",
            rule="no-custodial-key",
        )
    seed = open_private_key(key.sealed_private_key, ctx.master_key, key.key_id)
    return Signer.from_raw(seed)


def _named_batches(payload: bytes) -> list[str]:
    """The batch refs a payload names, read leniently (it is checked properly later)."""
    try:
        document = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return []
    refs = document.get("batches") if isinstance(document, dict) else None
    return [r for r in refs if isinstance(r, str)] if isinstance(refs, list) else []


def record_by_digest(session: Session, digest: str) -> Record:
    record = session.scalars(select(Record).where(Record.digest == digest)).first()
    if record is None:
        raise NotFound(f"no record with digest {digest}")
    return record


# --- ingestion -----------------------------------------------------------------------


def _ingest(
    session: Session,
    ctx: RegistryContext,
    envelope: Envelope,
    index: int,
    submitter: Account | None,
    cache: IngestCache,
) -> Ingested:
    record = cache.parsed.get(envelope) or _parse(envelope)
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

    signers = _verify_signers(session, envelope, record, cache)
    signer = policy.check_signers(Kind(record.kind), signers)
    _check_submitter(session, submitter, signer, record)

    touched: list[tuple[Batch, str]] = []
    edges: list[BatchInput] = []
    after_record: Callable[[], None] | None = None
    if isinstance(record, KeyRegistration | KeyRotation | KeyRevocation):
        cache.forget_keys()
        org_id = _apply_key_record(session, record, signer, index, now)
    elif isinstance(record, EndorsementDoc | EndorsementRevocation):
        from registry.services import endorsements

        policy.check_record(record, signer, {})
        org_id = signer.org_id
        if isinstance(record, EndorsementDoc):
            after_record = endorsements.apply_endorsement(session, record, signers, digest, index)
        else:
            endorsements.apply_revocation(session, record, signer, index, now)
    else:
        org_id = signer.org_id
        touched, edges = _apply_supply_chain(session, record, signer, digest, index, cache)

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
            "organization_id": org_id,
            "record_time": record_time,
            "logged_at": now,
            "corrects": record.corrects if isinstance(record, Correction) else None,
        }
    )
    # Lineage and endorsement rows reference the record: written after it (IngestCache.write).
    session.add_all(edges)
    if after_record is not None:
        cache.write(session)
        after_record()
    for batch, role in touched:
        cache.links.append(
            {
                "record_index": index,
                "batch_id": batch.id,
                "role": role,
                "prev_digest": record.prev[_ref(batch)],
            }
        )
        batch.head_digest = digest
    return Ingested(index, digest, kind, leaf)


def _parse(envelope: Envelope) -> Any:
    """The record an envelope carries, checked for form (a pure function of its bytes)."""
    if envelope.payload_type != RECORD_PAYLOAD_TYPE:
        raise InvalidInput(
            f"payloadType must be {RECORD_PAYLOAD_TYPE!r}, not {envelope.payload_type!r}"
        )
    return parse_record(parse_canonical(envelope.payload))


def _verify_signers(
    session: Session, envelope: Envelope, record: Any, cache: IngestCache
) -> list[policy.SignerFacts]:
    keyids = [s.keyid for s in envelope.signatures]
    missing = [k for k in keyids if k not in cache.keys]
    if missing:
        for key in session.scalars(select(SigningKey).where(SigningKey.key_id.in_(missing))):
            cache.keys[key.key_id] = key
    rows = {k: cache.keys[k] for k in keyids if k in cache.keys}
    # A key record's new key is not registered yet: its signature is the proof of possession.
    # isinstance, not getattr: a pydantic model answers a missing attribute slowly (2 us).
    new_key = record.key if isinstance(record, KeyRegistration | KeyRotation) else None
    new_public = None
    if new_key is not None:
        new_public = base64.b64decode(new_key.public_key)
        from registry.crypto.keys import key_id as compute_key_id

        if compute_key_id(new_public) != new_key.id:
            raise InvalidInput("key.id is not the SHA-256 of key.public_key")

    def lookup(keyid: str) -> Any:
        if keyid in rows:
            return load_public_key(rows[keyid].public_key)
        if new_key is not None and keyid == new_key.id and new_public is not None:
            return load_public_key(new_public)
        return None

    unknown = [k for k in keyids if k not in rows and (new_key is None or k != new_key.id)]
    if unknown:
        raise VerificationError(
            f"signature by unknown key {unknown[0]}: register the key first", rule="unknown-key"
        )
    if envelope not in cache.verified:
        verified_keyids(envelope, lookup)
    if new_key is not None and new_key.id not in keyids:
        raise PolicyViolation(
            "proof-of-possession", "a key record must also be signed by the new key"
        )
    facts = []
    for keyid in keyids:
        row = rows.get(keyid)
        if row is None:
            continue  # the new key of a key record: not a signing party yet
        if row.status is KeyStatus.REVOKED:
            raise PolicyViolation("key-revoked", f"key {keyid} was revoked at {row.revoked_at}")
        if row.status is KeyStatus.ROTATED:
            raise PolicyViolation(
                "key-rotated", f"key {keyid} was rotated; sign with its successor {row.replaced_by}"
            )
        if keyid not in cache.facts:
            cache.facts[keyid] = signer_facts(session, row)
        facts.append(cache.facts[keyid])
    if not facts and isinstance(record, KeyRegistration) and record.holder.role == "registry":
        # Genesis: the registry key registers itself, before any key is known.
        if session.scalars(select(SigningKey).limit(1)).first() is not None:
            raise PolicyViolation("registry-key-exists", "the registry key is already registered")
        org = record.organization
        facts.append(
            policy.SignerFacts(
                key_id=record.key.id,
                org_id=uuid.UUID(org.id),
                org_kind=org.kind,
                role=policy.REGISTRY_ROLE,
                region=org.region,
                jurisdiction=org.jurisdiction,
            )
        )
    return facts


def signer_facts(session: Session, key: SigningKey) -> policy.SignerFacts:
    org = session.get(Organization, key.organization_id)
    account = session.get(Account, key.account_id) if key.account_id else None
    assert org is not None
    return policy.SignerFacts(
        key_id=key.key_id,
        org_id=org.id,
        org_kind=org.kind.value,
        role=account.role.value if account is not None else policy.REGISTRY_ROLE,
        region=org.region_code,
        jurisdiction=org.jurisdiction,
        account=str(key.account_id) if key.account_id else None,
    )


def _check_submitter(
    session: Session, submitter: Account | None, signer: policy.SignerFacts, record: Any
) -> None:
    """The account posting a record must be entitled to: its own organization's records,
    and key records only for itself (registering its key, rotating a key it holds)."""
    if submitter is None or submitter.role is Role.ADMIN:
        return
    if isinstance(record, KeyRegistration):
        if record.holder.account != str(submitter.id):
            raise Forbidden("you may register keys only for your own account", rule="key-holder")
        return
    if isinstance(record, KeyRotation):
        old = session.get(SigningKey, record.old_key)
        if old is None or old.account_id != submitter.id:
            raise Forbidden("you may rotate only a key you hold", rule="key-holder")
        return
    if isinstance(record, KeyRevocation):
        raise Forbidden("revoke keys through POST /api/v1/keys/{id}/revoke", rule="key-holder")
    if signer.org_id != submitter.organization_id:
        raise Forbidden(
            "the record is signed for another organization than the submitting account's",
            rule="submitter-organization",
        )


# --- projections -----------------------------------------------------------------------


def _ref(batch: Batch) -> str:
    return f"{batch.product_id}:{batch.lot}"


def find_batch(session: Session, ref: str) -> Batch | None:
    product_id, lot = split_batch_ref(ref)
    return session.scalars(
        select(Batch).where(Batch.product_id == product_id, Batch.lot == lot)
    ).first()


def _apply_supply_chain(
    session: Session,
    record: Any,
    signer: policy.SignerFacts,
    digest: str,
    index: int,
    cache: IngestCache,
) -> tuple[list[tuple[Batch, str]], list[BatchInput]]:
    created: dict[str, Any] = (
        {o.batch: o for o in record.outputs} if isinstance(record, Processing) else {}
    )
    if isinstance(record, Harvest):
        created = {record.batches[0]: record}
    existing: dict[str, Batch] = {}
    for ref in record.batches:
        batch = cache.find_batch(session, ref)
        if ref in created:
            if batch is not None:
                raise Conflict(
                    f"lot {split_batch_ref(ref)[1]} already exists for this product",
                    rule="duplicate-lot",
                )
            continue
        if batch is None:
            raise InvalidInput(f"unknown batch {ref}", rule="unknown-batch")
        if record.prev[ref] != batch.head_digest:
            raise Conflict(
                f"prev of batch {batch.lot} is {record.prev[ref]}, but its chain head is "
                f"{batch.head_digest}: fetch the batch and sign again",
                rule="stale-chain",
                head=batch.head_digest,
            )
        existing[ref] = batch

    corrected_org = None
    if isinstance(record, Correction):
        corrected_org = record_by_digest(session, record.corrects).organization_id
    facts: dict[str, policy.BatchFacts | None] = {ref: None for ref in created}
    facts.update({ref: _batch_facts(b) for ref, b in existing.items()})
    policy.check_record(record, signer, facts, corrected_org)
    for ref in created:  # after the policy, so a refusal names the rule that matters most
        _check_product(session, ref, signer, cache)

    touched: list[tuple[Batch, str]] = []
    if isinstance(record, Processing):
        for consumed in record.inputs:
            batch = existing[consumed.batch]
            batch.remaining = str(Decimal(batch.remaining) - Decimal(consumed.quantity))
            touched.append((batch, "input"))
    else:
        touched.extend((b, "subject") for b in existing.values())
    region = record.place.region if record.place is not None else signer.region
    for ref, spec in created.items():
        product_id, lot = split_batch_ref(ref)
        batch = Batch(
            id=uuid.uuid4(),
            code=new_code(),
            product_id=product_id,
            lot=lot,
            quantity=spec.quantity,
            remaining=spec.quantity,
            unit=spec.unit,
            origin_org_id=signer.org_id,
            region_code=region,
            lat=record.place.lat if record.place is not None else None,
            lon=record.place.lon if record.place is not None else None,
            harvest_date=_date(spec.harvest_date if isinstance(spec, Harvest) else None),
            best_before=_date(spec.best_before),
            created_index=index,
            head_digest=digest,
        )
        session.add(batch)
        touched.append((batch, "output" if isinstance(record, Processing) else "subject"))
    for batch, _ in touched:
        cache.batches[_ref(batch)] = batch
    edges = [
        BatchInput(
            input_batch_id=existing[consumed.batch].id,
            output_batch_id=output.id,
            record_index=index,
            quantity=consumed.quantity,
        )
        for consumed in (record.inputs if isinstance(record, Processing) else [])
        for output, role in touched
        if role == "output"
    ]
    if isinstance(record, Recall):
        from registry.catalog.batches import descendant_ids

        reached = descendant_ids(session, [b.id for b in existing.values()])
        for batch in session.scalars(select(Batch).where(Batch.id.in_(reached))):
            if batch.recall_digest is None:
                batch.recall_digest = digest
    return touched, edges


def _date(value: str | None) -> Any:
    from datetime import date

    return date.fromisoformat(value) if value else None


def _batch_facts(batch: Batch) -> policy.BatchFacts:
    return policy.BatchFacts(
        origin_org_id=batch.origin_org_id,
        region=batch.region_code,
        unit=batch.unit,
        remaining=Decimal(batch.remaining),
        recalled=batch.recall_digest is not None,
    )


def _check_product(
    session: Session, ref: str, signer: policy.SignerFacts, cache: IngestCache
) -> None:
    product_id, _ = split_batch_ref(ref)
    product = cache.products.get(product_id)
    if product is None:
        # Held here: the session's identity map is weak and would forget it between lots.
        product = cache.products[product_id] = session.get(Product, product_id)
    if product is None:
        raise InvalidInput(f"unknown product {product_id}", rule="unknown-product")
    if product.organization_id != signer.org_id:
        raise PolicyViolation(
            "product-of-another-organization",
            f"product {product.name_en or product.name_zh} belongs to another organization",
        )


def _apply_key_record(
    session: Session, record: Any, signer: policy.SignerFacts, index: int, now: datetime
) -> uuid.UUID:
    if isinstance(record, KeyRegistration):
        org = session.get(Organization, uuid.UUID(record.organization.id))
        if org is None:
            raise InvalidInput(f"unknown organization {record.organization.id}")
        if (
            org.kind.value != record.organization.kind
            or org.region_code != record.organization.region
            or (org.jurisdiction or None) != record.organization.jurisdiction
        ):
            raise InvalidInput("the record's organization facts differ from the registry's")
        account_id = uuid.UUID(record.holder.account) if record.holder.account else None
        if account_id is not None:
            account = session.get(Account, account_id)
            if account is None or account.organization_id != org.id:
                raise InvalidInput("the key holder is not an account of that organization")
            if account.role.value != record.holder.role:
                raise InvalidInput("the holder's role differs from the account's")
        elif record.holder.role != "registry":
            raise InvalidInput("only the registry key has no holder account")
        _add_key(session, record.key, account_id, org.id, index, now)
        return org.id
    if isinstance(record, KeyRotation):
        old = session.get(SigningKey, record.old_key)
        if old is None or old.status is not KeyStatus.ACTIVE:
            raise Conflict(f"key {record.old_key} is not an active key", rule="key-not-active")
        assert old.organization_id is not None
        _add_key(session, record.key, old.account_id, old.organization_id, index, now)
        old.status = KeyStatus.ROTATED
        old.rotated_at = now
        old.replaced_by = record.key.id
        return old.organization_id
    assert isinstance(record, KeyRevocation)
    key = session.get(SigningKey, record.key_id)
    if key is None:
        raise NotFound(f"no key {record.key_id}")
    if key.status is KeyStatus.REVOKED:
        raise Conflict(f"key {record.key_id} is already revoked", rule="key-revoked")
    key.status = KeyStatus.REVOKED
    key.revoked_at = now
    if record.compromised_since:
        key.compromised_since = datetime.fromisoformat(record.compromised_since)
    assert key.organization_id is not None
    return key.organization_id


def _add_key(
    session: Session,
    key: Any,
    account_id: uuid.UUID | None,
    org_id: uuid.UUID,
    index: int,
    now: datetime,
) -> None:
    if session.get(SigningKey, key.id) is not None:
        raise Conflict(f"key {key.id} is already registered", rule="duplicate-key")
    session.add(
        SigningKey(
            key_id=key.id,
            account_id=account_id,
            organization_id=org_id,
            public_key=base64.b64decode(key.public_key),
            status=KeyStatus.ACTIVE,
            custodial=False,
            registered_index=index,
            created_at=now,
        )
    )
    session.flush()
