"""Lineage traces: from one batch backward to what it was made from, or forward to what was
made from it.

A **trace** follows processing records from one batch: *backward* to everything it was made
from (its ancestors, down to the harvests), or *forward* to everything made from it (its
descendants, up to the packaged goods). It is the four queries of ``registry.trace.queries``
whatever the graph's size (docs/performance.md, "Trace"); the batch is named by id or public
code and found by the first of them, so there is no lookup before it.
"""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from registry.codes import normalize_code
from registry.errors import InvalidInput, NotFound
from registry.trace.queries import (
    Seeds,
    lineage_edges,
    organization_names,
    reached_batches,
    touching_records,
)
from registry.trace.view import DEFAULT_LIMIT, Direction, Trace

__all__ = ["trace"]


def trace(
    session: Session,
    ident: str,
    direction: Direction | str = Direction.BACKWARD,
    limit: int = DEFAULT_LIMIT,
) -> Trace:
    """Trace the batch named by ``ident`` (id or public code) ``direction``.

    Raises ``NotFound`` for an unknown batch and ``InvalidInput`` for a bad direction or
    limit.
    """
    try:
        direction = Direction(direction)
    except ValueError:
        raise InvalidInput(
            f"direction must be 'backward' or 'forward', not {direction!r}"
        ) from None
    if limit < 1:
        raise InvalidInput("limit must be at least 1")
    reached, truncated = reached_batches(session, _named(ident), direction, limit)
    if not reached:
        raise NotFound(f"no batch {ident!r}")
    start = reached[0]  # the only batch at depth 0
    by_id = {b.id: b for b in reached}
    edges = lineage_edges(session, list(by_id), direction)
    # Truncated: an edge may lead out of the returned batches; keep only those within.
    edges = [e for e in edges if e.input_id in by_id and e.output_id in by_id]
    records = touching_records(session, list(by_id))
    org_ids = {b.origin_org_id for b in reached} | {
        r.organization_id for r in records if r.organization_id is not None
    }
    return Trace(
        root=by_id[start.id],
        direction=direction,
        batches=reached,
        edges=edges,
        records=records,
        organizations=organization_names(session, org_ids),
        truncated=truncated,
    )


def _named(ident: str) -> Seeds:
    """How ``ident`` names its batch, by id or public code: a seed for ``reached_batches``
    (so the trace's first query finds it: one round trip fewer than ``get_batch`` first)."""
    try:
        return "id", uuid.UUID(ident)
    except ValueError:
        pass
    try:
        return "code", normalize_code(ident)
    except InvalidInput:
        raise NotFound(f"no batch {ident!r}") from None
