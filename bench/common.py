"""Measuring helpers the stand-alone benchmarks share: percentiles, latency summaries,
a pause of the garbage collector around timed loops, the machine and Markdown rows."""

from __future__ import annotations

import gc
import os
import platform
import sqlite3
import statistics
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sample."""
    ordered = sorted(values)
    rank = max(1, round(q / 100 * len(ordered) + 0.5 - 1e-9))
    return ordered[min(rank, len(ordered)) - 1]


def latency_ms(samples_s: Sequence[float]) -> dict[str, float]:
    """p50, p99 and mean in milliseconds of timings in seconds, and their count."""
    ms = [s * 1000 for s in samples_s]
    return {
        "p50_ms": round(percentile(ms, 50), 4),
        "p99_ms": round(percentile(ms, 99), 4),
        "mean_ms": round(statistics.fmean(ms), 4),
        "n": len(ms),
    }


@contextmanager
def gc_paused() -> Iterator[None]:
    """Collect once, then keep the garbage collector off while the block is timed."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def machine() -> dict[str, Any]:
    """The interpreter, platform, CPUs and SQLite version of this run, and when it ran."""
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "sqlite": sqlite3.sqlite_version,
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def table_row(cells: Sequence[str], widths: Sequence[int]) -> str:
    """One Markdown table row, each cell padded to its column's width."""
    return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"
