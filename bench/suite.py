"""``registry bench``: the benchmark suite, in one run, on SQLite and PostgreSQL
(docs/performance.md has the method and the measured runs).

(a) Scans (``bench.scan``). ``registry serve`` runs as a subprocess on 127.0.0.1 on a fresh
    database with the demo dataset, with ``REGISTRY_BENCH_HELLO=1`` so that the same app also
    serves ``GET /bench/hello`` (a tiny constant JSON from an ``async def``: the framework's
    own ceiling under this server, worker count and middleware). A real load generator
    (``wrk``, ``-t2 -c64``, ``Accept-Encoding: gzip`` as phones send) drives the hello
    endpoint, ``GET /api/v1/verify/{code}`` and ``GET /e/{code}`` in interleaved rounds; each
    scan endpoint's requests/s is reported as a ratio to hello's (``scan_ratio`` is the JSON
    endpoint's, the worst backend) with its p99. Without ``wrk`` a Python asyncio load
    generator stands in (``bench.load``, reported as such): it saturates before the server
    does, so its ratios overstate the scan path.
(b) Ingestion (``bench.ingest``). The cooperative's clerk registers a client-held key
    (``bench.log_bench``); envelopes (harvests, each followed by chained storage records) are
    signed before the clock starts; the clock covers ``POST /api/v1/records/batch`` (as many
    envelopes per request as fit the server's body limit): parsing, JCS check, Ed25519
    verification, policy, projections, log append, the signed checkpoint and the commit.
(c) Traces. ``bench.trace_bench``'s generated supply chain (full: 100,000 batches /
    1,000,000 records; quick: a tenth of a tenth), ``registry.trace.trace`` p50 in
    both directions, worst backend.
(d) Proofs. ``bench.log_bench``'s synthetic tree (full: 1,000,000 leaves; quick: 100,000),
    inclusion and consistency proof p50 through ``registry.transparency.log``.
(e) Audit (``bench.audit``). ``registry.audit.run_audit`` against the running server after
    the ingestion: a first audit (mirror every entry over HTTP, rebuild the tree, replay every
    record), in records per second.
(f) Memory. The server's resident set (``/proc/<pid>/status`` VmRSS) per worker process,
    after the load; in the full run also on a log of 1,000,000 leaves.

The full run also serves PostgreSQL with ``--workers 2`` (docs/scaling.md). PostgreSQL:
databases named ``registry_bench_*_<pid>`` on ``--postgres-url``'s server, dropped at the end.
``--quick`` is sized to finish within a minute on a 2-core machine.

The top-level JSON keys (``scan_ratio``, ``scan_p99_ms``, ``ingest_per_s``, ``trace_p50_ms``,
``proof_p50_ms``, ``audit_per_s``, ``rss_mb_per_worker`` …) are the ones ``summarize`` makes.
"""

from __future__ import annotations

import json
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from bench import log_bench, phases, proof_bench, trace_data
from bench.databases import Databases
from bench.load import load_generator
from bench.plan import FULL, QUICK, Plan
from bench.progress import say
from bench.report import table
from registry.audit import PARALLEL_MIN_RECORDS

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
BACKENDS = ("sqlite", "postgresql")

TARGETS: dict[str, tuple[str, float]] = {
    # key: (comparison, target) — the product's targets on a 2-core machine
    "scan_ratio": (">=", 0.8),
    "scan_p99_ms": ("<=", 50.0),
    "ingest_per_s": (">=", 2000.0),
    "proof_p50_ms": ("<=", 5.0),
    "trace_p50_ms": ("<=", 10.0),
    "audit_per_s": (">=", 5000.0),
    "rss_mb_per_worker": ("<=", 300.0),
    # the published scan path (bench.published): nginx from files vs. Python, vs. the limit
    "published_scan_ratio": (">=", 8.0),
    "published_vs_static": (">=", 0.8),
    "publish_latency_p99_ms": ("<=", 2000.0),
}

