"""How much ``registry bench`` does in each phase: the quick plan (a smoke test within a
minute on 2 cores) and the full plan the targets are judged by (docs/performance.md)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Plan:
    """How much each phase does."""

    scan_seconds: float  # per load-generator run
    scan_rounds: int  # hello / verify / page, interleaved; medians over rounds
    ingest_records: int
    ingest_budget_s: float
    trace_batches: int
    trace_records: int
    trace_samples: int
    proof_leaves: int
    proof_calls: int
    proof_budget_s: float
    workers_run: int = 0  # 0: no multi-worker run; else PostgreSQL with this many workers
    scale_run: bool = False  # serve a 1,000,000-leaf log and measure its memory
    connections: int = 64
    fsma_records: int = 20_000  # the FSMA 204 sheet of one year of a registry this large


QUICK = Plan(
    scan_seconds=2.0,
    scan_rounds=1,
    ingest_records=3_000,
    ingest_budget_s=4.0,
    trace_batches=2_000,
    trace_records=20_000,
    trace_samples=60,
    proof_leaves=100_000,
    proof_calls=200,
    proof_budget_s=0.5,
)
FULL = Plan(
    scan_seconds=10.0,
    scan_rounds=3,
    ingest_records=20_000,
    ingest_budget_s=60.0,
    trace_batches=100_000,
    trace_records=1_000_000,
    trace_samples=500,
    proof_leaves=1_000_000,
    proof_calls=3_000,
    proof_budget_s=10.0,
    workers_run=2,
    scale_run=True,
    fsma_records=1_000_000,
)
