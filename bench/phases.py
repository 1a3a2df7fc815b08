"""The phases of ``registry bench`` for one backend: serving (scans, ingestion, audit,
memory), several workers on PostgreSQL, a large log, proofs and traces."""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bench import log_bench, proof_bench, trace_bench, trace_data
from bench.audit import bench_audit
from bench.databases import Databases
from bench.ingest import bench_ingest
from bench.load import load_generator
from bench.plan import Plan
from bench.progress import say
from bench.scan import bench_scans
from bench.servers import Server
from registry.accounts.accounts import issue_token
from registry.db import make_engine, transaction
from registry.models import Endorsement
from registry.status import Status, endorsement_status


@dataclass
class Prepared:
    url: str
    env: dict[str, str]
    token: str
    code: str  # a valid endorsement's code
    envelopes: list[dict[str, Any]] = field(default_factory=list)


def prepare(url: str, data_dir: Path, records: int) -> Prepared:
    """The demo, a client key for the clerk (log_bench), an API token, signed envelopes."""
    engine, ingest = log_bench.prepare_registry(url, data_dir)
    try:
        with transaction(ingest.factory) as session:
            _, token = issue_token(session, ingest.account, "bench")
            now = ingest.ctx.clock()
            code = next(
                e.code
                for e in session.scalars(select(Endorsement).order_by(Endorsement.record_index))
                if e.revocation_index is None
                and endorsement_status(
                    now, e.valid_from, e.valid_until, revoked=False, recalled=False
                )
                is Status.VALID
            )
        envelopes = [e.to_json() for e in log_bench.signed_records(ingest, records)]
    finally:
        engine.dispose()
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    env.update(
        REGISTRY_DATABASE_URL=url,
        REGISTRY_DATA_DIR=str(data_dir),
        REGISTRY_MASTER_KEY=ingest.ctx.settings.master_key,
    )
    return Prepared(url, env, token, code, envelopes)


def run_serving(
    backend: str, plan: Plan, dbs: Databases, workdir: Path, workers: int
) -> dict[str, Any]:
    say(f"{backend}: demo dataset, client key, {plan.ingest_records:,} signed envelopes")
    url = dbs.fresh(backend, "scan")
    prepared = prepare(url, workdir / f"data-{backend}", plan.ingest_records)
    out: dict[str, Any] = {"workers": workers}
    with Server(prepared.env, workers, workdir / f"serve-{backend}.log") as server:
        say(f"{backend}: scans ({load_generator()}, {plan.connections} connections)")
        out["scan"] = bench_scans(server, prepared.code, plan)
        out["memory_after_scans"] = server.memory()
        say(f"{backend}: ingesting through POST /api/v1/records/batch")
        out["ingest"] = bench_ingest(
            server.base,
            prepared.token,
            prepared.envelopes,
            plan.ingest_budget_s,
            log_bench.STORAGE_PER_LOT + 1,
        )
        say(f"{backend}: auditing {server.base}")
        out["audit"] = bench_audit(server.base, workdir / f"audit-{backend}")
        out["memory"] = server.memory()
    return out


def run_workers(plan: Plan, dbs: Databases, workdir: Path) -> dict[str, Any]:
    """PostgreSQL with ``plan.workers_run`` workers: scans, bulk ingestion (each worker
    verifies one client's batch while the other appends) and memory (scaling.md)."""
    say(f"postgresql: registry serve --workers {plan.workers_run}")
    url = dbs.fresh("postgresql", "workers")
    prepared = prepare(url, workdir / "data-workers", plan.ingest_records)
    with Server(prepared.env, plan.workers_run, workdir / "serve-workers.log") as server:
        scan = bench_scans(server, prepared.code, plan)
        ingest = bench_ingest(
            server.base,
            prepared.token,
            prepared.envelopes,
            plan.ingest_budget_s,
            log_bench.STORAGE_PER_LOT + 1,
            streams=plan.workers_run,
        )
        return {
            "workers": plan.workers_run,
            "scan": scan,
            "ingest": ingest,
            "memory": server.memory(),
        }


def run_scale(
    backend: str, plan: Plan, dbs: Databases, workdir: Path, tree: proof_bench.ProofTree
) -> dict[str, Any]:
    """Serve a log of ``tree.size`` synthetic leaves plus the demo: scans, ingestion, memory."""
    say(f"{backend}: serving a log of {tree.size:,} leaves")
    url = dbs.fresh(backend, "scale")
    engine = make_engine(url)
    try:
        proof_bench.load_proof_tree(engine, tree, 50_000)
    finally:
        engine.dispose()
    records = min(plan.ingest_records, 5_000)
    prepared = prepare(url, workdir / f"data-scale-{backend}", records)
    with Server(prepared.env, 1, workdir / f"serve-scale-{backend}.log") as server:
        scan_plan = Plan(**{**plan.__dict__, "scan_rounds": 1})
        scan = bench_scans(server, prepared.code, scan_plan)
        ingest = bench_ingest(
            server.base,
            prepared.token,
            prepared.envelopes,
            plan.ingest_budget_s,
            log_bench.STORAGE_PER_LOT + 1,
        )
        return {"leaves": tree.size, "scan": scan, "ingest": ingest, "memory": server.memory()}


def run_proofs(
    backend: str, plan: Plan, dbs: Databases, tree: proof_bench.ProofTree
) -> dict[str, Any]:
    say(f"{backend}: proofs at {tree.size:,} leaves")
    url = dbs.fresh(backend, "proofs")
    engine = make_engine(url)
    try:
        load = proof_bench.load_proof_tree(engine, tree, 50_000)
        proofs = proof_bench.bench_proofs(
            engine, tree.size, plan.proof_calls, plan.proof_budget_s, plan.proof_calls
        )
    finally:
        engine.dispose()
    return {"load": load, **proofs}


def run_traces(
    backend: str, plan: Plan, dbs: Databases, workdir: Path, data: trace_data.Dataset
) -> dict[str, Any]:
    say(f"{backend}: traces at {plan.trace_batches:,} batches / {plan.trace_records:,} records")
    trace_plan = trace_bench.Plan(
        plan.trace_batches, plan.trace_records, plan.trace_samples, plan.trace_samples
    )
    url = dbs.url(backend, "trace")
    if backend == "postgresql":
        dbs.created.append(url)  # trace_bench creates it; dropped with the others
    with contextlib.redirect_stdout(sys.stderr):
        return dict(trace_bench.run_backend(backend, trace_plan, data, workdir, url))
