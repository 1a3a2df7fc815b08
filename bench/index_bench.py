"""The status index benchmark (``registry bench --index-keys N``; docs/performance.md):
proof size and update cost of the stored index at N keys.

A database holding only the index's two tables is filled with N keys (one in ten an
endorsement, the rest batches), its tree written bottom-up in one pass. Then, on that
database, through the same functions ingestion uses (``update_index``):

- the proof of one code (``prove_at``: ``{key, value, proof}``), its JSON size in bytes and
  the time to build it, median over 25 codes;
- the update cost per record of transactions shaped like the ingestion benchmark's (298
  records naming 6 batches: one harvest and chained storage steps per lot), and of
  transactions of 298 harvests (298 new keys: the worst case), median over 10 each.
"""

from __future__ import annotations

import hashlib
import json
import statistics
import time
from collections.abc import Iterator
from typing import Any, cast

from sqlalchemy import Table, create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from registry.crypto.jcs import canonicalize
from registry.db import insert_rows
from registry.log import status_index as si
from registry.models import StatusIndexEntry, StatusIndexNode
from registry.transparency import status_index as index_service

RECORDS_PER_TRANSACTION = 298
"""As the ingestion benchmark posts them (docs/performance.md)."""


def _key(i: int) -> str:
    if i % 10 == 0:
        return si.endorsement_key(f"{i:010d}")
    return si.batch_key(f"{hashlib.sha256(b'%d' % (i // 50)).hexdigest()[:32]}:L{i}")


def _value(i: int) -> dict[str, Any]:
    if i % 10 == 0:
        return {"endorsement": i, "revocation": None}
    return {"head": i, "recall": None}


def _bit(digest: bytes, depth: int) -> int:
    return (digest[depth >> 3] >> (7 - (depth & 7))) & 1


def _tree(items: list[tuple[bytes, str, str]], lo: int, hi: int, depth: int) -> Iterator[Any]:
    """The stored nodes of ``items[lo:hi]`` (sorted by key hash) as rows, children first;
    the last row yielded is the subtree's own."""
    prefix = si.path_prefix(items[lo][0], depth)
    if hi - lo == 1:
        digest, key, value = items[lo]
        leaf = si.leaf_hash(digest, hashlib.sha256(value.encode()).digest())
        yield (depth, prefix, leaf, key, value)
        return
    mid = next(
        i
        for i in range(lo, hi + 1)
        if i == hi or (items[i][0][depth >> 3] >> (7 - (depth & 7))) & 1
    )
    halves = []
    for a, b in ((lo, mid), (mid, hi)):
        if a == b:
            halves.append(si.EMPTY)
            continue
        last = None
        for row in _tree(items, a, b, depth + 1):
            last = row
            yield row
        assert last is not None
        halves.append(last[2])
    yield (depth, prefix, si.node_hash(halves[0], halves[1]), None, None)


def _fill(factory: sessionmaker[Session], keys: int) -> float:
    started = time.perf_counter()
    items = sorted(
        (si.key_hash(_key(i)), _key(i), canonicalize(_value(i)).decode()) for i in range(keys)
    )
    nodes = cast(Table, StatusIndexNode.__table__)
    entries = cast(Table, StatusIndexEntry.__table__)
    with factory.begin() as session:
        connection = session.connection()
        batch: list[dict[str, Any]] = []
        for depth, prefix, digest, key, value in _tree(items, 0, len(items), 0):
            batch.append(
                {
                    "depth": depth,
                    "prefix": prefix,
                    "size": 0,
                    "hash": digest,
                    "leaf_key": key,
                    "leaf_value": value,
                }
            )
            if len(batch) >= 50_000:
                insert_rows(connection, nodes, batch)
                batch = []
        insert_rows(connection, nodes, batch)
        for start in range(0, len(items), 50_000):
            insert_rows(
                connection,
                entries,
                [
                    {"key_hash": d, "key": k, "value": v}
                    for d, k, v in items[start : start + 50_000]
                ],
            )
    return time.perf_counter() - started


def _update(
    factory: sessionmaker[Session], version: int, changes: index_service.IndexChanges
) -> float:
    started = time.perf_counter()
    with factory.begin() as session:
        index_service.update_index(session, version, changes)
    return time.perf_counter() - started


def bench_status_index(url: str, keys: int) -> dict[str, Any]:
    """Fill an index of ``keys`` keys in the migrated, empty database ``url`` and measure
    proofs and updates."""
    engine = create_engine(url)
    factory = sessionmaker(engine)
    try:
        fill_s = _fill(factory, keys)
        with factory() as session:
            if engine.dialect.name == "postgresql":
                session.execute(text("ANALYZE status_index_nodes"))
            sizes, proof_ms, depth = [], [], 0
            for n in range(25):
                key = _key((n * 7919 * 10) % keys)
                started = time.perf_counter()
                entry = index_service.prove_at(session, 0, key)
                proof_ms.append((time.perf_counter() - started) * 1000)
                assert entry["value"] is not None, key
                sizes.append(len(json.dumps(entry, separators=(",", ":"))))
                depth = max(depth, len(entry["proof"]["siblings"]))
        chained, harvests = [], []
        version = 1
        for t in range(10):
            changes = index_service.IndexChanges()
            for r in range(RECORDS_PER_TRANSACTION):
                lot = (t * 6 + r // 50) * 10 + 1  # six existing batch keys
                changes.heads([_key(lot).removeprefix("batch:")], version + r)
            chained.append(_update(factory, version + RECORDS_PER_TRANSACTION, changes))
            version += RECORDS_PER_TRANSACTION + 1
            fresh = index_service.IndexChanges()
            for r in range(RECORDS_PER_TRANSACTION):
                fresh.heads([f"new{t}:H{r}"], version + r)
            harvests.append(_update(factory, version + RECORDS_PER_TRANSACTION, fresh))
            version += RECORDS_PER_TRANSACTION + 1
    finally:
        engine.dispose()
    per_record = 1e6 / RECORDS_PER_TRANSACTION
    return {
        "keys": keys,
        "fill_s": round(fill_s, 1),
        "proof_bytes": int(statistics.median(sizes)),
        "proof_bytes_max": max(sizes),
        "proof_siblings": depth,
        "proof_ms": round(statistics.median(proof_ms), 2),
        "update_us_per_record_chained": round(statistics.median(chained) * per_record, 1),
        "update_us_per_record_new_keys": round(statistics.median(harvests) * per_record, 1),
    }
