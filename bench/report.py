"""The human-readable report of ``registry bench``: one column per backend, one row per
measurement, then the targets met or missed."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any


def _row(cells: Sequence[str], widths: Sequence[int]) -> str:
    return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"


def _scan(serving: dict[str, Any], b: str, what: str) -> str:
    s = serving[b]["scan"][what]
    ratio = f" ({s['ratio']:.2f}×)" if "ratio" in s else ""
    return f"{s['rps']:,.0f}{ratio}, {s['p99_ms']:.1f} ms"


def _ingest(serving: dict[str, Any], b: str) -> str:
    i = serving[b]["ingest"]
    clients = i.get("streams", 1)
    return f"{i['per_s']:,.0f} (n={i['records']}, {i['per_request']}/request × {clients})"


def _audit(serving: dict[str, Any], b: str) -> str:
    return f"{serving[b]['audit']['per_s']:,.0f} (n={serving[b]['audit']['records']})"


def _memory(serving: dict[str, Any], b: str) -> str:
    return f"{serving[b]['memory']['max_worker_mb']:.0f} MB ({serving[b]['workers']} worker)"


def _trace(traces: dict[str, Any], b: str) -> str:
    if b not in traces:
        return "—"
    return f"{traces[b]['backward']['p50_ms']:.2f} / {traces[b]['forward']['p50_ms']:.2f} ms"


def _proof(proofs: dict[str, Any], b: str) -> str:
    if b not in proofs:
        return "—"
    p = proofs[b]
    return f"{p['inclusion']['p50_ms']:.2f} / {p['consistency']['p50_ms']:.2f} ms"


def _at_scale(scale: dict[str, Any], b: str) -> str:
    if b not in scale:
        return "—"
    s = scale[b]
    return (
        f"{s['scan']['verify']['ratio']:.2f}×, {s['ingest']['per_s']:,.0f}/s, "
        f"{s['memory']['max_worker_mb']:.0f} MB"
    )


def _cells(results: dict[str, Any], summary: dict[str, Any]) -> list[list[str]]:
    serving = results["serving"]
    traces = results.get("traces", {})
    proofs = results.get("proofs", {})
    scale = results.get("scale", {})
    columns: list[tuple[str, Callable[[str], str]]] = [
        ("hello (FastAPI async def) req/s, p99", partial(_scan, serving, what="hello")),
        ("hello (Starlette route) req/s, p99", partial(_scan, serving, what="hello_raw")),
        ("GET /api/v1/verify/{code} req/s (× hello), p99", partial(_scan, serving, what="verify")),
        ("GET /E/{code} (page) req/s (× hello), p99", partial(_scan, serving, what="page")),
        ("ingest, signed records/s (API, batch)", partial(_ingest, serving)),
        ("audit, records/s (first audit)", partial(_audit, serving)),
        ("server RSS per worker", partial(_memory, serving)),
    ]
    if traces:
        columns.append(("trace p50 backward / forward", partial(_trace, traces)))
    if proofs:
        leaves = summary.get("proof_leaves", 0)
        columns.append((f"inclusion / consistency proof p50 @{leaves:,}", partial(_proof, proofs)))
    if scale:
        leaves = next(iter(scale.values()))["leaves"]
        columns.append(
            (f"at {leaves:,} leaves: verify × hello, ingest, RSS", partial(_at_scale, scale))
        )
    return [[label, *[cell(b) for b in serving]] for label, cell in columns]


def table(results: dict[str, Any], summary: dict[str, Any]) -> str:
    """The results as a Markdown table, the multi-worker lines and the targets' verdicts."""
    rows = _cells(results, summary)
    header = ["what", *results["serving"]]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [_row(header, widths), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    lines += [_row(r, widths) for r in rows]
    workers = results.get("workers")
    if workers:
        s = workers["scan"]
        lines.append(
            f"\npostgresql, --workers {workers['workers']}: hello {s['hello']['rps']:,.0f} req/s, "
            f"verify {s['verify']['rps']:,.0f} req/s ({s['verify']['ratio']:.2f}×, p99 "
            f"{s['verify']['p99_ms']:.1f} ms), page {s['page']['rps']:,.0f} req/s "
            f"({s['page']['ratio']:.2f}×); RSS per worker {workers['memory']['per_worker_mb']} MB"
        )
        if "ingest" in workers:
            i = workers["ingest"]
            lines.append(
                f"postgresql, --workers {workers['workers']}: ingest {i['per_s']:,.0f} signed "
                f"records/s ({i['streams']} clients, n={i['records']})"
            )
    verdicts = ", ".join(
        f"{k} {summary[k]:g} {'ok' if ok else 'MISSED'}" for k, ok in summary["met"].items()
    )
    lines.append(f"\ntargets: {verdicts}")
    return "\n".join(lines)
