"""Lineage traces and the recall workflow.

A **trace** follows processing records from one batch: *backward* to everything it was made
from (its ancestors, down to the harvests), or *forward* to everything made from it (its
descendants, up to the packaged goods). It returns the batches with their distance from the
start (``depth``: the fewest processing steps between them), the lineage edges on the way
(input → output, with the quantity consumed and the processing record's log index), and the
records touching those batches. That is four queries whatever the graph's size:

1. the recursive CTE over ``batch_inputs`` carrying the depth, seeded with the batch named
   (by id or code: no lookup before it), grouped to each batch's
   smallest depth and joined to ``batches`` and ``products`` (indexes
   ``ix_batch_inputs_output_input`` backward, ``ix_batch_inputs_input_output`` forward);
2. the edges whose output (backward) or input (forward) is a traced batch (same indexes);
3. the records touching the traced batches (``ix_record_batches_batch_record``, then the
   records' primary key);
4. the names of the organizations involved.

Ids found by (1) are passed to (2)-(4) as ``IN`` lists, so the recursion runs once.

A **recall** is a signed ``recall`` record (PRODUCT.md §5): ingestion marks the batch and
every descendant with the recall's digest, which turns every endorsement covering one of them
``recalled``. ``issue_recall`` signs one with the caller's custodial key (the policy decides
who may), ``recall_summaries`` lists them for the public, and
``enqueue_recall_notifications`` writes the webhook deliveries for a recall into the outbox,
in the recall's own transaction.
``install_recall_notifications`` makes that happen for a recall accepted through any path
(client-signed envelope, custodial draft, this module) in sessions of one session factory.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Integer,
    Select,
    String,
    bindparam,
    event,
    func,
    literal,
    select,
    type_coerce,
)
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.elements import ColumnElement

from registry import policy
from registry.catalog.batches import get_batch
from registry.codes import normalize_code
from registry.context import RegistryContext
from registry.db import in_chunks
from registry.errors import InvalidInput, NotFound
from registry.models import (
    Account,
    Batch,
    BatchInput,
    Endorsement,
    EndorsementBatch,
    Organization,
    OrgKind,
    Product,
    Record,
    RecordBatch,
    SigningKey,
    utcnow,
)
from registry.notifications import outbox as webhooks
from registry.records.ingest import ACCEPTED_RECALLS
from registry.records.schema import Kind, batch_ref

__all__ = [
    "DEFAULT_LIMIT",
    "Direction",
    "LineageNode",
    "RecallOutcome",
    "RecallSummary",
    "Trace",
    "TraceEdge",
    "TraceRecord",
    "TracedBatch",
    "batch_document",
    "enqueue_recall_notifications",
    "install_recall_notifications",
    "issue_recall",
    "organization_names",
    "recall_summaries",
    "trace",
]

DEFAULT_LIMIT = 5000
"""Batches a trace returns at most (the nearest first); the rest is reported as truncated."""

MAX_DEPTH = 10_000
"""Processing records always create new batches, so lineage has no cycles; this bound only
keeps a damaged database from making the recursion run forever."""

_IN_CHUNK = 5000  # ids per IN list: well under SQLite's and PostgreSQL's parameter limits


class Direction(StrEnum):
    BACKWARD = "backward"  # ancestors: what the batch was made from
    FORWARD = "forward"  # descendants: what was made from the batch


@dataclass(frozen=True)
class TracedBatch:
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
        return self.recall_digest is not None

    @property
    def ref(self) -> str:
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
    index: int
    kind: str
    digest: str
    time: datetime
    organization_id: uuid.UUID | None
    batch_ids: tuple[uuid.UUID, ...]  # the traced batches it touches


@dataclass(frozen=True)
class OrganizationName:
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


# --- the trace -------------------------------------------------------------------------------


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
    reached, truncated = _reached(session, _named(ident), direction, limit)
    if not reached:
        raise NotFound(f"no batch {ident!r}")
    start = reached[0]  # the only batch at depth 0
    by_id = {b.id: b for b in reached}
    edges = _edges(session, list(by_id), direction)
    # Truncated: an edge may lead out of the returned batches; keep only those within.
    edges = [e for e in edges if e.input_id in by_id and e.output_id in by_id]
    records = _records(session, list(by_id))
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


def _named(ident: str) -> tuple[str, Any]:
    """How ``ident`` names its batch, by id or public code: a seed for ``_reached`` (so the
    trace's first query finds it: one round trip fewer than ``get_batch`` first)."""
    try:
        return "id", uuid.UUID(ident)
    except ValueError:
        pass
    try:
        return "code", normalize_code(ident)
    except InvalidInput:
        raise NotFound(f"no batch {ident!r}") from None


# The trace's statements are built once, with bound parameters, and reused: composing the
# recursive query anew cost about as much as running it (docs/performance.md).
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


def _reached(
    session: Session,
    seeds: tuple[str, Any],
    direction: Direction,
    limit: int | None,
) -> tuple[list[TracedBatch], bool]:
    """``seeds``: ("id", a UUID), ("code", a code) or ("ids", a list of UUIDs)."""
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


def _edges(session: Session, ids: Sequence[uuid.UUID], direction: Direction) -> list[TraceEdge]:
    as_uuid = _Uuids()
    edges: list[TraceEdge] = []
    for chunk in in_chunks(ids, _IN_CHUNK):
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


def _records(session: Session, ids: Sequence[uuid.UUID]) -> list[TraceRecord]:
    rows: dict[int, tuple[str, str, Any, Any]] = {}
    touched: dict[int, list[uuid.UUID]] = {}
    # The batch column read raw is SQLite's hex text or the driver's UUID: map either.
    batch_of: dict[Any, uuid.UUID] = {u.hex: u for u in ids} | {u: u for u in ids}
    as_uuid = _Uuids()
    for chunk in in_chunks(ids, _IN_CHUNK):
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


# --- recalls ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecallOutcome:
    record: Record
    summary: RecallSummary
    endorsements_recalled: list[str]  # codes whose status this recall turned to recalled
    notified: list[uuid.UUID]  # organizations with a webhook delivery enqueued
    organizations: dict[uuid.UUID, OrganizationName]

    @property
    def reached(self) -> list[TracedBatch]:
        """The recalled batch (depth 0) and every descendant."""
        return self.summary.reached

    def document(self) -> dict[str, Any]:
        return {
            "recall": self.summary.document(),
            "batches_reached": [batch_document(b, self.organizations) for b in self.reached],
            "endorsements_recalled": self.endorsements_recalled,
            "notified_organizations": [str(o) for o in self.notified],
        }


def issue_recall(
    session: Session,
    ctx: RegistryContext,
    account: Account,
    ident: str,
    reason: str,
    scope: str = "batch_and_descendants",
) -> RecallOutcome:
    """Sign a recall of a batch with ``account``'s custodial key and accept it.

    The signing policy decides who may (an official of an authority whose jurisdiction covers
    the batch's region, or the batch's producer); ingestion marks the batch and every
    descendant. The webhook deliveries are enqueued in the same transaction.
    """
    from registry.records.ingest import sign_and_submit

    batch = get_batch(session, ident)
    reason = reason.strip()
    if not reason:
        raise InvalidInput("a recall needs a reason")
    accepted = sign_and_submit(
        session,
        ctx,
        account,
        {
            "kind": Kind.RECALL.value,
            "batches": [batch_ref(batch.product_id, batch.lot)],
            "reason": reason,
            "scope": scope,
        },
    )
    record = accepted.row(session)
    summary = _summaries(session, [record])[0]
    turned = _endorsements_turned(session, summary.endorsements, record.digest)
    notified = _enqueue(session, ctx, record, summary)
    orgs = organization_names(session, {b.origin_org_id for b in summary.reached})
    return RecallOutcome(record, summary, turned, notified, orgs)


def _endorsements_turned(session: Session, codes: Sequence[str], digest: str) -> list[str]:
    """Of the endorsements ``codes`` (covering a batch the recall reached), those whose
    recalled covered batches were all recalled by ``digest``: not recalled before it."""
    if not codes:
        return []
    digests: dict[str, set[str]] = {code: set() for code in codes}
    for code, recall_digest in session.execute(
        select(Endorsement.code, Batch.recall_digest)
        .join(EndorsementBatch, EndorsementBatch.endorsement_id == Endorsement.id)
        .join(Batch, Batch.id == EndorsementBatch.batch_id)
        .where(Endorsement.code.in_(codes))
    ):
        if recall_digest is not None:
            digests[code].add(recall_digest)
    return sorted(code for code, found in digests.items() if found == {digest})


@dataclass
class RecallSummary:
    """One recall as the public list shows it."""

    index: int
    digest: str
    time: datetime
    logged_at: datetime
    reason: str | None
    scope: str | None
    organization: OrganizationName | None
    signed_by: dict[str, str] | None  # the key holder: name and title
    batches: list[dict[str, Any]]  # the batches the record names
    reached: list[TracedBatch] = field(default_factory=list)  # named batches, descendants
    endorsements: list[str] = field(default_factory=list)  # covering a reached batch

    @property
    def descendants_reached(self) -> int:
        return len(self.reached) - len(self.batches)

    def document(self) -> dict[str, Any]:
        org = self.organization
        return {
            "index": self.index,
            "digest": self.digest,
            "time": self.time.isoformat(),
            "logged_at": self.logged_at.isoformat(),
            "reason": self.reason,
            "scope": self.scope,
            "organization": (
                {
                    "id": str(org.id),
                    "kind": org.kind,
                    "name_zh": org.name_zh,
                    "name_en": org.name_en,
                }
                if org
                else None
            ),
            "signed_by": self.signed_by,
            "batches": self.batches,
            "batches_reached": len(self.reached),
            "descendants_reached": self.descendants_reached,
            "endorsements": self.endorsements,
        }


def recall_summaries(
    session: Session, limit: int = 50, before_index: int | None = None
) -> list[RecallSummary]:
    """Recall records, newest first, with what each reached. A few queries per page."""
    query = select(Record).where(Record.kind == Kind.RECALL.value)
    if before_index is not None:
        query = query.where(Record.log_index < before_index)
    return _summaries(
        session, list(session.scalars(query.order_by(Record.log_index.desc()).limit(limit)))
    )


def _summaries(session: Session, records: Sequence[Record]) -> list[RecallSummary]:
    if not records:
        return []
    indexes = [r.log_index for r in records]
    named: dict[int, list[dict[str, Any]]] = {i: [] for i in indexes}
    seeds: dict[int, list[uuid.UUID]] = {i: [] for i in indexes}
    for index, batch_id, code, lot, product_id, name_zh, name_en in session.execute(
        select(
            RecordBatch.record_index,
            Batch.id,
            Batch.code,
            Batch.lot,
            Product.id,
            Product.name_zh,
            Product.name_en,
        )
        .join(Batch, Batch.id == RecordBatch.batch_id)
        .join(Product, Product.id == Batch.product_id)
        .where(RecordBatch.record_index.in_(indexes))
        .order_by(RecordBatch.record_index, Batch.code)
    ):
        seeds[index].append(batch_id)
        named[index].append(
            {
                "id": str(batch_id),
                "code": code,
                "lot": lot,
                "product": {"id": str(product_id), "name_zh": name_zh, "name_en": name_en},
            }
        )
    reached, endorsements = _reach_per_recall(session, seeds)
    orgs = organization_names(session, {r.organization_id for r in records if r.organization_id})
    signers = _key_holders(session, [r.signatures[0]["keyid"] for r in records if r.signatures])
    summaries = []
    for record in records:
        document = json.loads(record.payload) if record.payload is not None else {}
        keyid = record.signatures[0]["keyid"] if record.signatures else None
        summaries.append(
            RecallSummary(
                index=record.log_index,
                digest=record.digest,
                time=record.record_time,
                logged_at=record.logged_at,
                reason=document.get("reason"),
                scope=document.get("scope", "batch_and_descendants") if document else None,
                organization=orgs.get(record.organization_id) if record.organization_id else None,
                signed_by=signers.get(keyid) if keyid else None,
                batches=named[record.log_index],
                reached=reached.get(record.log_index, []),
                endorsements=endorsements.get(record.log_index, []),
            )
        )
    return summaries


def _reach_per_recall(
    session: Session, seeds: dict[int, list[uuid.UUID]]
) -> tuple[dict[int, list[TracedBatch]], dict[int, list[str]]]:
    """Per recall: the batches it reached, and the endorsements covering one of them.

    Recalls are rare and a page is short: one trace and one endorsement query per recall."""
    reached: dict[int, list[TracedBatch]] = {}
    endorsements: dict[int, list[str]] = {}
    for index, ids in seeds.items():
        if not ids:
            continue
        reached[index], _ = _reached(session, ("ids", ids), Direction.FORWARD, None)
        codes: set[str] = set()
        for chunk in in_chunks([b.id for b in reached[index]], _IN_CHUNK):
            codes.update(
                session.scalars(
                    select(Endorsement.code)
                    .join(EndorsementBatch, EndorsementBatch.endorsement_id == Endorsement.id)
                    .where(EndorsementBatch.batch_id.in_(chunk))
                )
            )
        endorsements[index] = sorted(codes)
    return reached, endorsements


def _key_holders(session: Session, key_ids: Sequence[str]) -> dict[str, dict[str, str]]:
    if not key_ids:
        return {}
    rows = session.execute(
        select(
            SigningKey.key_id,
            Account.username,
            Account.name_zh,
            Account.name_en,
            Account.title_zh,
            Account.title_en,
            Account.role,
        )
        .join(Account, Account.id == SigningKey.account_id)
        .where(SigningKey.key_id.in_(set(key_ids)))
    )
    return {
        key_id: {
            "username": username,
            "name_zh": name_zh,
            "name_en": name_en,
            "title_zh": title_zh,
            "title_en": title_en,
            "role": role.value,
        }
        for key_id, username, name_zh, name_en, title_zh, title_en, role in rows
    }


# --- webhook notifications (outbox) ----------------------------------------------------------

_PENDING = ACCEPTED_RECALLS  # log indices of recalls this transaction accepted
_NOTIFIED = "registry.trace.notified_recalls"


def recall_audience(
    session: Session, reached: Sequence[TracedBatch], endorsement_codes: Sequence[str]
) -> set[uuid.UUID]:
    """Who hears of a recall: the producers of every batch it reached, the authorities of the
    endorsements covering them, and every authority whose jurisdiction covers a reached
    batch's region."""
    audience = {b.origin_org_id for b in reached}
    if endorsement_codes:
        audience.update(
            session.scalars(
                select(Endorsement.authority_id).where(Endorsement.code.in_(endorsement_codes))
            )
        )
    regions = {b.region_code for b in reached}
    for org_id, jurisdiction in session.execute(
        select(Organization.id, Organization.jurisdiction).where(
            Organization.kind == OrgKind.AUTHORITY
        )
    ):
        if any(policy.covers(jurisdiction, region) for region in regions):
            audience.add(org_id)
    return audience


def enqueue_recall_notifications(
    session: Session, ctx: RegistryContext, record: Record
) -> list[uuid.UUID]:
    """Write a webhook delivery of ``record`` (a recall) for every subscribed organization in
    its audience, in the caller's transaction (the outbox). Idempotent per recall and
    subscription. Returns the organizations notified."""
    if record.kind != Kind.RECALL.value:
        raise InvalidInput(f"record {record.log_index} is not a recall")
    return _enqueue(session, ctx, record, _summaries(session, [record])[0])


def _enqueue(
    session: Session, ctx: RegistryContext, record: Record, summary: RecallSummary
) -> list[uuid.UUID]:
    audience = recall_audience(session, summary.reached, summary.endorsements)
    recall_doc = summary.document()
    recall_doc["url"] = f"{ctx.settings.base_url}/recalls"

    def body(subscriber: uuid.UUID) -> dict[str, Any]:
        yours = sorted(b.code for b in summary.reached if b.origin_org_id == subscriber)
        return {"recall": recall_doc, "your_batches": yours}

    # Real time, not ctx.clock: the deliverer schedules by the wall clock.
    notified = webhooks.enqueue(session, "recall", record.digest, audience, body, utcnow())
    session.info.setdefault(_NOTIFIED, set()).add(record.log_index)
    return notified


def install_recall_notifications(
    factory: sessionmaker[Session],
    ctx: RegistryContext,
    on_commit: Callable[[], None] | None = None,
) -> None:
    """Enqueue webhook deliveries for every recall accepted in a session of ``factory``,
    before its transaction commits (whatever path accepted it), and call ``on_commit`` after
    a commit that enqueued some (to wake the deliverer)."""

    def enqueue(session: Session) -> None:
        pending = session.info.pop(_PENDING, [])
        done: set[int] = session.info.get(_NOTIFIED, set())
        for index in pending:
            if index in done:
                continue
            record = session.get(Record, index)
            if record is not None:  # gone if a savepoint holding it was rolled back
                enqueue_recall_notifications(session, ctx, record)
        if session.info.get(_NOTIFIED):
            session.info["registry.trace.wake"] = True

    def committed(session: Session) -> None:
        session.info.pop(_NOTIFIED, None)
        if session.info.pop("registry.trace.wake", False) and on_commit is not None:
            on_commit()

    def rolled_back(session: Session) -> None:
        for key in (_PENDING, _NOTIFIED, "registry.trace.wake"):
            session.info.pop(key, None)

    event.listen(factory, "before_commit", enqueue)
    event.listen(factory, "after_commit", committed)
    event.listen(factory, "after_rollback", rolled_back)
