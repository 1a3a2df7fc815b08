"""Proof benchmark: a synthetic log of up to 1,000,000 leaves, its ``log_nodes`` bulk-written
from ``registry.log.merkle.append_many`` over an in-memory store, and the service's inclusion
and consistency proofs (RFC 6962 §2.1.1, §2.1.2) timed against it, with a primary-key select
as the baseline."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, and_, insert, or_, select, text

from bench.common import gc_paused, latency_ms
from registry.db import make_session_factory
from registry.log import merkle
from registry.log.note import Checkpoint as CheckpointBody
from registry.log.note import NoteSigner, sign_checkpoint
from registry.models import Checkpoint, LogNode, LogState
from registry.transparency import log as log_service
from registry.transparency.log import LOG_STATE_ID


class FrontierStore:
    """In-memory ``NodeReader`` keeping only what later appends can need: the right edge.

    ``append_many`` reads nothing but frontier nodes (``subtree_keys(0, size)``), so holding
    those alone lets a million-leaf tree stream into the database in bounded memory.
    """

    def __init__(self) -> None:
        self.nodes: dict[tuple[int, int], bytes] = {}
        self.size = 0

    def get_nodes(self, keys: Any) -> dict[tuple[int, int], bytes]:
        return {k: self.nodes[k] for k in keys if k in self.nodes}

    def extend(self, leaf_hashes: list[bytes]) -> list[tuple[int, int, bytes]]:
        created = merkle.append_many(self.size, leaf_hashes, self)
        self.size += len(leaf_hashes)
        self.nodes.update({(level, idx): h for level, idx, h in created})
        keep = set(merkle.subtree_keys(0, self.size))
        self.nodes = {k: v for k, v in self.nodes.items() if k in keep}
        return created


def synthetic_leaf(index: int) -> bytes:
    return b'{"bench":' + str(index).encode() + b',"v":1}'


@dataclass(frozen=True)
class ProofTree:
    size: int
    root: bytes
    rows: list[tuple[int, int, bytes]]
    seconds: float


def compute_proof_tree(size: int, chunk: int) -> ProofTree:
    """Every ``log_nodes`` row of ``size`` synthetic leaves, as ``append_many`` stores them."""
    store = FrontierStore()
    rows: list[tuple[int, int, bytes]] = []
    started = time.perf_counter()
    with gc_paused():  # 2M new tuples: the cyclic GC would rescan them again and again
        for start in range(0, size, chunk):
            end = min(start + chunk, size)
            rows += store.extend([merkle.leaf_hash(synthetic_leaf(i)) for i in range(start, end)])
        root = merkle.tree_root(size, store)
    return ProofTree(size, root, rows, time.perf_counter() - started)


def load_proof_tree(engine: Engine, tree: ProofTree, chunk: int) -> dict[str, Any]:
    """Write the rows (and log state and a signed checkpoint) in one transaction.

    Bulk at the driver level: ``executemany`` on SQLite, ``COPY`` on PostgreSQL. A Core
    ``insert(LogNode)`` executemany was 4x (SQLite, SQLAlchemy 2.1) and 10x (PostgreSQL)
    slower for these 2M small rows, which alone would spend the --quick budget.
    """
    signer = NoteSigner("bench.example/log", Ed25519PrivateKey.generate())
    note = sign_checkpoint(CheckpointBody("bench.example/log", tree.size, tree.root), signer)
    started = time.perf_counter()
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
            with cursor.copy("COPY log_nodes (level, idx, hash) FROM STDIN") as copy:
                for row in tree.rows:
                    copy.write_row(row)
        else:
            sql = "INSERT INTO log_nodes (level, idx, hash) VALUES (?, ?, ?)"
            for start in range(0, len(tree.rows), chunk):
                connection.exec_driver_sql(sql, tree.rows[start : start + chunk])
        connection.execute(insert(LogState), [{"id": LOG_STATE_ID, "size": tree.size}])
        connection.execute(
            insert(Checkpoint),
            [{"size": tree.size, "root_hash": tree.root, "note": note, "created_at": _now()}],
        )
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE log_nodes"))
    elapsed = time.perf_counter() - started
    rows = len(tree.rows)
    return {
        "leaves": tree.size,
        "rows": rows,
        "seconds": round(elapsed, 2),
        "rows_per_s": rows / elapsed,
    }


def _now() -> datetime:
    return datetime.now(UTC)


class PointsNodeReader(log_service.DatabaseNodeReader):
    """The same reads as ``DatabaseNodeReader``, phrased so that SQLite uses the primary key.

    ``(level, idx) IN ((?, ?), ...)`` is a full scan on SQLite (EXPLAIN QUERY PLAN: ``SCAN
    log_nodes``); ``(level = ? AND idx = ?) OR ...`` is one primary-key search per node
    (``MULTI-INDEX OR``) and a bitmap OR on PostgreSQL. Timed next to the service to show
    what the query shape costs; not shipped.
    """

    def get_nodes(self, keys: Collection[tuple[int, int]]) -> Mapping[tuple[int, int], bytes]:
        if not keys:
            return {}
        condition = or_(*(and_(LogNode.level == lv, LogNode.idx == ix) for lv, ix in keys))
        rows = self._session.execute(
            select(LogNode.level, LogNode.idx, LogNode.hash).where(condition)
        )
        return {(level, idx): h for level, idx, h in rows}


def _timed(call: Callable[[], object], calls: int, budget_s: float) -> list[float]:
    samples: list[float] = []
    deadline = time.perf_counter() + budget_s
    for _ in range(calls):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
        if started > deadline:
            break
    return samples


def bench_proofs(
    engine: Engine, size: int, calls: int, budget_s: float, pk_calls: int
) -> dict[str, Any]:
    """p50/p99 of the service's inclusion and consistency proofs, and a PK-select baseline."""
    factory = make_session_factory(engine)
    rng = random.Random(6962)
    with factory() as session, gc_paused():
        root = merkle.tree_root(size, log_service.DatabaseNodeReader(session))
        # Correctness first: a handful of proofs must verify against the stored root.
        for index in (0, size // 3, size - 1):
            proof = log_service.inclusion_proof(session, index, size)
            merkle.verify_inclusion(
                merkle.leaf_hash(synthetic_leaf(index)), index, size, proof, root
            )
        old = size // 2 + 1
        old_root = merkle.tree_root(old, log_service.DatabaseNodeReader(session))
        proof = log_service.consistency_proof(session, old, size)
        merkle.verify_consistency(old, size, proof, old_root, root)

        inclusion = _timed(
            lambda: log_service.inclusion_proof(session, rng.randrange(size), size),
            calls,
            budget_s,
        )
        consistency = _timed(
            lambda: log_service.consistency_proof(session, rng.randrange(1, size), size),
            calls,
            budget_s,
        )

        def points_inclusion() -> object:
            tree_size = log_service.tree_size(session)  # as the service does
            index = rng.randrange(size)
            return merkle.inclusion_proof(index, tree_size, PointsNodeReader(session))

        points = _timed(points_inclusion, calls, budget_s)
        check = merkle.inclusion_proof(size - 1, size, PointsNodeReader(session))
        assert check == log_service.inclusion_proof(session, size - 1, size)
        pk_select = _timed(
            lambda: session.execute(
                select(LogNode.hash).where(LogNode.level == 0, LogNode.idx == rng.randrange(size))
            ).scalar_one(),
            pk_calls,
            budget_s,
        )
    return {
        "leaves": size,
        "inclusion": latency_ms(inclusion),
        "consistency": latency_ms(consistency),
        "inclusion_points_reader": latency_ms(points),
        "pk_select": latency_ms(pk_select),
    }
