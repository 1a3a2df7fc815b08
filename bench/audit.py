"""The audit benchmark: a first ``registry audit`` of a served log (mirror every entry over
HTTP, rebuild the tree, replay every record), in records per second (docs/audit.md)."""

from __future__ import annotations

import contextlib
import io
import time
from pathlib import Path
from typing import Any

import httpx

from registry.audit import run_audit


def bench_audit(base: str, state: Path) -> dict[str, Any]:
    """A first audit of the whole log over HTTP (``registry audit URL``), timed."""
    size = int(httpx.get(f"{base}/log/checkpoint", timeout=30).text.splitlines()[1])
    captured = io.StringIO()
    started = time.perf_counter()
    with contextlib.redirect_stdout(captured), contextlib.redirect_stderr(captured):
        code = run_audit(base, state, vkey=None, witnesses=[], quiet=True)
    elapsed = time.perf_counter() - started
    if code != 0:
        raise RuntimeError(f"the audit failed ({code}): {captured.getvalue()[-1000:]}")
    return {"records": size, "seconds": round(elapsed, 3), "per_s": round(size / elapsed, 1)}
