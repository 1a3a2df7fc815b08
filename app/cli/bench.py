"""``registry bench``: the benchmark suite of bench/ (docs/performance.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from app.cli.base import _, app, fail


@app.command("bench")
def bench_command(
    quick: Annotated[
        bool, typer.Option("--quick", help="small counts: within a minute on 2 cores")
    ] = False,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="also write every result to this JSON file")
    ] = None,
    backends: Annotated[
        str, typer.Option(help="comma-separated: sqlite, postgresql")
    ] = "sqlite,postgresql",
    postgres_url: Annotated[
        str, typer.Option(help="a PostgreSQL server where registry_bench_* databases may be made")
    ] = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
    workers: Annotated[int, typer.Option(min=1, help="server processes for the scan runs")] = 1,
    only: Annotated[
        str, typer.Option(help="'published': only the published scan path (nginx) phases")
    ] = "",
) -> None:
    """Benchmarks: scans (vs. a hello endpoint, with wrk), ingestion, traces, proofs, audit
    and memory, on SQLite and PostgreSQL (docs/performance.md)."""
    from bench.suite import BACKENDS, run

    chosen = [b.strip() for b in backends.split(",") if b.strip()]
    if not chosen or any(b not in BACKENDS for b in chosen):
        fail(_("--backends 只能是 sqlite 和/或 postgresql"), 2)
    raise typer.Exit(
        run(
            quick=quick,
            json_path=json_path,
            backends=chosen,
            postgres_url=postgres_url,
            workers=workers,
            only=only,
        )
    )
