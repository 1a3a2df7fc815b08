"""The trace view model: the batches, edges and records a trace found, and their shapes.

A trace (``registry.trace.lineage.trace``) returns a ``Trace``: the batches reached with their
``depth`` (the fewest processing steps from the traced batch), the lineage edges on the way
(input → output, with the quantity consumed and the processing record's log index), the
records touching those batches, and the names of the organizations involved. ``Trace.tree``
draws it as a tree (the ``/b/{code}/trace`` page, ``registry trace``), ``Trace.document`` is
its JSON form (``GET /api/v1/batches/{id}/trace``, ``registry trace --json``). Batch
references are ``<product id>:<lot>`` as records name them (docs/records.md, "Common fields").
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from registry.records.schema import batch_ref

__all__ = [
    "DEFAULT_LIMIT",
    "Direction",
    "LineageNode",
    "OrganizationName",
    "Trace",
    "TraceEdge",
    "TraceRecord",
    "TracedBatch",
    "batch_document",
]

DEFAULT_LIMIT = 5000
"""Batches a trace returns at most (the nearest first); the rest is reported as truncated."""


class Direction(StrEnum):
    """Which way a trace follows the processing records from its batch."""

    BACKWARD = "backward"  # ancestors: what the batch was made from
    FORWARD = "forward"  # descendants: what was made from the batch


@dataclass(frozen=True)
class TracedBatch:
    """A batch a trace reached, ``depth`` processing steps (at fewest) from its start."""

    id: uuid.UUID
    code: str
    lot: str
    depth: int
    product_id: uuid.UUID
    product_name_zh: str
    product_name_en: str
    quantity: str
    unit: str
    origin_org_id: uuid.UUID
    region_code: str
    created_index: int
    recall_digest: str | None

    @property
    def recalled(self) -> bool:
        """Whether a recall record reached this batch (docs/records.md, "Kinds")."""
        return self.recall_digest is not None

    @property
    def ref(self) -> str:
        """The batch as records name it: ``<product id>:<lot>``."""
        return batch_ref(self.product_id, self.lot)


@dataclass(frozen=True)
class TraceEdge:
    """A processing record consumed ``quantity`` of ``input_id`` into ``output_id``."""

    input_id: uuid.UUID
    output_id: uuid.UUID
    quantity: str
    record_index: int


@dataclass(frozen=True)
class TraceRecord:
    """A logged record touching one or more of the traced batches."""

    index: int
    kind: str
    digest: str
    time: datetime
    organization_id: uuid.UUID | None
    batch_ids: tuple[uuid.UUID, ...]  # the traced batches it touches


@dataclass(frozen=True)
class OrganizationName:
    """An organization as a trace or recall names it: its kind and both names."""

    id: uuid.UUID
    kind: str
    name_zh: str
    name_en: str


@dataclass
class LineageNode:
    """A batch in a trace drawn as a tree; a batch reached twice (a diamond) is drawn in
    full once and marked ``repeated`` elsewhere."""

    batch: TracedBatch
    quantity: str | None = None  # of the input consumed, on the edge to the parent
    unit: str | None = None  # the input's unit
    record_index: int | None = None  # the processing record of that edge
    repeated: bool = False
    children: list[LineageNode] = field(default_factory=list)


@dataclass(frozen=True)
class Trace:
    """What a trace of one batch found, in one direction (docs/performance.md, "Trace")."""

    root: TracedBatch
    direction: Direction
    batches: list[TracedBatch]  # by depth, then creation
    edges: list[TraceEdge]  # by processing record
    records: list[TraceRecord]  # by log index
    organizations: dict[uuid.UUID, OrganizationName]
    truncated: bool  # more batches were reached than ``limit``

    def tree(self) -> LineageNode:
        """The trace as a tree from the traced batch: inputs under the output they went into
        (backward), outputs under the input they were made from (forward)."""
        by_id = {b.id: b for b in self.batches}
        below: dict[uuid.UUID, list[tuple[uuid.UUID, TraceEdge]]] = {}
        for edge in self.edges:
            if self.direction is Direction.BACKWARD:
                below.setdefault(edge.output_id, []).append((edge.input_id, edge))
            else:
                below.setdefault(edge.input_id, []).append((edge.output_id, edge))
        seen: set[uuid.UUID] = set()

        def grow(node: LineageNode) -> LineageNode:
            seen.add(node.batch.id)
            for child_id, edge in sorted(
                below.get(node.batch.id, []), key=lambda c: by_id[c[0]].created_index
            ):
                child = by_id[child_id]
                # Backward the child is the input; forward the parent is.
                unit = child.unit if self.direction is Direction.BACKWARD else node.batch.unit
                leaf = LineageNode(
                    child, edge.quantity, unit, edge.record_index, repeated=child_id in seen
                )
                node.children.append(leaf if leaf.repeated else grow(leaf))
            return node

        return grow(LineageNode(self.root))

    def records_by_batch(self) -> dict[uuid.UUID, list[TraceRecord]]:
        """Each traced batch's records, by log index."""
        found: dict[uuid.UUID, list[TraceRecord]] = {b.id: [] for b in self.batches}
        for record in self.records:
            for batch_id in record.batch_ids:
                found[batch_id].append(record)
        return found

    def document(self) -> dict[str, Any]:
        """The JSON form (API, ``registry trace --json``)."""
        codes = {b.id: b.code for b in self.batches}
        return {
            "batch": batch_document(self.root, self.organizations),
            "direction": self.direction.value,
            "truncated": self.truncated,
            "batches": [batch_document(b, self.organizations) for b in self.batches],
            "edges": [
                {
                    "input": str(e.input_id),
                    "input_code": codes[e.input_id],
                    "output": str(e.output_id),
                    "output_code": codes[e.output_id],
                    "quantity": e.quantity,
                    "record_index": e.record_index,
                }
                for e in self.edges
            ],
            "records": [
                {
                    "index": r.index,
                    "kind": r.kind,
                    "digest": r.digest,
                    "time": r.time.isoformat(),
                    "organization_id": str(r.organization_id) if r.organization_id else None,
                    "batches": [codes[b] for b in r.batch_ids],
                }
                for r in self.records
            ],
        }


def batch_document(batch: TracedBatch, orgs: dict[uuid.UUID, OrganizationName]) -> dict[str, Any]:
    """The JSON form of a traced batch, with its product and origin organization named."""
    origin = orgs.get(batch.origin_org_id)
    return {
        "id": str(batch.id),
        "code": batch.code,
        "ref": batch.ref,
        "lot": batch.lot,
        "depth": batch.depth,
        "product": {
            "id": str(batch.product_id),
            "name_zh": batch.product_name_zh,
            "name_en": batch.product_name_en,
        },
        "quantity": batch.quantity,
        "unit": batch.unit,
        "origin": {
            "id": str(batch.origin_org_id),
            "kind": origin.kind if origin else None,
            "name_zh": origin.name_zh if origin else None,
            "name_en": origin.name_en if origin else None,
        },
        "region_code": batch.region_code,
        "recalled": batch.recalled,
        "recall_digest": batch.recall_digest,
    }
