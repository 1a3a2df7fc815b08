"""The scan benchmark: the hello baselines, ``GET /api/v1/verify/{code}`` and the consumer
page ``GET /E/{code}``, interleaved; each scan endpoint as a ratio to hello."""

from __future__ import annotations

import statistics
from typing import Any

import httpx

from bench.load import drive
from bench.plan import Plan
from bench.servers import Server


def bench_scans(server: Server, code: str, plan: Plan) -> dict[str, Any]:
    """hello, verify and page, interleaved ``scan_rounds`` times; medians; ratios to hello."""
    targets = {
        "hello": f"{server.base}/bench/hello",
        "verify": f"{server.base}/api/v1/verify/{code}",
        "page": f"{server.base}/E/{code}",  # as the stream QR spells it
        "hello_raw": f"{server.base}/bench/hello-raw",
    }
    for url in targets.values():
        response = httpx.get(url, headers={"Accept-Encoding": "gzip"}, timeout=30)
        assert response.status_code == 200, f"{url}: {response.status_code}"
        # Warm every worker (each builds its own entry and page on its first request): a
        # short untimed run over as many connections as the measured ones.
        drive(url, 1.0, plan.connections)
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in targets}
    for _ in range(plan.scan_rounds):
        for name, url in targets.items():
            result = drive(url, plan.scan_seconds, plan.connections)
            if result["non_2xx"]:
                raise RuntimeError(f"{name}: error responses under load: {result}")
            runs[name].append(result)

    def median(name: str, key: str) -> float:
        return round(float(statistics.median(r[key] for r in runs[name] if key in r)), 3)

    out: dict[str, Any] = {"runs": runs}
    for name in targets:
        out[name] = {"rps": median(name, "rps"), "p50_ms": median(name, "p50_ms")}
        out[name]["p99_ms"] = median(name, "p99_ms")
    hello, raw = out["hello"]["rps"], out["hello_raw"]["rps"]
    for name in ("verify", "page"):
        out[name]["ratio"] = round(out[name]["rps"] / hello, 3)
        out[name]["ratio_raw"] = round(out[name]["rps"] / raw, 3)
    return out
