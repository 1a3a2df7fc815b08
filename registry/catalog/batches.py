"""Batches and their lineage (recursive CTEs over ``batch_inputs``).

A batch is found here by its id or by the public code on its label; records name it by a
``"<product id>:<lot>"`` reference instead (``registry.records.stored.find_batch``)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from registry.codes import normalize_code
from registry.errors import InvalidInput, NotFound
from registry.models import Batch, BatchInput, Record, RecordBatch


def descendant_ids(session: Session, batch_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    """The batches themselves and everything made from them, at any depth."""
    return _closure(session, batch_ids, forward=True)


def ancestor_ids(session: Session, batch_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    """The batches themselves and everything they were made from, at any depth."""
    return _closure(session, batch_ids, forward=False)


def _closure(session: Session, batch_ids: Sequence[uuid.UUID], forward: bool) -> set[uuid.UUID]:
    if not batch_ids:
        return set()
    src, dst = (
        (BatchInput.input_batch_id, BatchInput.output_batch_id)
        if forward
        else (BatchInput.output_batch_id, BatchInput.input_batch_id)
    )
    seeds: Select[uuid.UUID] = select(Batch.id.label("id")).where(Batch.id.in_(batch_ids))
    # UNION (not UNION ALL) stops on shared ancestors/diamonds.
    reach = seeds.cte("reach", recursive=True)
    step = select(dst.label("id")).join(reach, src == reach.c.id)
    reach = reach.union(step)
    return set(session.scalars(select(reach.c.id)))


def get_batch(session: Session, ident: str) -> Batch:
    """Find a batch by id (UUID) or by its public code."""
    batch: Batch | None
    try:
        batch = session.get(Batch, uuid.UUID(ident))
    except ValueError:
        try:
            code = normalize_code(ident)
        except InvalidInput:
            raise NotFound(f"no batch {ident!r}") from None
        batch = session.scalars(select(Batch).where(Batch.code == code)).first()
    if batch is None:
        raise NotFound(f"no batch {ident!r}")
    return batch


def batch_records(session: Session, batch_id: uuid.UUID) -> list[Record]:
    """The batch's own chain, oldest first."""
    return list(
        session.scalars(
            select(Record)
            .join(RecordBatch, RecordBatch.record_index == Record.log_index)
            .where(RecordBatch.batch_id == batch_id)
            .order_by(Record.log_index)
        )
    )
