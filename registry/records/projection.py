"""Projecting accepted records into tables: batches, their lineage and chain heads
(supply-chain kinds), and signing keys (key kinds). See docs/records.md, "Kinds and who
signs them" and "Common fields" (the per-batch hash chain of ``prev``).

Nothing here is the log itself: the projection is what queries read, and the audit
(``registry.audit``) rebuilds it from the log to check it.
"""

from __future__ import annotations

import base64
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry import policy
from registry.catalog.batches import descendant_ids
from registry.codes import new_code
from registry.errors import Conflict, InvalidInput, NotFound, PolicyViolation
from registry.models import (
    Account,
    Batch,
    BatchInput,
    KeyStatus,
    Organization,
    OrgKind,
    Product,
    SigningKey,
)
from registry.records.ingest_cache import IngestCache
from registry.records.schema import (
    Assignment,
    Correction,
    Harvest,
    KeyRegistration,
    KeyRevocation,
    KeyRotation,
    Processing,
    Recall,
    Task,
    batch_ref,
    split_batch_ref,
)
from registry.records.stored import record_by_digest

Touched = list[tuple[Batch, str]]
"""The batches a record touches, each with its role: ``input``, ``output`` or ``subject``."""


def apply_supply_chain(
    session: Session,
    record: Any,
    signer: policy.SignerFacts,
    digest: str,
    index: int,
    cache: IngestCache,
) -> tuple[Touched, list[BatchInput]]:
    """Check a supply-chain record against the batches it names (chain heads, lots, the
    signing policy) and project it: new batches, consumed quantities, lineage edges, recall
    marks. Returns the touched batches and the lineage edges to add after the record row."""
    created: dict[str, Any] = (
        {o.batch: o for o in record.outputs} if isinstance(record, Processing) else {}
    )
    if isinstance(record, Harvest):
        created = {record.batches[0]: record}
    existing = _existing_batches(session, record, created, cache)
    corrected_org = None
    if isinstance(record, Correction):
        corrected_org = record_by_digest(session, record.corrects).organization_id
    facts: dict[str, policy.BatchFacts | None] = {ref: None for ref in created}
    facts.update({ref: _batch_facts(b) for ref, b in existing.items()})
    policy.check_record(record, signer, facts, corrected_org)
    if isinstance(record, Assignment):
        _check_assignee(session, record)
    for ref in created:  # after the policy, so a refusal names the rule that matters most
        _check_product(session, ref, signer, cache)

    touched: Touched = []
    if isinstance(record, Processing):
        for consumed in record.inputs:
            batch = existing[consumed.batch]
            batch.remaining = str(Decimal(batch.remaining) - Decimal(consumed.quantity))
            touched.append((batch, "input"))
    else:
        touched.extend((b, "subject") for b in existing.values())
    for ref, batch in existing.items():
        before = facts[ref]
        assert before is not None
        _store_custody(batch, before, policy.custody_after(record, signer.org_id, before))
    touched += _create_batches(session, record, signer, created, digest, index)
    for batch, _ in touched:
        cache.batches[batch_ref(batch.product_id, batch.lot)] = batch
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
        reached = descendant_ids(session, [b.id for b in existing.values()])
        refs = []
        for batch in session.scalars(select(Batch).where(Batch.id.in_(reached))):
            refs.append(batch_ref(batch.product_id, batch.lot))
            if batch.recall_digest is None:
                batch.recall_digest = digest
        # The index keeps the first recall to reach each batch, as recall_digest does.
        cache.index_changes.recalls(sorted(refs), index)
    return touched, edges


def _existing_batches(
    session: Session, record: Any, created: dict[str, Any], cache: IngestCache
) -> dict[str, Batch]:
    """The batches the record names that exist already, each at the head its ``prev`` says;
    a batch the record creates must not exist yet."""
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
    return existing


def _create_batches(
    session: Session,
    record: Any,
    signer: policy.SignerFacts,
    created: dict[str, Any],
    digest: str,
    index: int,
) -> Touched:
    """Add the batches a harvest or processing record creates, with this record as head."""
    touched: Touched = []
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
            holder_org_id=signer.org_id,
            carrier_org_ids=[],
            lab_org_ids=[],
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
    return touched


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _batch_facts(batch: Batch) -> policy.BatchFacts:
    return policy.BatchFacts(
        origin_org_id=batch.origin_org_id,
        region=batch.region_code,
        unit=batch.unit,
        remaining=Decimal(batch.remaining),
        recalled=batch.recall_digest is not None,
        holder=batch.holder_org_id or batch.origin_org_id,
        carriers=frozenset(uuid.UUID(o) for o in batch.carrier_org_ids),
        destination=batch.destination_org_id,
        labs=frozenset(uuid.UUID(o) for o in batch.lab_org_ids),
    )


def _store_custody(batch: Batch, before: policy.BatchFacts, after: policy.BatchFacts) -> None:
    """Write the custody facts a record moved (JSON lists are assigned, never mutated, so
    the unit of work sees the change)."""
    if after == before:
        return
    batch.holder_org_id = after.holder
    batch.carrier_org_ids = sorted(str(o) for o in after.carriers)
    batch.destination_org_id = after.destination
    batch.lab_org_ids = sorted(str(o) for o in after.labs)


def _check_assignee(session: Session, record: Assignment) -> None:
    """An assignment hands a batch to an organization of the registry, of the kind its task
    needs: a carrier for carriage, a lab for inspection."""
    assert record.to.org is not None
    org = session.get(Organization, uuid.UUID(record.to.org))
    wanted = OrgKind.CARRIER if record.task is Task.CARRIAGE else OrgKind.LAB
    if org is None:
        raise InvalidInput(
            f"unknown organization {record.to.org}: an assignment names a registry organization",
            rule="unknown-organization",
        )
    if org.kind is not wanted:
        raise PolicyViolation(
            "assignee-kind",
            f"{record.task.value} is assigned to a {wanted.value}, not a {org.kind.value}",
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


def apply_key_record(session: Session, record: Any, index: int, now: datetime) -> uuid.UUID:
    """Project a key registration, rotation or revocation into ``signing_keys``; return the
    organization the record is logged for."""
    if isinstance(record, KeyRegistration):
        return _register_key(session, record, index, now)
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


def _register_key(
    session: Session, record: KeyRegistration, index: int, now: datetime
) -> uuid.UUID:
    """A key registration's facts must be the registry's own; then the key is added."""
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
