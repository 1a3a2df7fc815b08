"""Log benchmarks: appends per second with signature verification, proofs at 1M leaves.

    python -m bench.log_bench [--quick] [--json FILE] [--backends sqlite,postgresql]

(a) Appends: the demo dataset is loaded (organizations, accounts, custodial keys, products),
    the Aohan cooperative's clerk registers a client-held key, and that key signs harvest
    records (new lots of the cooperative's millet) each followed by storage records chained
    on the lot. The envelopes are signed before the clock starts, as a client would; the
    clock covers ``registry.records.ingest.submit_many`` (parse, JCS check, Ed25519 verify,
    policy, projections, leaf, log nodes, signed checkpoint) and the commit, in batches of
    several sizes.
(b) Proofs (``bench.proof_bench``): ``log_nodes`` for 1,000,000 synthetic leaves is
    written with bulk Core inserts from ``registry.log.merkle.append_many`` over an
    in-memory store (proofs need nothing else), and
    ``registry.transparency.log.inclusion_proof`` / ``consistency_proof`` are timed against that
    tree on one open session: p50 / p99 over random leaves and old sizes.
(c) Baselines from the same run, so that the numbers read as ratios on a noisy machine: an
    Ed25519 verify loop (what bounds ingestion) and a primary-key select through the same
    session (what a proof is two of).

PostgreSQL: database ``registry_bench`` on 127.0.0.1:5432 (user postgres, trust), dropped
and created afresh (``--postgres-url`` to point elsewhere). SQLite: a file in a temp dir.
Every phase has a record-count and a time budget; ``--quick`` finishes in well under a minute.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import random
import secrets
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from bench.common import latency_ms, machine, table_row
from bench.progress import say
from bench.proof_bench import ProofTree, bench_proofs, compute_proof_tree, load_proof_tree
from registry.clock import CHINA_TZ
from registry.context import RegistryContext
from registry.crypto.dsse import Envelope, sign_envelope
from registry.crypto.jcs import canonicalize
from registry.crypto.keys import Signer
from registry.db import make_engine, make_session_factory, transaction, upgrade
from registry.demo import demo_id, load_demo
from registry.models import Account, Base, LogState, Record
from registry.operations.bootstrap import bootstrap
from registry.records import ingest as record_ingest
from registry.records import keys as key_service
from registry.records.schema import RECORD_PAYLOAD_TYPE
from registry.settings import Settings

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/registry_bench"
PROOF_LEAVES = 1_000_000
PROOF_TARGET_MS = 5.0
CLERK = "aohan-clerk"
STORAGE_PER_LOT = 49  # each lot: one harvest, then this many storage records


@dataclass(frozen=True)
class Plan:
    """How much each phase does; each also stops at its time budget."""

    append_batches: tuple[tuple[int, int], ...]  # (batch size, records)
    append_budget_s: float
    proof_calls: int
    proof_budget_s: float
    pk_calls: int
    insert_chunk: int = 50_000
    scale_appends: int = 0  # records appended (batch 100) on top of the 1M-leaf log


QUICK = Plan(((1, 50), (100, 500)), 5.0, 300, 1.5, 500)
FULL = Plan(
    ((1, 500), (10, 2_000), (100, 10_000), (1_000, 10_000)),
    60.0,
    3_000,
    20.0,
    5_000,
    scale_appends=2_000,
)


# --- databases ---------------------------------------------------------------------------------


def fresh_postgres(url: str) -> None:
    parsed = make_url(url)
    admin = make_engine(
        parsed.set(database="postgres").render_as_string(hide_password=False),
        isolation_level="AUTOCOMMIT",
        poolclass=None,
    )
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()


def fresh_database(backend: str, workdir: Path, name: str, postgres_url: str) -> str:
    """A migrated, empty database; returns its URL."""
    if backend == "sqlite":
        path = workdir / f"{name}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        url = f"sqlite:///{path}"
    else:
        url = postgres_url
        fresh_postgres(url)
    upgrade(url)
    return url


def empty_tables(engine: Engine) -> None:
    tables = list(reversed(Base.metadata.sorted_tables))
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in tables)
            connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                connection.execute(table.delete())


# --- (a) appends -------------------------------------------------------------------------------


@dataclass
class Ingest:
    factory: sessionmaker[Session]
    ctx: RegistryContext
    account: Account
    signer: Signer
    product_id: str
    lots_made: int = 0


def prepare_registry(url: str, data_dir: Path) -> tuple[Engine, Ingest]:
    """Bootstrap, load the demo and register a client-held key for the cooperative clerk."""
    engine = make_engine(url)
    factory = make_session_factory(engine)
    settings = Settings(
        data_dir=data_dir,
        database_url=url,
        master_key=base64.b64encode(secrets.token_bytes(32)).decode(),
    )
    ctx = bootstrap(factory, settings)
    load_demo(factory, ctx)
    signer = Signer.generate()
    with transaction(factory) as session:
        account = session.scalars(select(Account).where(Account.username == CLERK)).one()
        payload = key_service.registration_draft(session, ctx, account, signer.public_key_raw)
        envelope = sign_envelope(RECORD_PAYLOAD_TYPE, payload, [signer])
        key_service.register_client_key(session, ctx, account, envelope)
    return engine, Ingest(factory, ctx, account, signer, str(demo_id("product:millet")))


def signed_records(ingest: Ingest, count: int) -> list[Envelope]:
    """``count`` envelopes: per lot, a harvest then STORAGE_PER_LOT chained storage records."""
    envelopes: list[Envelope] = []
    org = str(ingest.account.organization_id)
    moment = datetime.now(UTC) - timedelta(days=1)
    head = ""
    ref = ""
    for i in range(count):
        at = (moment + timedelta(seconds=i)).astimezone(CHINA_TZ).isoformat(timespec="seconds")
        position = i % (STORAGE_PER_LOT + 1)
        if position == 0:
            ingest.lots_made += 1
            ref = f"{ingest.product_id}:BENCH-{ingest.lots_made:06d}"
            document: dict[str, Any] = {
                "kind": "harvest",
                "time": at,
                "org": org,
                "batches": [ref],
                "prev": {ref: None},
                "quantity": "1200",
                "unit": "kg",
                "harvest_date": at[:10],
                "place": {"region": "150430", "lat": "42.29", "lon": "119.92"},
            }
        else:
            document = {
                "kind": "storage",
                "time": at,
                "org": org,
                "batches": [ref],
                "prev": {ref: head},
                "location": f"敖汉旗 3 号粮仓 Granary 3, bay {position}",
                "readings": [{"time": at, "celsius": f"{i % 7}.5", "humidity": "61.0"}],
            }
        payload = canonicalize(document)
        envelopes.append(sign_envelope(RECORD_PAYLOAD_TYPE, payload, [ingest.signer]))
        head = hashlib.sha256(payload).hexdigest()
    return envelopes


def bench_appends(ingest: Ingest, batch: int, records: int, budget_s: float) -> dict[str, Any]:
    """Append ``records`` signed envelopes ``batch`` at a time; one transaction per batch."""
    envelopes = signed_records(ingest, records)
    done = 0
    started = time.perf_counter()
    while done < len(envelopes):
        chunk = envelopes[done : done + batch]
        with transaction(ingest.factory) as session:
            record_ingest.submit_many(session, ingest.ctx, chunk, ingest.account)
        done += len(chunk)
        if time.perf_counter() - started > budget_s:
            break
    elapsed = time.perf_counter() - started
    if done < len(envelopes):
        # The chains of the unsent tail are abandoned; later runs start new lots.
        say(f"batch {batch}: time budget reached after {done} records")
    return {"batch": batch, "records": done, "seconds": round(elapsed, 3), "per_s": done / elapsed}


def baseline_verify_per_s(seconds: float = 0.5) -> float:
    """Ed25519 verifications per second on one core (cryptography), the ingest bound."""
    key = Ed25519PrivateKey.generate()
    public = key.public_key()
    message = os.urandom(600)
    signature = key.sign(message)
    count = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        for _ in range(100):
            public.verify(signature, message)
        count += 100
    return count / (time.perf_counter() - started)


def baseline_record_select(factory: sessionmaker[Session], calls: int) -> dict[str, float]:
    """Primary-key select of one record's leaf through an open session (Core)."""
    with factory() as session:
        size = int(session.execute(select(LogState.size)).scalar_one())
        samples = []
        for _ in range(calls):
            index = random.randrange(size)
            started = time.perf_counter()
            session.execute(select(Record.leaf).where(Record.log_index == index)).scalar_one()
            samples.append(time.perf_counter() - started)
    return latency_ms(samples)