# The speed of the 2-core machine the targets were set on: one core verified about 8,800
# Ed25519 signatures per second with cryptography (OpenSSL), and a FastAPI hello answered
# about 9,200 requests per second from one worker. Shared machines of that kind have run
# 2 to 4.5 times slower on other days (docs/performance.md), which scales every absolute
# rate here with it; the ratios to hello do not move. The two can differ: arithmetic and
# the HTTP stack (system calls, loopback) have slowed down separately.
REFERENCE_VERIFY_PER_S = 8800.0
REFERENCE_HELLO_RPS = 9200.0


def machine_speed() -> float:
    """This machine's single-core speed now: OpenSSL Ed25519 verifications per second."""
    return round(float(log_bench.baseline_verify_per_s(1.0)), 1)


def machine() -> dict[str, Any]:
    """The interpreter, platform, CPUs, SQLite version and load of this run's machine."""
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "sqlite": sqlite3.sqlite_version,
        "loadavg": list(os.getloadavg()),
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _worst(values: Sequence[float], higher_is_better: bool) -> float | None:
    if not values:
        return None  # the phase failed (reported) or did not run
    return float(min(values) if higher_is_better else max(values))


def summarize(results: dict[str, Any]) -> dict[str, Any]:
    """The top-level keys (docs/performance.md): the worst backend for each, and the targets."""
    serving = results["serving"]
    names = list(serving)
    summary: dict[str, Any] = {
        "scan_ratio": _worst([serving[b]["scan"]["verify"]["ratio"] for b in names], True),
        "scan_p99_ms": _worst([serving[b]["scan"]["verify"]["p99_ms"] for b in names], False),
        "scan_rps": _worst([serving[b]["scan"]["verify"]["rps"] for b in names], True),
        "hello_rps": _worst([serving[b]["scan"]["hello"]["rps"] for b in names], True),
        # against a plain Starlette route (the scan path's own kind of route)
        "scan_ratio_raw": _worst([serving[b]["scan"]["verify"]["ratio_raw"] for b in names], True),
        "page_ratio": _worst([serving[b]["scan"]["page"]["ratio"] for b in names], True),
        "page_p99_ms": _worst([serving[b]["scan"]["page"]["p99_ms"] for b in names], False),
        "ingest_per_s": _worst([serving[b]["ingest"]["per_s"] for b in names], True),
        "audit_per_s": _worst([serving[b]["audit"]["per_s"] for b in names], True),
        "rss_mb_per_worker": _worst(
            [serving[b]["memory"]["max_worker_mb"] for b in names]
            + [s["memory"]["max_worker_mb"] for s in results.get("scale", {}).values()],
            False,
        ),
    }
    if "fsma204" in results:  # seconds for one product's year of a large registry, as XLSX
        summary["fsma204_product_year_s"] = results["fsma204"]["one_product"]["total_xlsx_s"]
    if "ingest" in results.get("workers", {}):  # PostgreSQL, one worker per core
        summary["ingest_per_s_workers"] = results["workers"]["ingest"]["per_s"]
    traces = results.get("traces", {})
    if traces:
        summary["trace_p50_ms"] = max(
            max(t["backward"]["p50_ms"], t["forward"]["p50_ms"]) for t in traces.values()
        )
    proofs = results.get("proofs", {})
    if proofs:
        summary["proof_p50_ms"] = max(p["inclusion"]["p50_ms"] for p in proofs.values())
        summary["consistency_p50_ms"] = max(p["consistency"]["p50_ms"] for p in proofs.values())
        summary["proof_leaves"] = next(iter(proofs.values()))["leaves"]
    summary.update(_published_summary(results))
    summary = {k: v for k, v in summary.items() if v is not None}
    met = {}
    for key, (op, target) in TARGETS.items():
        if key in summary:
            value = summary[key]
            met[key] = value >= target if op == ">=" else value <= target
    summary["targets"] = {k: f"{op} {t:g}" for k, (op, t) in TARGETS.items()}
    summary["met"] = met
    return summary


