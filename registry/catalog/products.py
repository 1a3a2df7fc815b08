"""Products: registry metadata owned by the organization that makes them (GS1 GTIN-14
when the producer has one, see ``registry.gs1``)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.errors import Conflict, Forbidden, InvalidInput, NotFound
from registry.gs1 import normalize_gtin
from registry.models import Account, Organization, OrgKind, Product
from registry.records.fields import check_text

PRODUCER_KINDS = frozenset({OrgKind.COOPERATIVE, OrgKind.PROCESSOR})
"""The organization kinds that make goods and so may register products."""


def create_product(
    session: Session,
    account: Account,
    *,
    name_zh: str,
    name_en: str,
    category: str,
    gtin: str | None = None,
    standard_ref: str = "",
    id: uuid.UUID | None = None,
) -> Product:
    """Register a product of ``account``'s organization (a cooperative or processor).

    The GTIN, if given, is normalized to GTIN-14 and must be unique in the registry."""
    org = session.get(Organization, account.organization_id)
    assert org is not None
    if org.kind not in PRODUCER_KINDS:
        raise Forbidden("only cooperatives and processors register products")
    for field, value in (
        ("name_zh", name_zh),
        ("name_en", name_en),
        ("category", category),
        ("standard_ref", standard_ref),
    ):
        check_text(value, field)
    if not name_zh.strip() or not category.strip():
        raise InvalidInput("name_zh and category are required")
    normalized = normalize_gtin(gtin) if gtin else None
    if normalized and session.scalars(select(Product).where(Product.gtin == normalized)).first():
        raise Conflict(f"GTIN {normalized} is already registered", rule="duplicate-gtin")
    product = Product(
        id=id or uuid.uuid4(),
        organization_id=org.id,
        name_zh=name_zh.strip(),
        name_en=name_en.strip(),
        category=category.strip(),
        gtin=normalized,
        standard_ref=standard_ref.strip(),
    )
    session.add(product)
    session.flush()
    return product


def get_product(session: Session, product_id: uuid.UUID) -> Product:
    """The product with this id; ``NotFound`` if there is none."""
    product = session.get(Product, product_id)
    if product is None:
        raise NotFound(f"no product {product_id}")
    return product
