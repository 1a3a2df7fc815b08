"""The statements of a trace, built once with bound parameters, and the rows they return.

A trace is four queries whatever the graph's size (docs/performance.md, "Trace"):

1. the recursive CTE over ``batch_inputs`` carrying the depth, seeded with the batch named
   (by id or code: no lookup before it), grouped to each batch's smallest depth and joined
   to ``batches`` and ``products`` (indexes ``ix_batch_inputs_output_input`` backward,
   ``ix_batch_inputs_input_output`` forward): ``reached_batches``;
2. the edges whose output (backward) or input (forward) is a traced batch (same indexes):
   ``lineage_edges``;
3. the records touching the traced batches (``ix_record_batches_batch_record``, then the
   records' primary key): ``touching_records``;
4. the names of the organizations involved: ``organization_names``.

Ids found by (1) are passed to (2)-(4) as ``IN`` lists, so the recursion runs once.
Composing the recursive query anew cost about as much as running it, so every statement is
built once (``lru_cache``) and reused with bound parameters.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Literal

from sqlalchemy import Integer, Select, String, bindparam, func, literal, select, type_coerce
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from registry.db import in_chunks
from registry.models import Batch, BatchInput, Organization, OrgKind, Product, Record, RecordBatch
from registry.trace.view import Direction, OrganizationName, TracedBatch, TraceEdge, TraceRecord

__all__ = [
    "IN_CHUNK",
    "MAX_DEPTH",
    "Seeds",
    "lineage_edges",
    "organization_names",
    "reached_batches",
    "touching_records",
]

MAX_DEPTH = 10_000
"""Processing records always create new batches, so lineage has no cycles; this bound only
keeps a damaged database from making the recursion run forever."""

IN_CHUNK = 5000
"""Ids per ``IN`` list: well under SQLite's and PostgreSQL's parameter limits."""

Seeds = tuple[Literal["id", "code", "ids"], Any]
"""Where a reach starts: ("id", a UUID), ("code", a public code) or ("ids", a list of UUIDs)."""

_SEEDS: dict[str, ColumnElement[bool]] = {
    "id": Batch.id == bindparam("seed"),
    "code": Batch.code == bindparam("seed"),
    "ids": Batch.id.in_(bindparam("seed", expanding=True)),
}


def _reach_cte(seeds: str, direction: Direction) -> Any:
    """``reach(id, depth)``: the seeds at depth 0 and every batch one more step away.

    UNION (not UNION ALL) drops a repeated (batch, depth), so a diamond is walked once per
    distinct distance, never once per path.
    """
    if direction is Direction.FORWARD:
        src, dst = BatchInput.input_batch_id, BatchInput.output_batch_id
    else:
        src, dst = BatchInput.output_batch_id, BatchInput.input_batch_id
    start = select(Batch.id.label("id"), literal(0, Integer).label("depth")).where(_SEEDS[seeds])
    reach = start.cte("reach", recursive=True)
    step = (
        select(dst.label("id"), (reach.c.depth + 1).label("depth"))
        .join(reach, src == reach.c.id)
        .where(reach.c.depth < MAX_DEPTH)
    )
    return reach.union(step)


@lru_cache(maxsize=16)
def _reached_query(seeds: str, direction: Direction, limited: bool) -> Select[Any]:
    """The batches reached from the seeds (parameter ``seed``), nearest first; at most
    ``limit`` + 1 of them (parameter ``limit``) when ``limited``."""
    reach = _reach_cte(seeds, direction)
    nodes = (
        select(reach.c.id.label("id"), func.min(reach.c.depth).label("depth"))
        .group_by(reach.c.id)
        .subquery("nodes")
    )
    query: Select[Any] = (
        select(
            Batch.id,
            Batch.code,
            Batch.lot,
            nodes.c.depth,
            Batch.product_id,
            Product.name_zh,
            Product.name_en,
            Batch.quantity,
            Batch.unit,
            Batch.origin_org_id,
            Batch.region_code,
            Batch.created_index,
            Batch.recall_digest,
        )
        .join(nodes, nodes.c.id == Batch.id)
        .join(Product, Product.id == Batch.product_id)
        .order_by(nodes.c.depth, Batch.created_index, Batch.code)
    )
    return query.limit(bindparam("limit")) if limited else query


def reached_batches(
    session: Session,
    seeds: Seeds,
    direction: Direction,
    limit: int | None,
) -> tuple[list[TracedBatch], bool]:
    """The batches reached from ``seeds`` going ``direction``, nearest first (query 1), and
    whether more than ``limit`` were (then only the nearest ``limit`` are returned)."""
    how, seed = seeds
    params: dict[str, Any] = {"seed": seed}
    if limit is not None:
        params["limit"] = limit + 1
    query = _reached_query(how, direction, limit is not None)
    rows = [TracedBatch(*row) for row in session.execute(query, params)]
    if limit is not None and len(rows) > limit:
        return rows[:limit], True
    return rows, False


class _Uuids:
    """UUIDs from a column read raw (``type_coerce(column, String)``): SQLite's 32-digit hex
    text, or the UUID PostgreSQL's driver builds itself. Building one from text costs a few
    microseconds and a trace reads the same few dozen ids hundreds of times (every record
    names its batch), so each is built once."""

    def __init__(self) -> None:
        self._cache: dict[Any, uuid.UUID] = {}

    def __call__(self, raw: Any) -> uuid.UUID:
        found = self._cache.get(raw)
        if found is None:
            found = raw if isinstance(raw, uuid.UUID) else uuid.UUID(raw)
            self._cache[raw] = found
        return found


def _utc(raw: Any) -> datetime:
    """A ``UTCDateTime`` read raw: SQLite's text (naive UTC) or the driver's datetime."""
    moment = raw if isinstance(raw, datetime) else datetime.fromisoformat(raw)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _raw(column: Any) -> Any:
    return type_coerce(column, String)


@lru_cache(maxsize=2)
def _edges_query(direction: Direction) -> Select[Any]:
    # Backward, every input of a traced batch is traced too: edges by output. Forward, by input.
    near = (
        BatchInput.output_batch_id if direction is Direction.BACKWARD else BatchInput.input_batch_id
    )
    return select(
        _raw(BatchInput.input_batch_id),
        _raw(BatchInput.output_batch_id),
        BatchInput.quantity,
        BatchInput.record_index,
    ).where(near.in_(bindparam("ids", expanding=True)))


def lineage_edges(
    session: Session, ids: Sequence[uuid.UUID], direction: Direction
) -> list[TraceEdge]:
    """The lineage edges whose output (backward) or input (forward) is one of ``ids``
    (query 2), by processing record."""
    as_uuid = _Uuids()
    edges: list[TraceEdge] = []
    for chunk in in_chunks(ids, IN_CHUNK):
        edges.extend(
            TraceEdge(as_uuid(source), as_uuid(target), quantity, index)
            for source, target, quantity, index in session.execute(
                _edges_query(direction), {"ids": chunk}
            )
        )
    edges.sort(key=lambda e: (e.record_index, str(e.input_id), str(e.output_id)))
    return edges


@lru_cache(maxsize=1)
def _records_query() -> Select[Any]:
    return (
        select(
            _raw(RecordBatch.batch_id),
            Record.log_index,
            Record.kind,
            Record.digest,
            _raw(Record.record_time),
            _raw(Record.organization_id),
        )
        .join(Record, Record.log_index == RecordBatch.record_index)
        .where(RecordBatch.batch_id.in_(bindparam("ids", expanding=True)))
    )


def touching_records(session: Session, ids: Sequence[uuid.UUID]) -> list[TraceRecord]:
    """The records touching any of the batches ``ids`` (query 3), by log index, each with
    the ones of ``ids`` it touches."""
    rows: dict[int, tuple[str, str, Any, Any]] = {}
    touched: dict[int, list[uuid.UUID]] = {}
    # The batch column read raw is SQLite's hex text or the driver's UUID: map either.
    batch_of: dict[Any, uuid.UUID] = {u.hex: u for u in ids} | {u: u for u in ids}
    as_uuid = _Uuids()
    for chunk in in_chunks(ids, IN_CHUNK):
        for batch_id, index, kind, digest, time, org_id in session.execute(
            _records_query(), {"ids": chunk}
        ):
            batches = touched.get(index)
            if batches is None:
                rows[index] = (kind, digest, time, org_id)
                touched[index] = batches = []
            batches.append(batch_of[batch_id])
    records = []
    for index in sorted(rows):
        kind, digest, time, org_id = rows[index]
        org = as_uuid(org_id) if org_id is not None else None
        records.append(TraceRecord(index, kind, digest, _utc(time), org, tuple(touched[index])))
    return records


def organization_names(
    session: Session, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, OrganizationName]:
    """The kind and names of the organizations ``ids`` (query 4), by id."""
    wanted = list(ids)
    if not wanted:
        return {}
    return {
        row[0]: OrganizationName(row[0], row[1].value, row[2], row[3])
        for row in session.execute(_organizations_query(), {"ids": wanted})
    }


@lru_cache(maxsize=1)
def _organizations_query() -> Select[uuid.UUID, OrgKind, str, str]:
    return select(
        Organization.id, Organization.kind, Organization.name_zh, Organization.name_en
    ).where(Organization.id.in_(bindparam("ids", expanding=True)))