def _published_summary(results: dict[str, Any]) -> dict[str, Any]:
    """The published scan path's keys (bench.published), the worst backend for each."""
    published = results.get("published", {})
    scale = results.get("publish_scale", {})
    out: dict[str, Any] = {}
    if published:
        values = list(published.values())
        out["published_scan_ratio"] = min(p["published_scan_ratio"] for p in values)
        out["published_vs_static"] = min(p["published_vs_static"] for p in values)
        out["published_scan_rps"] = min(p["published"]["rps"] for p in values)
        out["publish_latency_p50_ms"] = max(p["latency"]["p50_ms"] for p in values)
        out["publish_latency_p99_ms"] = max(p["latency"]["p99_ms"] for p in values)
    if scale:
        out["publish_ms_per_record"] = max(p["publish_ms_per_record"] for p in scale.values())
        out["publish_leaves"] = next(iter(scale.values()))["leaves"]
    return out


class _Phases:
    """Runs measurements so that a failed one is reported and the others still run."""

    def __init__(self) -> None:
        self.errors: dict[str, str] = {}

    def keep(
        self, name: str, section: dict[str, Any], key: str, measure: Callable[[], Any]
    ) -> None:
        """Run measurement ``name`` and store its result as ``section[key]``, unless it failed."""
        try:
            value = measure()
        except Exception as exc:  # a broken phase must not lose minutes of other results
            self.errors[name] = f"{type(exc).__name__}: {exc}"
            say(f"{name} FAILED: {self.errors[name]}")
            traceback.print_exc(file=sys.stderr)
            return
        if value is not None:
            section[key] = value


def _measure(
    plan: Plan,
    backends: Sequence[str],
    workers: int,
    results: dict[str, Any],
    dbs: Databases,
    workdir: Path,
    only: str = "",
) -> dict[str, str]:
    """Every phase of the plan, in order; the failed phases' errors by name."""
    run = _Phases()
    if only == "published":  # the published scan path alone (bench.published)
        _measure_published(run, plan, backends, workers, results, dbs, workdir)
        return run.errors
    for backend in backends:
        run.keep(
            f"serving/{backend}",
            results["serving"],
            backend,
            partial(phases.run_serving, backend, plan, dbs, workdir, workers),
        )
    if plan.workers_run and "postgresql" in backends:
        run.keep("workers", results, "workers", lambda: phases.run_workers(plan, dbs, workdir))
    data = trace_data.dataset(plan.trace_batches, plan.trace_records)
    for backend in backends:
        run.keep(
            f"traces/{backend}",
            results["traces"],
            backend,
            partial(phases.run_traces, backend, plan, dbs, workdir, data),
        )
    say(f"computing a {plan.proof_leaves:,}-leaf tree")
    tree = proof_bench.compute_proof_tree(plan.proof_leaves, 50_000)
    for backend in backends:
        run.keep(
            f"proofs/{backend}",
            results["proofs"],
            backend,
            partial(phases.run_proofs, backend, plan, dbs, tree),
        )
    if plan.fsma_records and "sqlite" in backends:
        from bench import fsma_bench  # the FSMA 204 sheet of one year (docs/performance.md)

        run.keep(
            "fsma204",
            results,
            "fsma204",
            lambda: fsma_bench.run(plan.fsma_records, workdir / "fsma"),
        )
    if plan.scale_run:
        for backend in backends:
            run.keep(
                f"scale/{backend}",
                results["scale"],
                backend,
                partial(phases.run_scale, backend, plan, dbs, workdir, tree),
            )
    _measure_published(run, plan, backends, workers, results, dbs, workdir, tree)
    return run.errors


def _measure_published(
    run: _Phases,
    plan: Plan,
    backends: Sequence[str],
    workers: int,
    results: dict[str, Any],
    dbs: Databases,
    workdir: Path,
    tree: proof_bench.ProofTree | None = None,
) -> None:
    """The published scan path side by side, its latency, and its cost at scale."""
    from bench import nginx, published

    if not nginx.available():
        run.errors["published"] = "nginx is not installed (scripts/setup-tests.sh)"
        return
    results.setdefault("published", {})
    results.setdefault("publish_scale", {})
    for backend in backends:
        run.keep(
            f"published/{backend}",
            results["published"],
            backend,
            partial(published.run_published, backend, plan, dbs, workdir, workers),
        )
    if tree is None:
        say(f"computing a {plan.proof_leaves:,}-leaf tree")
        tree = proof_bench.compute_proof_tree(plan.proof_leaves, 50_000)
    for backend in backends:
        run.keep(
            f"publish_scale/{backend}",
            results["publish_scale"],
            backend,
            partial(published.run_publish_scale, backend, plan, dbs, workdir, tree),
        )


