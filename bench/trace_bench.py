"""Trace benchmark: backward and forward lineage traces at 100,000 batches, 1,000,000 records.

    python bench/trace_bench.py [--quick] [--json FILE] [--backends sqlite,postgresql]

(a) Data. A supply-chain-like lineage graph is generated (seeded, so every run is the same):
    batches come in clusters of ~200 (a county's growers and the mills and packers they sell
    to); in each, about a third of the events are harvests (roots) and the rest processing
    records consuming 1-3 recent batches of the cluster (sometimes one from a nearby earlier
    cluster) into 1-3 new batches, at most 20 steps from a harvest. Every batch then gets
    further single-batch records (certificate, inspection, storage, shipping, ...) until the
    log holds the target count. Rows go straight into ``organizations``, ``products``,
    ``records`` (synthetic but full-sized: ~450-byte payload, leaf, signatures),
    ``batches``, ``batch_inputs`` and ``record_batches`` through ``registry.db.insert_rows``
    (the ingestion path's writer): Core ``executemany`` on SQLite,
    ``COPY`` on PostgreSQL. The schema is the shipped one (Alembic migrations), so the
    indexes the trace relies on are the real ones. PostgreSQL then gets ``VACUUM ANALYZE``
    (what autovacuum does on its own: statistics, and the visibility map that lets the
    lineage indexes answer index-only); SQLite gets no ``ANALYZE`` (a registry's SQLite file
    never has it) but a WAL checkpoint (what it does as it goes).
(b) Traces. ``registry.services.trace.trace`` — what ``GET /api/v1/batches/{id}/trace``,
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
import gc
import hashlib
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
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import Engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from registry.codes import ALPHABET, check_character
from registry.db import insert_rows, make_engine, make_session_factory, upgrade
from registry.models import (
    Batch,
    BatchInput,
    Organization,
    Product,
    Record,
    RecordBatch,
)
from registry.records.schema import RECORD_PAYLOAD_TYPE
from registry.services import trace as trace_service

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/registry_bench_trace"
TARGET_P50_MS = 10.0
SEED = 20261121
CLUSTER = 200  # batches per supply cluster
MAX_LEVEL = 20  # processing steps from a harvest, at most
WINDOW = 12  # a processing record draws its inputs from the cluster's newest batches
HARVEST_SHARE = 0.35
CROSS_CLUSTER = 0.03  # share of processing records that also take an earlier cluster's batch
EXTRA_KINDS = ("certificate", "inspection", "storage", "shipping", "receiving", "packing")
ORGS = 40
PRODUCTS = 120


@dataclass(frozen=True)
class Plan:
    batches: int
    records: int
    samples: int  # traces per direction
    pk_calls: int
    chunk: int = 20_000


QUICK = Plan(10_000, 100_000, 150, 300)
FULL = Plan(100_000, 1_000_000, 500, 1_000)


# --- helpers ---------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sample."""
    ordered = sorted(values)
    rank = max(1, round(q / 100 * len(ordered) + 0.5 - 1e-9))
    return ordered[min(rank, len(ordered)) - 1]


def say(message: str) -> None:
    print(f"  … {message}", file=sys.stderr, flush=True)


@contextmanager
def gc_paused() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def batch_code(i: int) -> str:
    """A valid public code (Crockford base32 body, Luhn mod 32 check) for batch ``i``."""
    body = ""
    for _ in range(8):
        body = ALPHABET[i % 32] + body
        i //= 32
    return body + check_character(body)


# --- the graph -------------------------------------------------------------------------------


@dataclass
class Graph:
    levels: list[int] = field(default_factory=list)
    # One per creating record, in log order: (input batches, output batches).
    events: list[tuple[list[int], list[int]]] = field(default_factory=list)
    created_by: list[int] = field(default_factory=list)  # event (= log index) per batch

    @property
    def size(self) -> int:
        return len(self.levels)


def build_graph(batches: int, rng: random.Random) -> Graph:
    graph = Graph()
    clusters: list[list[int]] = []
    while graph.size < batches:
        members: list[int] = []
        target = min(CLUSTER, batches - graph.size)
        while len(members) < target:
            eligible = [m for m in members[-WINDOW:] if graph.levels[m] < MAX_LEVEL]
            if not eligible or rng.random() < HARVEST_SHARE:
                new = graph.size
                graph.levels.append(0)
                graph.created_by.append(len(graph.events))
                graph.events.append(([], [new]))
                members.append(new)
                continue
            inputs = rng.sample(eligible, min(len(eligible), rng.choice((1, 1, 1, 2, 2, 3))))
            if clusters and rng.random() < CROSS_CLUSTER:
                other = [m for m in rng.choice(clusters[-5:]) if graph.levels[m] < MAX_LEVEL]
                if other:
                    inputs.append(rng.choice(other))
            level = max(graph.levels[i] for i in inputs) + 1
            outputs = list(
                range(graph.size, graph.size + min(target - len(members), rng.choice((1, 1, 2, 3))))
            )
            for _ in outputs:
                graph.levels.append(level)
                graph.created_by.append(len(graph.events))
            graph.events.append((inputs, outputs))
            members.extend(outputs)
        clusters.append(members)
    return graph


# --- rows ------------------------------------------------------------------------------------


