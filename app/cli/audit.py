"""``registry audit`` (verify a registry from outside) and ``registry witness serve``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from app.cli.base import app


@app.command()
def audit(
    url: Annotated[str, typer.Argument(help="base URL of the registry to verify")],
    state: Annotated[Path, typer.Option(help="local mirror and audit state (resumable)")] = Path(
        "registry-audit"
    ),
    vkey: Annotated[
        str | None,
        typer.Option(help="the log's verifier key; default: trust on first use, then pinned"),
    ] = None,
    witness: Annotated[
        list[str] | None, typer.Option(help="a witness cosignature vkey that must have signed")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar")] = False,
    recheck: Annotated[
        str | None,
        typer.Option(
            metavar="N|all",
            help="already-mirrored entries to re-fetch and compare, at random, or 'all' "
            "(default: 1% of the log, at least 256, at most 4096; 0: none)",
        ),
    ] = None,
    recheck_seed: Annotated[
        int | None,
        typer.Option(help="seed of the recheck's random choice (default: from the OS)"),
    ] = None,
) -> None:
    """Verify a running registry from the outside. Exit 0: all verified; 1: something does
    not verify (the first bad record is named); 2: usage or network error."""
    from registry.audit import run_audit

    raise typer.Exit(
        run_audit(
            url,
            state,
            vkey=vkey,
            witnesses=witness or [],
            quiet=quiet,
            recheck=recheck,
            recheck_seed=recheck_seed,
        )
    )


witness_app = typer.Typer(no_args_is_help=True, help="A C2SP tlog-witness.")
app.add_typer(witness_app, name="witness")


@witness_app.command("serve")
def witness_serve(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8100,
    state: Annotated[Path, typer.Option(help="witness key and cosigned checkpoints")] = Path(
        "registry-witness"
    ),
    log_vkey: Annotated[
        list[str] | None, typer.Option(help="vkey of a log this witness accepts (repeatable)")
    ] = None,
    name: Annotated[str, typer.Option(help="the witness's key name")] = "witness.localhost",
) -> None:
    """Serve C2SP tlog-witness add-checkpoint for the given logs."""
    from app.witness import serve_witness

    serve_witness(host=host, port=port, state=state, log_vkeys=log_vkey or [], name=name)


@app.command("verify-bundle")
def verify_bundle_command(
    file: Annotated[Path, typer.Argument(help="a guarantee bundle (GET /e/{code}/bundle.json)")],
    vkey: Annotated[
        str | None, typer.Option(help="the log's verifier key, pinned out of band")
    ] = None,
    witness: Annotated[
        list[str] | None,
        typer.Option(help="a witness cosignature vkey that must have cosigned (repeatable)"),
    ] = None,
) -> None:
    """Verify a guarantee bundle offline. Exit 0: it verifies (a summary is printed);
    1: it does not (the first failure is named); 2: the file cannot be read."""
    import json
    from datetime import UTC, datetime

    from registry.audit.bundle import verify_bundle
    from registry.errors import VerificationError

    try:
        bundle = json.loads(file.read_bytes())
    except (OSError, ValueError) as exc:
        typer.echo(f"error: cannot read {file}: {exc}", err=True)
        raise typer.Exit(2) from None
    try:
        summary = verify_bundle(bundle, pinned_vkey=vkey, pinned_witnesses=tuple(witness or ()))
    except VerificationError as exc:
        typer.echo(f"FAILED: {exc.detail}", err=True)
        raise typer.Exit(1) from None
    typer.echo(
        f"OK: endorsement {summary.code}: {summary.records} records verified in log "
        f"{summary.origin} at tree size {summary.size}"
    )
    for name, timestamp in summary.cosignatures.items():
        when = datetime.fromtimestamp(timestamp, UTC).isoformat()
        typer.echo(f"  witnessed by {name} at {when}")
    if not summary.cosignatures:
        typer.echo("  the bundle's witness policy requires no cosignature")
    if summary.status is not None:
        typer.echo(f"  status {summary.status}, proven by the status index")
    else:
        typer.echo("  no status index: the status is the server's word, not proven")
    for line in summary.suspect:
        typer.echo(f"  suspect: {line}")
