"""Reads of batches for the public pages: a batch by GS1 Digital Link keys, its package
label URL, and everything its page shows (its records with who signed them, the batches
they name, and the endorsements covering it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry import qr
from registry.catalog import batches as batch_service
from registry.codes import normalize_code
from registry.endorsements import published as published_endorsements
from registry.errors import InvalidInput
from registry.models import (
    Account,
    Batch,
    Endorsement,
    EndorsementBatch,
    Organization,
    Product,
    Record,
    SigningKey,
)
from registry.records import stored as stored_records
from registry.records.stored import find_batch


def batch_by_code(session: Session, code: str) -> Batch:
    """The batch with the public ``code`` as typed or scanned (normalized first).
    InvalidInput for a malformed code, NotFound for an unknown one."""
    return batch_service.get_batch(session, normalize_code(code))


def batch_by_gtin_and_lot(session: Session, gtin14: str, lot: str) -> Batch | None:
    """The batch a GS1 Digital Link names: AI (01) GTIN-14 and AI (10) lot (GS1 Digital
    Link 1.2 §4), or None."""
    return session.scalars(
        select(Batch)
        .join(Product, Product.id == Batch.product_id)
        .where(Product.gtin == gtin14, Batch.lot == lot)
    ).first()


def label_url(session: Session, base_url: str, batch: Batch) -> str:
    """The URL a batch's package label QR carries: a GS1 Digital Link when its product has a
    GTIN and its lot fits the GS1 character set, else the short ``/B/{code}`` link."""
    product = session.get(Product, batch.product_id)
    gtin = product.gtin if product else None
    try:
        return qr.batch_url(base_url, gtin, batch.lot, batch.code)
    except InvalidInput:  # a lot outside the GS1 character set: label with the short code
        return qr.batch_url(base_url, None, batch.lot, batch.code)


def signing_keys(session: Session, records: list[Record]) -> dict[str, SigningKey]:
    """The registered keys that signed ``records``, by key id."""
    key_ids = {s["keyid"] for r in records for s in r.signatures}
    return {
        k.key_id: k
        for k in session.scalars(select(SigningKey).where(SigningKey.key_id.in_(key_ids)))
    }


def signers_of(session: Session, keys: dict[str, SigningKey]) -> dict[str, dict[str, Any]]:
    """Key id to the organization and holder it was registered to (for "signed by"), both
    names in both languages."""
    org_ids = {k.organization_id for k in keys.values() if k.organization_id}
    orgs = {
        o.id: o for o in session.scalars(select(Organization).where(Organization.id.in_(org_ids)))
    }
    account_ids = {k.account_id for k in keys.values() if k.account_id}
    accounts = {
        a.id: a for a in session.scalars(select(Account).where(Account.id.in_(account_ids)))
    }
    found: dict[str, dict[str, Any]] = {}
    for key in keys.values():
        org = orgs.get(key.organization_id) if key.organization_id else None
        holder = accounts.get(key.account_id) if key.account_id else None
        found[key.key_id] = {
            "org": {"name_zh": org.name_zh, "name_en": org.name_en} if org else {},
            "holder": {
                "name_zh": holder.name_zh,
                "name_en": holder.name_en,
                "title_zh": holder.title_zh,
                "title_en": holder.title_en,
            }
            if holder
            else {},
        }
    return found


def batch_links(session: Session, records: list[Record]) -> dict[str, dict[str, Any]]:
    """The batches ``records`` name (``product:lot`` references) that the registry holds:
    reference to lot, public code and product names."""
    refs: set[str] = set()
    for record in records:
        document = json.loads(record.payload) if record.payload is not None else {}
        refs.update(document.get("batches", []))
        refs.update(i.get("batch", "") for i in document.get("inputs", []))
        refs.update(o.get("batch", "") for o in document.get("outputs", []))
    links: dict[str, dict[str, Any]] = {}
    for ref in sorted(r for r in refs if ":" in r):
        try:
            batch = find_batch(session, ref)
        except ValueError:  # not a "<product uuid>:<lot>" reference
            continue
        if batch is not None:
            product = session.get(Product, batch.product_id)
            links[ref] = {
                "lot": batch.lot,
                "code": batch.code,
                "product": {"name_zh": product.name_zh, "name_en": product.name_en}
                if product
                else None,
            }
    return links


@dataclass(frozen=True)
class SignedRecord:
    """One record of a batch's chain as its page shows it."""

    record: Record
    document: dict[str, Any] | None
    signers: list[dict[str, Any]]
    problem: str | None


@dataclass(frozen=True)
class BatchPage:
    """What a batch's public page shows."""

    batch: Batch
    product: Product | None
    origin: Organization | None
    records: list[SignedRecord]
    links: dict[str, dict[str, Any]]
    endorsements: list[tuple[Endorsement, str]]
    label_url: str


def batch_page(session: Session, batch: Batch, now: datetime, base_url: str) -> BatchPage:
    """Everything the page of ``batch`` shows: its product and origin, its own signed
    records (each checked now: ``record_problem``), the batches they name, the endorsements
    covering it with their status at ``now``, and its label URL."""
    records = batch_service.batch_records(session, batch.id)
    keys = signing_keys(session, records)
    signers = signers_of(session, keys)
    endorsements = session.scalars(
        select(Endorsement)
        .join(EndorsementBatch, EndorsementBatch.endorsement_id == Endorsement.id)
        .where(EndorsementBatch.batch_id == batch.id)
        .order_by(Endorsement.record_index)
    ).all()
    return BatchPage(
        batch=batch,
        product=session.get(Product, batch.product_id),
        origin=session.get(Organization, batch.origin_org_id),
        records=[
            SignedRecord(
                record=record,
                document=json.loads(record.payload) if record.payload is not None else None,
                signers=[signers.get(s["keyid"], {}) for s in record.signatures],
                problem=stored_records.record_problem(record, keys),
            )
            for record in records
        ],
        links=batch_links(session, records),
        endorsements=[
            (e, published_endorsements.status_of(session, e, now).value) for e in endorsements
        ],
        label_url=label_url(session, base_url, batch),
    )
