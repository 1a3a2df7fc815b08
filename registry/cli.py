"""The ``registry`` command."""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from sqlalchemy.orm import Session, sessionmaker

from registry.db import make_engine, make_session_factory, transaction, upgrade
from registry.errors import RegistryError
from registry.settings import Settings, get_settings

app = typer.Typer(
    no_args_is_help=True, help="Guarantee Registry: signed evidence behind endorsements."
)
db_app = typer.Typer(no_args_is_help=True, help="Database maintenance.")
keys_app = typer.Typer(no_args_is_help=True, help="Client-held signing keys.")
admin_app = typer.Typer(no_args_is_help=True, help="Organizations, accounts and API tokens.")
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")
app.add_typer(admin_app, name="admin")
err = Console(stderr=True)


def _fail(message: str, code: int = 1) -> None:
    err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code)


def _factory() -> tuple[Settings, sessionmaker[Session]]:
    settings = get_settings()
    return settings, make_session_factory(make_engine(settings.effective_database_url))


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Migrate the database to the newest schema."""
    upgrade(get_settings().effective_database_url)
    err.print("database is up to date")


@app.command("backup")
def backup_command(
    dest: Annotated[Path, typer.Argument(help="a new directory to write the backup into")],
) -> None:
    """Back up the whole registry (portable between SQLite and PostgreSQL)."""
    from registry.backup import backup

    settings = get_settings()
    try:
        manifest = backup(make_engine(settings.effective_database_url), dest)
    except RegistryError as exc:
        _fail(exc.detail)
    checkpoint = manifest["checkpoint"] or {}
    err.print(
        f"backed up {sum(manifest['tables'].values())} rows to {dest}; "
        f"checkpoint size {checkpoint.get('size')}, root {checkpoint.get('root')}"
    )


@app.command("restore")
def restore_command(
    src: Annotated[Path, typer.Argument(help="a directory written by 'registry backup'")],
    force: Annotated[
        bool, typer.Option("--force", help="replace everything in a non-empty database")
    ] = False,
) -> None:
    """Restore a backup into this registry's database (migrated first). Needs the same
    master key as the backed-up registry."""
    from registry.backup import restore

    settings = get_settings()
    try:
        upgrade(settings.effective_database_url)
        manifest = restore(make_engine(settings.effective_database_url), src, force=force)
    except RegistryError as exc:
        _fail(exc.detail)
    checkpoint = manifest["checkpoint"] or {}
    err.print(f"restored; checkpoint size {checkpoint.get('size')}, root {checkpoint.get('root')}")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="server processes")] = 1,
    demo: Annotated[bool, typer.Option("--demo", help="load the demo dataset first")] = False,
) -> None:
    """Migrate the database, then serve the API and the web pages."""
    import uvicorn

    from registry.bootstrap import bootstrap

    settings, factory = _factory()
    try:
        upgrade(settings.effective_database_url)
        ctx = bootstrap(factory, settings)  # before workers fork: one genesis, one key set
        if demo:
            from registry.demo import load_demo

            summary = load_demo(factory, ctx)
            err.print(f"demo data loaded: {len(summary['batches'])} batches")
            for account in summary.get("accounts", []):
                err.print(
                    f"  {account['role']:<10} {account['username']:<22} {account['password']}"
                )
    except RegistryError as exc:
        _fail(exc.detail)
    err.print(f"serving on http://{host}:{port}  (public base URL {settings.base_url})")
    # No access log: it would print every viewer's IP address, which the registry never keeps.
    uvicorn.run(
        "api.asgi:app",
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        access_log=False,
    )


@app.command()
def demo(
    as_json: Annotated[bool, typer.Option("--json", help="print a JSON summary")] = False,
) -> None:
    """Load the demo dataset (idempotent)."""
    from registry.bootstrap import bootstrap
    from registry.demo import load_demo

    settings, factory = _factory()
    try:
        upgrade(settings.effective_database_url)
        summary = load_demo(factory, bootstrap(factory, settings))
    except RegistryError as exc:
        _fail(exc.detail)
    if as_json:
        typer.echo(json.dumps(summary, ensure_ascii=False, indent=2))
    else:
        err.print(
            f"demo data ready: {len(summary['batches'])} batches, "
            f"{len(summary['endorsements'])} endorsements; see --json"
        )


@admin_app.command("create-org")
def create_org(
    kind: Annotated[str, typer.Option(help="cooperative, processor, carrier, lab, authority")],
    name_zh: Annotated[str, typer.Option()],
    name_en: Annotated[str, typer.Option()],
    region: Annotated[str, typer.Option(help="GB/T 2260 code, e.g. 150430")],
    jurisdiction: Annotated[str | None, typer.Option(help="authorities: region prefix")] = None,
    gln: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Register an organization; prints its id."""
    from registry.accounts import accounts
    from registry.models import OrgKind

    _, factory = _factory()
    try:
        with transaction(factory) as session:
            org = accounts.create_organization(
                session,
                kind=OrgKind(kind),
                name_zh=name_zh,
                name_en=name_en,
                region_code=region,
                jurisdiction=jurisdiction,
                gln=gln,
            )
            typer.echo(str(org.id))
    except (RegistryError, ValueError) as exc:
        _fail(getattr(exc, "detail", str(exc)))


