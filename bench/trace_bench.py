"""Trace benchmark: backward and forward lineage traces at 100,000 batches, 1,000,000 records.

    python -m bench.trace_bench [--quick] [--json FILE] [--backends sqlite,postgresql]

(a) Data (``bench.trace_data``). A supply-chain-like lineage graph is generated (seeded,
    so every run is the same): batches come in clusters of ~200 (a county's growers and the
    mills and packers they sell to); in each, about a third of the events are harvests
    (roots) and the rest processing records consuming 1-3 recent batches of the cluster
    (sometimes one from a nearby earlier cluster) into 1-3 new batches, at most 20 steps from
    a harvest. Every batch then gets further single-batch records (certificate, inspection,
    storage, shipping, ...) until the log holds the target count. Rows go straight into
    ``organizations``, ``products``, ``records`` (synthetic but full-sized: ~450-byte
    payload, leaf, signatures), ``batches``, ``batch_inputs`` and ``record_batches`` through
    ``registry.db.insert_rows`` (the ingestion path's writer): Core ``executemany`` on
    SQLite, ``COPY`` on PostgreSQL. The schema is the shipped one (Alembic migrations), so the
    indexes the trace relies on are the real ones. PostgreSQL then gets ``VACUUM ANALYZE``
    (what autovacuum does on its own: statistics, and the visibility map that lets the
    lineage indexes answer index-only); SQLite gets no ``ANALYZE`` (a registry's SQLite file
    never has it) but a WAL checkpoint (what it does as it goes).
(b) Traces. ``registry.trace.trace`` — what ``GET /api/v1/batches/{id}/trace``,
    the page and ``registry trace`` run — for random batches (by public code), backward and
    forward, each in a fresh session and transaction like a request: p50 / p99, and the
    batches / records each returned.
(c) Baseline, same run: a primary-key select of one batch in a fresh session, so the trace
    numbers read as ratios on a noisy machine.

PostgreSQL: database ``registry_bench_trace`` on 127.0.0.1:5432 (user postgres, trust),
dropped and created afresh (``--postgres-url`` to point elsewhere). SQLite: a file in a temp
dir. ``--quick``: 10,000 batches and 100,000 records, in well under a minute.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from bench.common import gc_paused, machine, percentile, table_row
from bench.progress import say
from bench.trace_data import (
    MAX_LEVEL,
    SEED,
    Dataset,
    batch_code,
    batch_rows,
    dataset,
    edge_rows,
    org_rows,
    product_rows,
    record_batch_rows,
    record_rows,
)
from registry import trace as trace_service
from registry.db import insert_rows, make_engine, make_session_factory, upgrade
from registry.models import (
    Batch,
    BatchInput,
    Organization,
    Product,
    Record,
    RecordBatch,
)

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/registry_bench_trace"
TARGET_P50_MS = 10.0


@dataclass(frozen=True)
class Plan:
    batches: int
    records: int
    samples: int  # traces per direction
    pk_calls: int
    chunk: int = 20_000


QUICK = Plan(10_000, 100_000, 150, 300)
FULL = Plan(100_000, 1_000_000, 500, 1_000)


# --- loading ---------------------------------------------------------------------------------


def fresh_database(backend: str, workdir: Path, postgres_url: str) -> str:
    """A migrated, empty database; returns its URL."""
    if backend == "sqlite":
        url = f"sqlite:///{workdir / 'trace.db'}"
    else:
        url = postgres_url
        parsed = make_url(url)
        admin = make_engine(
            parsed.set(database="postgres").render_as_string(hide_password=False),
            isolation_level="AUTOCOMMIT",
            poolclass=NullPool,
        )
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{parsed.database}"'))
        admin.dispose()
    upgrade(url)
    return url


def _chunks(rows: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def load(engine: Engine, data: Dataset, plan: Plan) -> dict[str, Any]:
    tables: list[tuple[Any, Iterator[dict[str, Any]]]] = [
        (Organization.__table__, org_rows(data)),
        (Product.__table__, product_rows(data)),
        (Record.__table__, record_rows(data)),
        (Batch.__table__, batch_rows(data)),
        (BatchInput.__table__, edge_rows(data)),
        (RecordBatch.__table__, record_batch_rows(data)),
    ]
    counts: dict[str, int] = {}
    started = time.perf_counter()
    with gc_paused():
        for table, rows in tables:
            say(f"loading {table.name}")
            counts[table.name] = 0
            with engine.begin() as connection:  # COPY on PostgreSQL
                for chunk in _chunks(rows, plan.chunk):
                    insert_rows(connection, table, chunk)
                    counts[table.name] += len(chunk)
    seconds = time.perf_counter() - started
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))
    else:
        # A registry's WAL is checkpointed as it goes; a freshly bulk-loaded one holds the
        # whole load, and every read would go through the WAL index first.
        raw = engine.raw_connection()  # outside a transaction, or it cannot complete
        try:
            busy, _, _ = raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            assert busy == 0, "the WAL checkpoint did not complete"
        finally:
            raw.close()
    total = sum(counts.values())
    return {"rows": counts, "seconds": round(seconds, 1), "rows_per_s": round(total / seconds)}


# --- measuring -------------------------------------------------------------------------------


def summarize(seconds: Sequence[float], sizes: Sequence[tuple[int, int]]) -> dict[str, Any]:
    ms = [s * 1000 for s in seconds]
    batches = [b for b, _ in sizes]
    records = [r for _, r in sizes]
    return {
        "p50_ms": round(percentile(ms, 50), 3),
        "p99_ms": round(percentile(ms, 99), 3),
        "mean_ms": round(statistics.fmean(ms), 3),
        "n": len(ms),
        "batches_p50": percentile(batches, 50),
        "batches_p99": percentile(batches, 99),
        "batches_max": max(batches),
        "records_p50": percentile(records, 50),
        "records_p99": percentile(records, 99),
    }


def bench_traces(
    factory: sessionmaker[Session], codes: Sequence[str], direction: str
) -> dict[str, Any]:
    seconds: list[float] = []
    sizes: list[tuple[int, int]] = []
    with gc_paused():
        for code in codes:
            started = time.perf_counter()
            with factory() as session, session.begin():
                found = trace_service.trace(session, code, direction)
            seconds.append(time.perf_counter() - started)
            sizes.append((len(found.batches), len(found.records)))
    return summarize(seconds, sizes)


def bench_pk(factory: sessionmaker[Session], ids: Sequence[uuid.UUID]) -> dict[str, Any]:
    seconds: list[float] = []
    with gc_paused():
        for batch_id in ids:
            started = time.perf_counter()
            with factory() as session, session.begin():
                session.execute(select(Batch.code).where(Batch.id == batch_id)).scalar_one()
            seconds.append(time.perf_counter() - started)
    return summarize(seconds, [(1, 0)] * len(seconds))


def run_backend(backend: str, plan: Plan, data: Dataset, workdir: Path, pg: str) -> dict[str, Any]:
    say(f"{backend}: fresh database")
    url = fresh_database(backend, workdir, pg)
    engine = make_engine(url)
    try:
        loaded = load(engine, data, plan)
        factory = make_session_factory(engine)
        rng = random.Random(SEED + 1)
        picks = [rng.randrange(data.graph.size) for _ in range(plan.samples)]
        codes = [batch_code(i) for i in picks]
        say(f"{backend}: warming up")
        bench_traces(factory, codes[: max(10, plan.samples // 10)], "backward")
        say(f"{backend}: {plan.samples} backward and forward traces")
        result = {
            "load": loaded,
            "backward": bench_traces(factory, codes, "backward"),
            "forward": bench_traces(factory, codes, "forward"),
            "pk_select": bench_pk(factory, [data.batch_ids[i] for i in picks[: plan.pk_calls]]),
        }
        deep = [i for i in range(data.graph.size) if data.graph.levels[i] == MAX_LEVEL]
        if deep:
            rng.shuffle(deep)
            result["backward_deepest"] = bench_traces(
                factory, [batch_code(i) for i in deep[: max(20, plan.samples // 5)]], "backward"
            )
        return result
    finally:
        engine.dispose()


# --- report ----------------------------------------------------------------------------------


def table(backends: dict[str, dict[str, Any]]) -> str:
    names = list(backends)
    rows: list[list[str]] = []
    labels = {
        "backward": "backward trace p50 / p99",
        "forward": "forward trace p50 / p99",
        "backward_deepest": "backward trace from depth 20, p50 / p99",
        "pk_select": "baseline: batch PK select p50 / p99",
    }
    for what, label in labels.items():
        if not all(what in b for b in backends.values()):
            continue
        cells = [label]
        for b in backends.values():
            run = b[what]
            ratio = run["p50_ms"] / b["pk_select"]["p50_ms"]
            suffix = "" if what == "pk_select" else f" ({ratio:.0f}× PK)"
            cells.append(f"{run['p50_ms']:.2f} / {run['p99_ms']:.2f} ms{suffix}")
        rows.append(cells)
        if what != "pk_select":
            cells = [f"  {what}: batches p50 / p99 / max, records p50"]
            for b in backends.values():
                run = b[what]
                cells.append(
                    f"{run['batches_p50']} / {run['batches_p99']} / {run['batches_max']}, "
                    f"{run['records_p50']}"
                )
            rows.append(cells)
    cells = ["bulk load (rows, s)"]
    for b in backends.values():
        cells.append(f"{sum(b['load']['rows'].values()):,} in {b['load']['seconds']} s")
    rows.append(cells)
    header = ["what", *names]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [table_row(header, widths), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    lines += [table_row(r, widths) for r in rows]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10k batches, 100k records, < 60 s")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--postgres-url", default=POSTGRES_URL)
    args = parser.parse_args(argv)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if not backends or any(b not in {"sqlite", "postgresql"} for b in backends):
        parser.error("--backends takes sqlite and/or postgresql")
    plan = QUICK if args.quick else FULL

    started = time.perf_counter()
    say(f"generating {plan.batches:,} batches and {plan.records:,} records")
    data = dataset(plan.batches, plan.records)
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="trace-bench-") as tmp:
        for backend in backends:
            results[backend] = run_backend(backend, plan, data, Path(tmp), args.postgres_url)
    elapsed = time.perf_counter() - started

    graph = data.graph
    shape = {
        "batches": graph.size,
        "records": data.records,
        "edges": sum(len(i) * len(o) for i, o in graph.events),
        "roots": sum(1 for i, _ in graph.events if not i),
        "processing_records": sum(1 for i, _ in graph.events if i),
        "max_level": max(graph.levels),
    }
    mode = "quick" if args.quick else "full"
    print(
        f"Trace benchmarks ({mode}, {elapsed:.0f} s; {shape['batches']:,} batches, "
        f"{shape['records']:,} records, {shape['edges']:,} lineage edges, "
        f"{shape['roots']:,} roots, depth ≤ {shape['max_level']}; {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version})"
    )
    print(table(results))
    p50 = max(max(b["backward"]["p50_ms"], b["forward"]["p50_ms"]) for b in results.values())
    verdict = "within" if p50 <= TARGET_P50_MS else "OVER"
    print(f"trace p50 {p50:.2f} ms (worst backend and direction): {verdict} the {TARGET_P50_MS} ms")
    if args.json:
        summary = {
            "trace_p50_ms": p50,
            "trace_p99_ms": max(
                max(b["backward"]["p99_ms"], b["forward"]["p99_ms"]) for b in results.values()
            ),
            "trace_target_p50_ms": TARGET_P50_MS,
            "trace_within_target": p50 <= TARGET_P50_MS,
            "quick": args.quick,
            "seconds": round(elapsed, 1),
            "shape": shape,
            "machine": machine(),
            "backends": results,
        }
        Path(args.json).write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