PAYLOAD = (
    b'{"batches":["00000000-0000-0000-0000-000000000000:LOT"],"kind":"storage",'
    b'"location":"\xe8\xb5\xa4\xe5\xb3\xb0\xe5\xb8\x82\xe5\x86\xb7\xe5\xba\x93 3 \xe5\x8f\xb7",'
    b'"note":"synthetic record for the trace benchmark","org":"00000000-0000-0000-0000-'
    b'000000000000","place":{"lat":"42.29","lon":"119.92","name":"\xe6\x95\x96\xe6\xb1\x89'
    b'\xe6\x97\x97","region":"150430"},"prev":{"00000000-0000-0000-0000-000000000000:LOT":'
    b'"0000000000000000000000000000000000000000000000000000000000000000"},"readings":[{'
    b'"celsius":"4.5","time":"2026-09-20T08:00:00+08:00"},{"celsius":"4.7","time":"2026-'
    b'09-20T12:00:00+08:00"}],"time":"2026-09-20T08:00:00+08:00"}'
)
LEAF = b"x" * 220
SIGNATURES = [{"keyid": "a" * 64, "sig": "b" * 88}]


@dataclass
class Dataset:
    graph: Graph
    org_ids: list[uuid.UUID]
    product_ids: list[uuid.UUID]
    product_org: list[int]
    batch_ids: list[uuid.UUID]
    extra_batch: list[int]  # per extra record (after the creating ones): its batch
    start: datetime

    @property
    def records(self) -> int:
        return len(self.graph.events) + len(self.extra_batch)


def dataset(plan: Plan) -> Dataset:
    rng = random.Random(SEED)
    graph = build_graph(plan.batches, rng)
    extras = max(0, plan.records - len(graph.events))
    return Dataset(
        graph=graph,
        org_ids=[uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(ORGS)],
        product_ids=[uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(PRODUCTS)],
        product_org=[rng.randrange(ORGS) for _ in range(PRODUCTS)],
        batch_ids=[uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(graph.size)],
        extra_batch=[rng.randrange(graph.size) for _ in range(extras)],
        start=datetime(2026, 1, 1, tzinfo=UTC),
    )


def org_rows(data: Dataset) -> Iterator[dict[str, Any]]:
    for i, org_id in enumerate(data.org_ids):
        yield {
            "id": org_id,
            "kind": "cooperative" if i % 2 else "processor",
            "name_zh": f"合作社 {i}",
            "name_en": f"Organization {i}",
            "region_code": "150430",
            "gln": None,
            "jurisdiction": None,
            "approvals_required": 1,
            "created_at": data.start,
        }


def product_rows(data: Dataset) -> Iterator[dict[str, Any]]:
    for i, product_id in enumerate(data.product_ids):
        yield {
            "id": product_id,
            "organization_id": data.org_ids[data.product_org[i]],
            "name_zh": f"产品 {i}",
            "name_en": f"Product {i}",
            "category": "grain",
            "gtin": None,
            "standard_ref": "",
            "created_at": data.start,
        }


def _product_of(data: Dataset, batch: int) -> int:
    return (batch * 7919) % PRODUCTS


def record_rows(data: Dataset) -> Iterator[dict[str, Any]]:
    graph = data.graph
    creating = len(graph.events)
    for index in range(data.records):
        if index < creating:
            inputs, outputs = graph.events[index]
            kind = "processing" if inputs else "harvest"
            batch = outputs[0]
        else:
            batch = data.extra_batch[index - creating]
            kind = EXTRA_KINDS[index % len(EXTRA_KINDS)]
        when = data.start + timedelta(seconds=index * 20)
        yield {
            "log_index": index,
            "digest": hashlib.sha256(index.to_bytes(8, "big")).hexdigest(),
            "kind": kind,
            "payload_type": RECORD_PAYLOAD_TYPE,
            "payload": PAYLOAD,
            "signatures": SIGNATURES,
            "leaf": LEAF,
            "organization_id": data.org_ids[data.product_org[_product_of(data, batch)]],
            "record_time": when,
            "logged_at": when,
            "corrects": None,
        }


def batch_rows(data: Dataset) -> Iterator[dict[str, Any]]:
    graph = data.graph
    for i, batch_id in enumerate(data.batch_ids):
        product = _product_of(data, i)
        yield {
            "id": batch_id,
            "code": batch_code(i),
            "product_id": data.product_ids[product],
            "lot": f"L{i}",
            "quantity": "1000",
            "remaining": "1000",
            "unit": "kg",
            "origin_org_id": data.org_ids[data.product_org[product]],
            "region_code": "150430",
            "lat": None,
            "lon": None,
            "harvest_date": None,
            "best_before": None,
            "created_index": graph.created_by[i],
            "head_digest": "0" * 64,
            "recall_digest": "f" * 64 if i % 97 == 0 else None,
        }


def edge_rows(data: Dataset) -> Iterator[dict[str, Any]]:
    for index, (inputs, outputs) in enumerate(data.graph.events):
        for source in inputs:
            for target in outputs:
                yield {
                    "input_batch_id": data.batch_ids[source],
                    "output_batch_id": data.batch_ids[target],
                    "record_index": index,
                    "quantity": "10",
                }


def record_batch_rows(data: Dataset) -> Iterator[dict[str, Any]]:
    for index, (inputs, outputs) in enumerate(data.graph.events):
        for role, members in (("input", inputs), ("output", outputs)):
            for batch in members:
                yield {
                    "record_index": index,
                    "batch_id": data.batch_ids[batch],
                    "role": role if inputs else "subject",
                    "prev_digest": None,
                }
    creating = len(data.graph.events)
    for offset, batch in enumerate(data.extra_batch):
        yield {
            "record_index": creating + offset,
            "batch_id": data.batch_ids[batch],
            "role": "subject",
            "prev_digest": None,
        }


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
    rows = sum(counts.values())
    return {"rows": counts, "seconds": round(seconds, 1), "rows_per_s": round(rows / seconds)}


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


def machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "sqlite": sqlite3.sqlite_version,
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _row(cells: Sequence[str], widths: Sequence[int]) -> str:
    return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"


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
    lines = [_row(header, widths), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    lines += [_row(r, widths) for r in rows]
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
    data = dataset(plan)
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