@admin_app.command("create-account")
def create_account(
    organization: Annotated[str, typer.Option(help="organization id; 'operator' for admins")],
    username: Annotated[str, typer.Option()],
    role: Annotated[str, typer.Option(help="admin, clerk or official")],
    name_zh: Annotated[str, typer.Option()],
    name_en: Annotated[str, typer.Option()] = "",
    title_zh: Annotated[str, typer.Option()] = "",
    title_en: Annotated[str, typer.Option()] = "",
    password: Annotated[
        str | None, typer.Option(help="omit for API-token-only accounts", prompt=False)
    ] = None,
) -> None:
    """Create an account; prints its id."""
    import uuid

    from registry.accounts import accounts
    from registry.bootstrap import bootstrap, operator
    from registry.models import Role

    settings, factory = _factory()
    try:
        bootstrap(factory, settings)
        with transaction(factory) as session:
            org = (
                operator(session)
                if organization == "operator"
                else accounts.get_organization(session, uuid.UUID(organization))
            )
            account = accounts.create_account(
                session,
                organization=org,
                username=username,
                role=Role(role),
                name_zh=name_zh,
                name_en=name_en,
                title_zh=title_zh,
                title_en=title_en,
                password=password,
            )
            typer.echo(str(account.id))
    except (RegistryError, ValueError) as exc:
        _fail(getattr(exc, "detail", str(exc)))


@admin_app.command("create-token")
def create_token(
    username: Annotated[str, typer.Option()],
    name: Annotated[str, typer.Option()] = "cli",
) -> None:
    """Issue an API token for an account; the token is printed once."""
    from sqlalchemy import select

    from registry.accounts import accounts
    from registry.models import Account

    _, factory = _factory()
    with transaction(factory) as session:
        account = session.scalars(select(Account).where(Account.username == username)).first()
        if account is None:
            _fail(f"no account {username}")
        assert account is not None
        _, plain = accounts.issue_token(session, account, name)
        typer.echo(plain)


@admin_app.command("revoke-token")
def revoke_token(token_id: str) -> None:
    """Revoke an API token by id."""
    import uuid

    from registry.models import ApiToken, utcnow

    _, factory = _factory()
    with transaction(factory) as session:
        token = session.get(ApiToken, uuid.UUID(token_id))
        if token is None:
            _fail(f"no token {token_id}")
        assert token is not None
        token.revoked_at = token.revoked_at or utcnow()
    err.print("revoked")


@keys_app.command("generate")
def keys_generate(
    out: Annotated[Path, typer.Option("--out", "-o", help="key file to write (mode 600)")],
) -> None:
    """Generate an Ed25519 key pair into a file; prints the key id and public key."""
    import os

    from registry.crypto.keys import Signer, dump_key_file

    if out.exists():
        _fail(f"{out} exists; refusing to overwrite a key", 2)
    signer = Signer.generate()
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(dump_key_file(signer))
    typer.echo(
        json.dumps(
            {
                "key_id": signer.key_id,
                "public_key": base64.b64encode(signer.public_key_raw).decode(),
            }
        )
    )


