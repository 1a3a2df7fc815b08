"""What one submission's records look up again and again, fetched a few queries at a time.

Valid only inside the transaction (and the log's append lock) that made it: see
``registry.records.ingest``.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import orjson
from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from registry import policy
from registry.crypto.dsse import Envelope
from registry.db import in_chunks, insert_rows
from registry.models import Batch, Product, Record, RecordBatch, SigningKey
from registry.records.schema import batch_ref, split_batch_ref
from registry.records.stored import find_batch
from registry.transparency.status_index import IndexChanges

# Written as plain rows, through the session's connection (so no autoflush runs first).
_RECORDS = cast(Table, Record.__table__)
_RECORD_BATCHES = cast(Table, RecordBatch.__table__)


@dataclass
class IngestCache:
    """What one transaction's records look up again and again: keys, signer facts, batches.

    Valid only inside the transaction (and the append lock) that made it; key records
    clear the key entries, since they change key status."""

    keys: dict[str, SigningKey] = field(default_factory=dict)
    facts: dict[str, policy.SignerFacts] = field(default_factory=dict)
    batches: dict[str, Batch] = field(default_factory=dict)
    absent: set[str] = field(default_factory=set)  # batch refs known not to exist yet
    products: dict[uuid.UUID, Product | None] = field(default_factory=dict)
    digests: set[str] = field(default_factory=set)  # of this submission's records so far
    logged: dict[str, int] = field(default_factory=dict)  # digest -> index, already logged
    verified: set[Envelope] = field(default_factory=set)  # signatures checked before the lock
    parsed: dict[Envelope, Any] = field(default_factory=dict)  # records parsed before it
    rows: list[dict[str, Any]] = field(default_factory=list)  # records not yet written
    links: list[dict[str, Any]] = field(default_factory=list)  # their record_batches rows
    # What the records change in the status index (registry.transparency.status_index).
    index_changes: IndexChanges = field(default_factory=IndexChanges)

    def prefetch(self, session: Session, envelopes: Sequence[Envelope]) -> None:
        """Look up, for a whole submission at once, which of its records are already logged
        and the batches they name: a few ``IN`` queries instead of one or two per record
        (on PostgreSQL each query is a network round trip)."""
        digests = [hashlib.sha256(e.payload).hexdigest() for e in envelopes]
        for chunk in in_chunks(digests):
            logged = select(Record.digest, Record.log_index).where(Record.digest.in_(chunk))
            self.logged.update((digest, index) for digest, index in session.execute(logged))
        lots: dict[uuid.UUID, set[str]] = {}
        for envelope in envelopes:
            for ref in _named_batches(envelope.payload):
                try:
                    product_id, lot = split_batch_ref(ref)
                except ValueError:
                    continue  # malformed: the record's own checks say so, in order
                if f"{product_id}:{lot}" != ref:
                    continue  # not canonical: likewise
                lots.setdefault(product_id, set()).add(lot)
                self.absent.add(ref)
        for product_id, wanted in lots.items():
            for chunk in in_chunks(sorted(wanted)):
                named = select(Batch).where(Batch.product_id == product_id, Batch.lot.in_(chunk))
                for batch in session.scalars(named):
                    self.batches[batch_ref(batch.product_id, batch.lot)] = batch
        self.absent.difference_update(self.batches)

    def write(self, session: Session) -> None:
        """Write what the submission accepted so far, in the order references need: record
        rows (lineage edges and projections point at them), then the session's objects (new
        batches, keys, edges), then the batches' chain links.

        Rows, not ORM objects, for the two tables every record adds to: a unit-of-work
        insert costs several times a plain ``INSERT`` of the same rows."""
        insert_rows(session.connection(), _RECORDS, self.rows)
        self.rows = []
        session.flush()
        insert_rows(session.connection(), _RECORD_BATCHES, self.links)
        self.links = []

    def find_batch(self, session: Session, ref: str) -> Batch | None:
        """The batch ``ref`` names, from the cache when it was fetched or made already."""
        batch = self.batches.get(ref)
        if batch is None and ref not in self.absent:
            batch = find_batch(session, ref)
        return batch

    def forget_keys(self) -> None:
        """Drop the cached keys and signer facts (a key record just changed a key)."""
        self.keys.clear()
        self.facts.clear()


def _named_batches(payload: bytes) -> list[str]:
    """The batch refs a payload names, read leniently (it is checked properly later)."""
    try:
        document = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return []
    refs = document.get("batches") if isinstance(document, dict) else None
    return [r for r in refs if isinstance(r, str)] if isinstance(refs, list) else []