# --- the run -----------------------------------------------------------------------------------


@dataclass
class Results:
    quick: bool
    machine: dict[str, Any]
    baseline: dict[str, Any] = field(default_factory=dict)
    backends: dict[str, dict[str, Any]] = field(default_factory=dict)


def run_backend(
    backend: str, plan: Plan, workdir: Path, postgres_url: str, tree: Callable[[], ProofTree]
) -> dict[str, Any]:
    out: dict[str, Any] = {"phase_seconds": {}}
    clock = time.perf_counter()

    def phase(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        out["phase_seconds"][name] = round(now - clock, 2)
        clock = now

    say(f"{backend}: loading the demo and a client key")
    url = fresh_database(backend, workdir, "ingest", postgres_url)
    engine, ingest = prepare_registry(url, workdir / f"data-{backend}")
    phase("setup")
    out["appends"] = []
    for batch, records in plan.append_batches:
        say(f"{backend}: appending {records} records in batches of {batch}")
        out["appends"].append(bench_appends(ingest, batch, records, plan.append_budget_s))
    out["record_select"] = baseline_record_select(ingest.factory, plan.pk_calls)
    engine.dispose()
    phase("appends")

    proof_tree = tree()
    phase("compute_tree")
    say(f"{backend}: bulk-loading log_nodes for {PROOF_LEAVES:,} leaves")
    engine = make_engine(url)
    empty_tables(engine)  # the same fresh database, emptied: quicker than another one
    out["build"] = load_proof_tree(engine, proof_tree, plan.insert_chunk)
    phase("load_tree")
    say(f"{backend}: timing proofs")
    out["proofs"] = bench_proofs(
        engine, PROOF_LEAVES, plan.proof_calls, plan.proof_budget_s, plan.pk_calls
    )
    engine.dispose()
    phase("proofs")
    if plan.scale_appends:
        # Appends where the log is large: bootstrap appends the genesis record at index
        # 1,000,000 of the synthetic tree, then the demo and the signed records follow it.
        say(f"{backend}: appending {plan.scale_appends} records after {PROOF_LEAVES:,} leaves")
        engine, ingest = prepare_registry(url, workdir / f"data-{backend}-scale")
        out["appends_at_1m"] = bench_appends(ingest, 100, plan.scale_appends, plan.append_budget_s)
        engine.dispose()
        phase("appends_at_1m")
    return out


def table(results: Results) -> str:
    names = list(results.backends)
    rows: list[list[str]] = []
    verify = results.baseline["ed25519_verify_per_s"]
    batches = [a["batch"] for a in results.backends[names[0]]["appends"]]
    for position, batch in enumerate(batches):
        cells = [f"appends/s, batch {batch} (× verify/s)"]
        for name in names:
            run = results.backends[name]["appends"][position]
            cells.append(f"{run['per_s']:,.0f} ({run['per_s'] / verify:.2f}×, n={run['records']})")
        rows.append(cells)
    if all("appends_at_1m" in b for b in results.backends.values()):
        cells = ["appends/s, batch 100, log at 1M leaves"]
        for b in results.backends.values():
            run = b["appends_at_1m"]
            cells.append(f"{run['per_s']:,.0f} ({run['per_s'] / verify:.2f}×, n={run['records']})")
        rows.append(cells)
    rows.append(
        ["baseline: Ed25519 verify/s, 1 core", *[f"{verify:,.0f}" for _ in names]],
    )
    rows.append(
        [
            "baseline: record PK select p50 / p99",
            *[
                f"{b['record_select']['p50_ms']:.3f} / {b['record_select']['p99_ms']:.3f} ms"
                for b in results.backends.values()
            ],
        ]
    )
    rows.append(
        [
            f"bulk-load log_nodes, {PROOF_LEAVES:,} leaves",
            *[
                f"{b['build']['seconds']:.1f} s ({b['build']['rows_per_s']:,.0f} rows/s)"
                for b in results.backends.values()
            ],
        ]
    )
    labels = {
        "inclusion": "inclusion proof p50 / p99 @1M",
        "consistency": "consistency proof p50 / p99 @1M",
        "inclusion_points_reader": "inclusion, OR-of-points reader (not shipped)",
        "pk_select": "baseline: log_nodes PK select p50 / p99",
    }
    for what, label in labels.items():
        cells = [label]
        for b in results.backends.values():
            p = b["proofs"]
            ratio = p[what]["p50_ms"] / p["pk_select"]["p50_ms"]
            suffix = "" if what == "pk_select" else f" ({ratio:.1f}× PK)"
            cells.append(f"{p[what]['p50_ms']:.3f} / {p[what]['p99_ms']:.3f} ms{suffix}")
        rows.append(cells)
    header = ["what", *names]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [table_row(header, widths), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    lines += [table_row(r, widths) for r in rows]
    return "\n".join(lines)


def summary(results: Results) -> dict[str, Any]:
    """Top-level keys shared with ``registry bench`` (docs/performance.md) plus everything else."""
    first = next(iter(results.backends.values()))
    best = max(first["appends"], key=lambda a: a["per_s"])
    proof_p50 = max(b["proofs"]["inclusion"]["p50_ms"] for b in results.backends.values())
    proof_p99 = max(b["proofs"]["inclusion"]["p99_ms"] for b in results.backends.values())
    return {
        "ingest_per_s": round(best["per_s"], 1),
        "ingest_batch": best["batch"],
        "proof_p50_ms": proof_p50,
        "proof_p99_ms": proof_p99,
        "proof_target_ms": PROOF_TARGET_MS,
        "proof_within_target": proof_p99 <= PROOF_TARGET_MS,
        "quick": results.quick,
        "machine": results.machine,
        "baseline": results.baseline,
        "backends": results.backends,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small counts, < 60 s")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--postgres-url", default=POSTGRES_URL)
    args = parser.parse_args(argv)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if not backends or any(b not in {"sqlite", "postgresql"} for b in backends):
        parser.error("--backends takes sqlite and/or postgresql")
    plan = QUICK if args.quick else FULL

    started = time.perf_counter()
    results = Results(quick=args.quick, machine=machine())
    results.baseline["ed25519_verify_per_s"] = round(baseline_verify_per_s(), 1)
    computed: list[ProofTree] = []

    def tree() -> ProofTree:
        # Computed once, when the first backend needs it, and shared by the others.
        if not computed:
            say(f"computing the {PROOF_LEAVES:,}-leaf tree with merkle.append_many")
            computed.append(compute_proof_tree(PROOF_LEAVES, plan.insert_chunk))
            results.baseline["append_many_leaves_per_s"] = round(
                PROOF_LEAVES / computed[0].seconds, 1
            )
        return computed[0]

    with tempfile.TemporaryDirectory(prefix="log-bench-") as tmp:
        for backend in backends:
            results.backends[backend] = run_backend(
                backend, plan, Path(tmp), args.postgres_url, tree
            )
    elapsed = time.perf_counter() - started

    mode = "quick" if args.quick else "full"
    print(f"Log benchmarks ({mode}, {elapsed:.0f} s; {results.machine['cpus']} CPUs, ", end="")
    print(f"Python {results.machine['python']}, SQLite {results.machine['sqlite']})")
    print(table(results))
    data = summary(results)
    data["seconds"] = round(elapsed, 1)
    verdict = "within" if data["proof_within_target"] else "OVER"
    print(f"proof p99 {data['proof_p99_ms']:.3f} ms: {verdict} the {PROOF_TARGET_MS} ms target")
    if args.json:
        Path(args.json).write_text(json.dumps(data, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