def _read_json(path: Path) -> Any:
    text = sys.stdin.read() if str(path) == "-" else path.read_text()
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        _fail(f"{path}: not JSON ({exc})", 2)


@app.command()
def sign(
    record: Annotated[Path, typer.Argument(help="record JSON file, or - for stdin")],
    key: Annotated[Path, typer.Option("--key", "-k", help="key file from 'keys generate'")],
    payload_type: Annotated[str, typer.Option()] = "",
    add_to: Annotated[
        Path | None, typer.Option(help="add a signature to this existing envelope instead")
    ] = None,
) -> None:
    """Sign a record offline: prints a DSSE envelope to post to /api/v1/records."""
    from registry.crypto.dsse import Envelope, add_signature, sign_envelope
    from registry.crypto.jcs import canonicalize
    from registry.crypto.keys import load_key_file
    from registry.records.schema import RECORD_PAYLOAD_TYPE, parse_record

    signer = load_key_file(key.read_text())
    try:
        if add_to is not None:
            envelope = add_signature(Envelope.from_json(_read_json(add_to)), signer)
        else:
            document = _read_json(record)
            parse_record(document)  # refuse locally what the registry would refuse
            envelope = sign_envelope(
                payload_type or RECORD_PAYLOAD_TYPE, canonicalize(document), [signer]
            )
    except RegistryError as exc:
        _fail(exc.detail, 2)
    typer.echo(json.dumps(envelope.to_json(), indent=2))


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
) -> None:
    """Verify a running registry from the outside. Exit 0: all verified; 1: something does
    not verify (the first bad record is named); 2: usage or network error."""
    from registry.audit import run_audit

    raise typer.Exit(run_audit(url, state, vkey=vkey, witnesses=witness or [], quiet=quiet))


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
    from registry.witness import serve_witness

    serve_witness(host=host, port=port, state=state, log_vkeys=log_vkey or [], name=name)


@app.command("trace")
def trace_command(
    batch: Annotated[str, typer.Argument(help="batch code or id")],
    direction: Annotated[
        str, typer.Option(help="backward: what it was made from; forward: what was made from it")
    ] = "backward",
    as_json: Annotated[bool, typer.Option("--json", help="print the trace as JSON")] = False,
    limit: Annotated[int, typer.Option(min=1, help="batches at most, the nearest first")] = 5000,
) -> None:
    """Trace a batch's lineage through processing records: a tree of batches, each with the
    signed records touching it."""
    from rich.markup import escape
    from rich.tree import Tree

    from registry.services import trace as trace_service

    settings, factory = _factory()
    try:
        upgrade(settings.effective_database_url)
        with transaction(factory) as session:
            found = trace_service.trace(session, batch, direction, limit)
    except RegistryError as exc:
        _fail(exc.detail, 2 if exc.code == "invalid-input" else 1)
    if as_json:
        typer.echo(json.dumps(found.document(), ensure_ascii=False, indent=2))
        return
    records = found.records_by_batch()
    orgs = found.organizations

    def label(node: trace_service.LineageNode) -> str:
        b = node.batch
        origin = orgs.get(b.origin_org_id)
        text = (
            f"[bold]{b.code}[/bold] {escape(b.product_name_zh)} "
            f"[dim]{escape(b.product_name_en)}[/dim] · lot {escape(b.lot)}"
        )
        if origin is not None:
            text += f" · {escape(origin.name_zh)}"
        if node.quantity is not None:
            text += (
                f" [dim]({node.quantity} {escape(node.unit or '')} via #{node.record_index})[/dim]"
            )
        if b.recalled:
            text += " [bold red]RECALLED[/bold red]"
        if node.repeated:
            text += " [dim](see above)[/dim]"
        return text

    def grow(tree: Tree, node: trace_service.LineageNode) -> None:
        if node.repeated:
            return
        steps = records[node.batch.id]
        if steps:
            tree.add("[dim]" + "  ".join(f"#{r.index} {r.kind}" for r in steps) + "[/dim]")
        for child in node.children:
            grow(tree.add(label(child)), child)

    root = found.tree()
    tree = Tree(f"{label(root)}  [cyan]{found.direction.value}[/cyan] depth 0")
    grow(tree, root)
    console = Console()
    console.print(tree)
    console.print(
        f"{len(found.batches)} batches, {len(found.edges)} edges, {len(found.records)} records"
        + (" (truncated)" if found.truncated else "")
    )