def _print_report(
    results: dict[str, Any], summary: dict[str, Any], plan: Plan, elapsed: float, workers: int
) -> None:
    """The headline (run, machine speed), the table and the quick run's caveat, on stdout."""
    quick = results["quick"]
    speeds = results["machine"]["verify_per_s"]
    hello = summary.get("hello_rps")
    mode = "quick" if quick else "full"
    print(
        f"registry bench ({mode}, {elapsed:.0f} s; {results['machine']['cpus']} CPUs, "
        f"load average {results['machine']['loadavg'][0]:.1f} before / {os.getloadavg()[0]:.1f} "
        f"after; {results['load_generator']} -t2 -c{plan.connections}, {plan.scan_seconds:g} s "
        f"× {plan.scan_rounds} rounds; {workers} worker)"
    )
    print(
        f"machine speed: {speeds[0]:,.0f} / {speeds[1]:,.0f} Ed25519 verifications/s on one core "
        f"(before / after), {results['machine']['speed_vs_reference']:g}× the "
        f"{REFERENCE_VERIFY_PER_S:,.0f}/s of the machine the targets were set on"
        + (
            f"; hello {hello:,.0f} req/s, {results['machine']['hello_vs_reference']:g}× its "
            f"{REFERENCE_HELLO_RPS:,.0f}"
            if hello is not None
            else ""
        )
    )
    if results.get("published") or results.get("publish_scale"):
        from bench.published import report

        print(report(results, summary))
    if results["serving"]:
        print(table(results, summary))
        if quick:
            print(
                f"(a quick run is a smoke test: {plan.scan_seconds:g} s load rounds; an audit "
                f"of {plan.ingest_records:,} records, which checks signatures in parallel only "
                f"from {PARALLEL_MIN_RECORDS:,}; {plan.trace_records:,} trace records and "
                f"{plan.proof_leaves:,} proof leaves; judge the targets by a full run)"
            )


def run(
    *,
    quick: bool,
    json_path: Path | None,
    backends: Sequence[str] = BACKENDS,
    postgres_url: str = POSTGRES_URL,
    workers: int = 1,
    only: str = "",
) -> int:
    """Run the suite; print the table (stdout) and progress (stderr); return an exit code."""
    plan = QUICK if quick else FULL
    started = time.perf_counter()
    results: dict[str, Any] = {
        "quick": quick,
        "machine": {**machine(), "verify_per_s": [machine_speed()]},
        "load_generator": load_generator(),
    }
    results["serving"], results["traces"], results["proofs"], results["scale"] = {}, {}, {}, {}
    with tempfile.TemporaryDirectory(prefix="registry-bench-") as tmp:
        workdir = Path(tmp)
        dbs = Databases(workdir, postgres_url)
        try:
            errors = _measure(plan, backends, workers, results, dbs, workdir, only)
        finally:
            dbs.drop_all()
    elapsed = time.perf_counter() - started
    summary = summarize(results)
    results["machine"]["loadavg_after"] = list(os.getloadavg())
    speeds = results["machine"]["verify_per_s"]
    speeds.append(machine_speed())
    results["machine"]["speed_vs_reference"] = round(
        statistics.median(speeds) / REFERENCE_VERIFY_PER_S, 2
    )
    hello = summary.get("hello_rps")
    if hello is not None:
        results["machine"]["hello_vs_reference"] = round(hello / REFERENCE_HELLO_RPS, 2)
    _print_report(results, summary, plan, elapsed, workers)
    if errors:
        print("FAILED phases: " + "; ".join(f"{k}: {v}" for k, v in errors.items()))
    data = {**summary, "seconds": round(elapsed, 1), "errors": errors, **results}
    if json_path is not None:
        json_path.write_text(json.dumps(data, indent=2, default=str) + "\n")
    return 1 if errors else 0
