"""``registry trace`` and ``registry export …``: lineage, EPCIS 2.0, FSMA 204, the 合格证."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from app.cli.base import _, app, err, fail, session_factory
from registry.db import transaction, upgrade
from registry.errors import RegistryError

if TYPE_CHECKING:
    from registry.trace import Trace


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
    from registry import trace as trace_service

    settings, factory = session_factory()
    try:
        upgrade(settings.effective_database_url)
        with transaction(factory) as session:
            found = trace_service.trace(session, batch, direction, limit)
    except RegistryError as exc:
        fail(exc.detail, 2 if exc.code == "invalid-input" else 1)
    if as_json:
        typer.echo(json.dumps(found.document(), ensure_ascii=False, indent=2))
        return
    _print_tree(found)


def _write_out(out: Path | None, data: bytes) -> None:
    if out is None or str(out) == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        out.write_bytes(data)
        err.print(_("已写入 %(path)s（%(size)s 字节）") % {"path": out, "size": len(data)})


def _print_tree(found: Trace) -> None:
    """Draw a trace as a tree of batches, each with the signed records that touch it."""
    from rich.markup import escape
    from rich.tree import Tree

    from registry import trace as trace_service

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
    from registry import exports
    from registry.models import utcnow

    settings, factory = session_factory()
    try:
        with transaction(factory) as session:
            document = exports.epcis_export(
                session, settings.base_url, batch=batch, since=since, until=until, now=utcnow()
            )
    except RegistryError as exc:
        fail(exc.detail)
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
    """FDA FSMA 204 sortable spreadsheet of the key data elements of each tracking event, for
    a date range (--since/--until), a product (--product GTIN or id) and/or a lot."""
    from registry import exports

    kind = format or ("xlsx" if str(out).endswith(".xlsx") else "csv")
    if kind not in ("csv", "xlsx"):
        fail(_("--format 只能是 csv 或 xlsx"), 2)
    settings, factory = session_factory()
    filters = {"lot": lot, "product": product, "since": since, "until": until}
    partial = out.with_name(out.name + ".partial")
    try:
        with transaction(factory) as session:
            if str(out) == "-":
                sheet_bytes = exports.fsma204_file(
                    session, kind, base_url=settings.base_url, **filters
                )
                _write_out(out, sheet_bytes)
                return
            # Written as the rows are read, beside the file; it replaces the file when done.
            with partial.open("wb") as sheet:
                exports.write_fsma204(session, kind, sheet, base_url=settings.base_url, **filters)
            partial.replace(out)
    except RegistryError as exc:
        partial.unlink(missing_ok=True)
        fail(exc.detail)
    err.print(_("已写入 %(path)s（%(size)s 字节）") % {"path": out, "size": out.stat().st_size})


@export_app.command("certificate")
def export_certificate(
    code: Annotated[str, typer.Argument(help="batch code or id")],
    out: Annotated[Path, typer.Option("--out", "-o", help="PDF file to write; - for stdout")],
) -> None:
    """The printable 承诺达标合格证 of a batch, as a one-page 100 × 70 mm PDF."""
    from registry import exports
    from registry.exports.certificate_pdf import render_certificate_pdf

    settings, factory = session_factory()
    try:
        with transaction(factory) as session:
            view = exports.certificate_view(session, settings.base_url, code)
    except RegistryError as exc:
        fail(exc.detail)
    try:
        pdf = render_certificate_pdf(view, generated_by=settings.base_url, font=settings.cjk_font)
    except RegistryError as exc:
        fail(exc.detail)
    _write_out(out, pdf)
