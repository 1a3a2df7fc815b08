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
    index_keys: Annotated[
        int | None,
        typer.Option(
            "--index-keys",
            min=10,
            help="only the status index benchmark, at this many keys (e.g. 1000000)",
        ),
    ] = None,
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
    if index_keys is not None:
        _index_bench(index_keys, chosen, postgres_url, json_path)
        raise typer.Exit(0)
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


def _index_bench(keys: int, backends: list[str], postgres_url: str, json_path: Path | None) -> None:
    """The status index benchmark alone (bench/index_bench.py), one line per backend."""
    import json
    import tempfile

    from bench.databases import Databases
    from bench.index_bench import bench_status_index

    results = {}
    with tempfile.TemporaryDirectory() as workdir:
        databases = Databases(Path(workdir), postgres_url)
        try:
            for backend in backends:
                result = bench_status_index(databases.fresh(backend, "index"), keys)
                results[backend] = result
                typer.echo(
                    f"status index, {backend}, {keys:,} keys: proof of one code "
                    f"{result['proof_bytes']:,} B JSON ({result['proof_siblings']} siblings, "
                    f"{result['proof_ms']} ms); update per record "
                    f"{result['update_us_per_record_chained']} µs (ingestion-shaped), "
                    f"{result['update_us_per_record_new_keys']} µs (every record a new key); "
                    f"filled in {result['fill_s']} s"
                )
        finally:
            databases.drop_all()
    if json_path is not None:
        json_path.write_text(json.dumps({"status_index": results}, indent=2), encoding="utf-8")
