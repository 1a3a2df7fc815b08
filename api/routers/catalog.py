"""Products and batches."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from api import pagination
from api.deps import CurrentAccount, SessionDep
from api.schemas import BatchOut, Page, ProductIn, ProductOut, RecordOut
from registry.catalog import batches, products, queries

router = APIRouter(prefix="/api/v1", tags=["products and batches"])
Limit = Annotated[int, Query(ge=1, le=500)]


@router.post("/products", status_code=201, response_model=ProductOut)
def create_product(body: ProductIn, session: SessionDep, account: CurrentAccount) -> ProductOut:
    return ProductOut.of(products.create_product(session, account, **body.model_dump()))


@router.get("/products", response_model=Page[ProductOut])
def list_products(
    session: SessionDep,
    limit: Limit = 100,
    cursor: str | None = None,
    organization_id: uuid.UUID | None = None,
) -> Page[ProductOut]:
    after = pagination.decode_uuid(cursor)
    rows, more = queries.products_page(session, after, limit, organization_id)
    return Page(
        items=[ProductOut.of(p) for p in rows],
        next_cursor=pagination.encode(str(rows[-1].id)) if more else None,
    )


@router.get("/products/{product_id}", response_model=ProductOut)
def get_product(product_id: uuid.UUID, session: SessionDep) -> ProductOut:
    return ProductOut.of(products.get_product(session, product_id))


@router.get("/batches", response_model=Page[BatchOut])
def list_batches(
    session: SessionDep,
    limit: Limit = 100,
    cursor: str | None = None,
    product_id: uuid.UUID | None = None,
) -> Page[BatchOut]:
    after = pagination.decode_index_and_id(cursor)
    rows, more = queries.batches_page(session, after, limit, product_id)
    return Page(
        items=[BatchOut.of(b) for b in rows],
        # Batches made by one processing record share an index, so the id breaks the tie.
        next_cursor=pagination.encode([rows[-1].created_index, str(rows[-1].id)]) if more else None,
    )


@router.get("/batches/{batch}", response_model=BatchOut)
def get_batch(batch: str, session: SessionDep) -> BatchOut:
    """By id or by public code (case-insensitive)."""
    return BatchOut.of(batches.get_batch(session, batch))


@router.get("/batches/{batch}/records", response_model=list[RecordOut])
def batch_records(batch: str, session: SessionDep) -> list[RecordOut]:
    found = batches.get_batch(session, batch)
    return [RecordOut.of(r) for r in batches.batch_records(session, found.id)]
