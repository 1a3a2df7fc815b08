"""What ``registry demo --json`` prints: every batch and endorsement of the demo (with the
status a scan would show now), and in development mode the accounts to log in with."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.catalog.batches import batch_records
from registry.context import RegistryContext
from registry.demo.people import DEMO_PASSWORD, PEOPLE
from registry.endorsements import published as published_endorsements
from registry.models import Account, Batch, Endorsement, Organization, Product
from registry.settings import Mode


def _batches(session: Session) -> list[dict[str, Any]]:
    """Every batch in the order it was made: code, ref, product and whether it is recalled."""
    batches = []
    for batch in session.scalars(select(Batch).order_by(Batch.created_index, Batch.lot)):
        product = session.get(Product, batch.product_id)
        assert product is not None
        batches.append(
            {
                "code": batch.code,
                "id": str(batch.id),
                "ref": f"{batch.product_id}:{batch.lot}",
                "lot": batch.lot,
                "product": {"zh": product.name_zh, "en": product.name_en},
                "gtin": product.gtin,
                "recalled": batch.recall_digest is not None,
                "records": len(batch_records(session, batch.id)),
            }
        )
    return batches


def _accounts(session: Session) -> list[dict[str, Any]]:
    """The demo accounts with their (published) password and organization."""
    people = []
    for person in PEOPLE:
        account = session.scalars(select(Account).where(Account.username == person.username))
        org = session.get(Organization, account.one().organization_id)
        assert org is not None
        people.append(
            {
                "role": person.role.value,
                "username": person.username,
                "password": DEMO_PASSWORD,
                "organization": org.name_zh,
                "organization_en": org.name_en,
                "organization_kind": org.kind.value,
            }
        )
    return people


def _endorsements(session: Session, ctx: RegistryContext) -> list[dict[str, Any]]:
    """Every endorsement in log order: code, status now, page URL, product and batches."""
    endorsements = []
    for endorsement in session.scalars(select(Endorsement).order_by(Endorsement.record_index)):
        product = session.get(Product, endorsement.product_id)
        assert product is not None
        covered = published_endorsements.covered_batches(session, endorsement)
        endorsements.append(
            {
                "code": endorsement.code,
                "status": published_endorsements.status_of(session, endorsement, ctx.clock()).value,
                "url": f"{ctx.settings.base_url}/e/{endorsement.code}",
                "product": {"zh": product.name_zh, "en": product.name_en},
                "batches": [b.code for b in covered],
            }
        )
    return endorsements


def demo_summary(session: Session, ctx: RegistryContext) -> dict[str, Any]:
    """The summary of the loaded demo: base URL, endorsements, batches (and accounts in
    development mode)."""
    result: dict[str, Any] = {
        "base_url": ctx.settings.base_url,
        "endorsements": _endorsements(session, ctx),
        "batches": _batches(session),
    }
    if ctx.settings.mode is Mode.DEVELOPMENT:
        result["accounts"] = _accounts(session)
    return result