export_app = typer.Typer(no_args_is_help=True, help="EPCIS 2.0, FSMA 204 and 合格证 exports.")
app.add_typer(export_app, name="export")


def _write_out(out: Path | None, data: bytes) -> None:
    if out is None or str(out) == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        out.write_bytes(data)
        err.print(f"wrote {out} ({len(data)} bytes)")


@export_app.command("epcis")
def export_epcis(
    batch: Annotated[
        str | None, typer.Option(help="the trace of this batch (code or id) only")
    ] = None,
    since: Annotated[str | None, typer.Option(help="event time from (date or RFC 3339)")] = None,
    until: Annotated[str | None, typer.Option(help="event time until, inclusive")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="file (default stdout)")] = None,
) -> None:
    """EPCIS 2.0 JSON-LD of the whole registry, a batch's trace and/or a time range."""
    from registry.models import utcnow
    from registry.services import exports

    settings, factory = _factory()
    try:
        with transaction(factory) as session:
            document = exports.epcis_export(
                session, settings.base_url, batch=batch, since=since, until=until, now=utcnow()
            )
    except RegistryError as exc:
        _fail(exc.detail)
    _write_out(out, exports.epcis_json(document))


@export_app.command("fsma204")
def export_fsma204(
    out: Annotated[Path, typer.Option("--out", "-o", help="file to write; - for stdout")],
    format: Annotated[str, typer.Option(help="csv or xlsx (default: from --out)")] = "",
    lot: Annotated[str | None, typer.Option(help="traceability lot code")] = None,
    product: Annotated[str | None, typer.Option(help="product id or GTIN")] = None,
    since: Annotated[str | None, typer.Option(help="event date from")] = None,
    until: Annotated[str | None, typer.Option(help="event date until, inclusive")] = None,
) -> None:
    """FSMA 204-style sortable spreadsheet of the key data elements of each tracking event."""
    from registry.services import exports

    kind = format or ("xlsx" if str(out).endswith(".xlsx") else "csv")
    if kind not in ("csv", "xlsx"):
        _fail("--format is csv or xlsx", 2)
    _, factory = _factory()
    try:
        with transaction(factory) as session:
            rows = exports.fsma204_rows(session, lot=lot, product=product, since=since, until=until)
    except RegistryError as exc:
        _fail(exc.detail)
    _write_out(out, exports.fsma204_xlsx(rows) if kind == "xlsx" else exports.fsma204_csv(rows))


@export_app.command("certificate")
def export_certificate(
    code: Annotated[str, typer.Argument(help="batch code or id")],
    out: Annotated[Path, typer.Option("--out", "-o", help="PDF file to write; - for stdout")],
) -> None:
    """The printable 承诺达标合格证 of a batch, as a one-page A6 PDF."""
    from registry.certificate_pdf import render_certificate_pdf
    from registry.services import exports

    settings, factory = _factory()
    try:
        with transaction(factory) as session:
            view = exports.certificate_view(session, settings.base_url, code)
    except RegistryError as exc:
        _fail(exc.detail)
    _write_out(out, render_certificate_pdf(view, generated_by=settings.base_url))


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
) -> None:
    """Benchmarks: scans (vs. a hello endpoint, with wrk), ingestion, traces, proofs, audit
    and memory, on SQLite and PostgreSQL (docs/performance.md)."""
    from registry.bench import BACKENDS, run

    chosen = [b.strip() for b in backends.split(",") if b.strip()]
    if not chosen or any(b not in BACKENDS for b in chosen):
        _fail("--backends takes sqlite and/or postgresql", 2)
    raise typer.Exit(
        run(
            quick=quick,
            json_path=json_path,
            backends=chosen,
            postgres_url=postgres_url,
            workers=workers,
        )
    )


if __name__ == "__main__":  # pragma: no cover
    app()
