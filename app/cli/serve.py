"""``registry serve``, ``registry demo``, ``registry db upgrade``, ``registry backup`` and
``registry restore``: running a registry and keeping its database."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from app.cli.base import _, app, db_app, err, fail, session_factory
from registry.db import make_engine, upgrade
from registry.errors import RegistryError
from registry.i18n import cli_language
from registry.settings import get_settings


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Migrate the database to the newest schema."""
    upgrade(get_settings().effective_database_url)
    err.print(_("数据库已是最新"))


@app.command("backup")
def backup_command(
    dest: Annotated[Path, typer.Argument(help="a new directory to write the backup into")],
) -> None:
    """Back up the whole registry (portable between SQLite and PostgreSQL)."""
    from registry.operations.backup import backup

    settings = get_settings()
    try:
        manifest = backup(make_engine(settings.effective_database_url), dest)
    except RegistryError as exc:
        fail(exc.detail)
    checkpoint = manifest["checkpoint"] or {}
    err.print(
        _("已备份 %(rows)s 行到 %(path)s；检查点大小 %(size)s，根 %(root)s")
        % {
            "rows": sum(manifest["tables"].values()),
            "path": dest,
            "size": checkpoint.get("size"),
            "root": checkpoint.get("root"),
        }
    )


@app.command("restore")
def restore_command(
    src: Annotated[Path, typer.Argument(help="a directory written by 'registry backup'")],
    force: Annotated[
        bool, typer.Option("--force", help="replace everything in a non-empty database")
    ] = False,
) -> None:
    """Restore a backup into this registry's database (migrated first). Needs the same
    master key as the backed-up registry, and checks it opens the backup's keys first."""
    from registry.operations.backup import check_master_key, read_manifest, restore

    settings = get_settings()
    try:
        # Before the migration writes anything: the backup and its master key must do.
        read_manifest(src)
        master_key = settings.configured_master_key()
        check_master_key(src, master_key)
        upgrade(settings.effective_database_url)
        manifest = restore(
            make_engine(settings.effective_database_url),
            src,
            master_key=master_key,
            force=force,
        )
    except RegistryError as exc:
        fail(exc.detail)
    checkpoint = manifest["checkpoint"] or {}
    err.print(
        _("已恢复；检查点大小 %(size)s，根 %(root)s")
        % {"size": checkpoint.get("size"), "root": checkpoint.get("root")}
    )


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="server processes")] = 1,
    demo: Annotated[bool, typer.Option("--demo", help="load the demo dataset first")] = False,
) -> None:
    """Migrate the database, then serve the API and the web pages."""
    import uvicorn

    from registry.operations.bootstrap import bootstrap
    from registry.operations.production import check_production_start

    settings, factory = session_factory()
    try:
        upgrade(settings.effective_database_url)
        ctx = bootstrap(factory, settings)  # before workers fork: one genesis, one key set
        check_production_start(factory, settings)
        if demo:
            from registry.demo import load_demo

            summary = load_demo(factory, ctx)
            err.print(
                _("演示数据已载入：%(batches)s 个批次") % {"batches": len(summary["batches"])}
            )
            _print_accounts(summary.get("accounts", []))
    except RegistryError as exc:
        fail(exc.detail)
    err.print(
        _("正在 %(url)s 提供服务（公开基础网址 %(base_url)s）")
        % {"url": f"http://{host}:{port}", "base_url": settings.base_url}
    )
    # No access log: it would print every viewer's IP address, which the registry never keeps.
    uvicorn.run(
        "app.asgi:app",
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        access_log=False,
    )


def _print_accounts(accounts: list[dict[str, str]]) -> None:
    """The demo accounts to log in with, one a line: username, password, role, and the
    organization each belongs to with its kind, so a newcomer picks the right one. Lines
    are never wrapped or cut (a log keeps them whole); columns align in a terminal's cells,
    where a Chinese character takes two."""
    from rich.cells import cell_len
    from rich.markup import escape

    from web.office.labels import ORG_KINDS, ROLES

    english = cli_language(os.environ) == "en"
    rows = [(_("用户名"), _("密码"), _("角色"), _("所属机构"))]
    for account in accounts:
        kind = account["organization_kind"]
        organization = account["organization_en"] if english else account["organization"]
        rows.append(
            (
                account["username"],
                account["password"],
                _(ROLES.get(account["role"], account["role"])),
                f"{organization} ({_(ORG_KINDS.get(kind, kind))})",
            )
        )
    if len(rows) == 1:
        return
    widths = [max(cell_len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        cells = [
            text + " " * (width - cell_len(text))
            for text, width in zip(row[:3], widths, strict=True)
        ]
        err.print(escape("  " + "  ".join([*cells, row[3]])), soft_wrap=True, highlight=False)


@app.command()
def demo(
    as_json: Annotated[bool, typer.Option("--json", help="print a JSON summary")] = False,
) -> None:
    """Load the demo dataset (idempotent)."""
    from registry.demo import load_demo
    from registry.operations.bootstrap import bootstrap

    settings, factory = session_factory()
    try:
        upgrade(settings.effective_database_url)
        summary = load_demo(factory, bootstrap(factory, settings))
    except RegistryError as exc:
        fail(exc.detail)
    if as_json:
        typer.echo(json.dumps(summary, ensure_ascii=False, indent=2))
    else:
        err.print(
            _("演示数据已就绪：%(batches)s 个批次，%(endorsements)s 个背书；详见 --json")
            % {"batches": len(summary["batches"]), "endorsements": len(summary["endorsements"])}
        )
