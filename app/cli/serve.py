"""``registry serve``, ``registry demo``, ``registry db upgrade``, ``registry backup`` and
``registry restore``: running a registry and keeping its database."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from app.cli.base import _, app, db_app, err, fail, log_app, session_factory
from registry.db import make_engine, upgrade
from registry.errors import RegistryError
from registry.i18n import cli_language
from registry.settings import Mode, get_settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from app.demo_witness import DemoWitness
    from registry.context import RegistryContext


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
            log_origin=settings.log_origin or None,
        )
    except RegistryError as exc:
        fail(exc.detail)
    checkpoint = manifest["checkpoint"] or {}
    err.print(
        _("已恢复日志 %(origin)s；检查点大小 %(size)s，根 %(root)s")
        % {
            "origin": manifest.get("log_origin"),
            "size": checkpoint.get("size"),
            "root": checkpoint.get("root"),
        }
    )


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="server processes")] = 1,
    demo: Annotated[bool, typer.Option("--demo", help="load the demo dataset first")] = False,
    publish: Annotated[
        str,
        typer.Option(
            "--publish",
            metavar="DIR",
            help="also keep the scan path published as files in DIR (or s3://bucket/prefix)",
        ),
    ] = "",
) -> None:
    """Migrate the database, then serve the API and the web pages."""
    import uvicorn

    from registry.logs import LOG_CONFIG

    if publish:  # every worker reads it (registry.settings: publish_dir)
        os.environ["REGISTRY_PUBLISH_DIR"] = publish
        get_settings.cache_clear()

    from registry.operations.bootstrap import bootstrap
    from registry.operations.production import check_production_start

    guessed = _follow_listen_address(host, port)
    settings, factory = session_factory()
    witness = None
    try:
        upgrade(settings.effective_database_url)
        ctx = bootstrap(factory, settings)  # before workers fork: one genesis, one key set
        check_production_start(factory, settings)
        if demo and WITNESSES_VARIABLE not in os.environ:
            witness = _start_demo_witness(ctx)
            ctx = dataclasses.replace(ctx, settings=get_settings())
        _publish(factory, ctx)
        if demo:
            from registry.demo import load_demo

            summary = load_demo(factory, ctx)
            err.print(
                _("演示数据已载入：%(batches)s 个批次") % {"batches": len(summary["batches"])}
            )
            _print_accounts(summary.get("accounts", []))
    except RegistryError as exc:
        if witness is not None:
            witness.stop()
        fail(exc.detail)
    err.print(
        _("正在 %(url)s 提供服务；二维码和链接指向 %(base_url)s，日志名 %(origin)s")
        % {"url": f"http://{host}:{port}", "base_url": settings.base_url, "origin": ctx.log_origin}
    )
    if witness is not None:
        err.print(
            _("演示见证者 %(name)s 在 %(url)s 为每个检查点联署（公钥 %(vkey)s）")
            % {"name": witness.vkey.split("+")[0], "url": witness.url, "vkey": witness.vkey}
        )
    if guessed:
        err.print(_("部署时请设置 REGISTRY_BASE_URL 为公开网址，二维码才指向观众能打开的地方"))
    try:
        # No access log: it would print every viewer's IP address, which the registry
        # never keeps. uvicorn returns on SIGINT/SIGTERM; the witness stops with it.
        uvicorn.run(
            "app.asgi:app",
            host=host,
            port=port,
            workers=workers,
            log_level="info",
            access_log=False,
            log_config=LOG_CONFIG,  # JSON lines with the request id (registry.logs)
        )
    finally:
        if witness is not None:
            witness.stop()


WITNESSES_VARIABLE = "REGISTRY_WITNESSES"


def _start_demo_witness(ctx: RegistryContext) -> DemoWitness:
    """Start the demo's witness and make every worker ask it (``REGISTRY_WITNESSES``)."""
    from app.demo_witness import start_demo_witness, witnesses_variable
    from registry.transparency import log as log_service

    witness = start_demo_witness(ctx.settings.data_dir, log_service.log_vkey(ctx))
    os.environ[WITNESSES_VARIABLE] = witnesses_variable(witness)
    get_settings.cache_clear()
    return witness


def _publish(factory: sessionmaker[Session], ctx: RegistryContext) -> None:
    """Log the witness policy and the page scripts' releases when they changed (before the
    workers fork, so one process appends them)."""
    from registry.operations.publication import publish_script_releases, publish_witness_policy
    from web.scripts import page_scripts

    publish_witness_policy(factory, ctx)
    publish_script_releases(factory, ctx, page_scripts())


@log_app.command("rename")
def log_rename(
    new_origin: Annotated[str, typer.Argument(help="the log's new name (checkpoint origin)")],
    reason: Annotated[str, typer.Option("--reason", help="why, as logged")] = "",
    yes: Annotated[bool, typer.Option("--yes", help="confirm: this renames the log")] = False,
) -> None:
    """Rename the log, on purpose and logged: a signed rename record, then checkpoints under
    the new name. Stop every server of this registry first; auditors follow the rename they
    find in the log, viewers' pages verify under the new name."""
    from registry.operations.bootstrap import bootstrap
    from registry.operations.log_identity import rename_log

    if not yes:
        fail(_("改名会改变日志的名字和验证密钥串；确认请加 --yes"), code=2)
    if not reason.strip():
        fail(_("请用 --reason 说明改名原因（会记入日志）"), code=2)
    settings, factory = session_factory()
    try:
        upgrade(settings.effective_database_url)
        # The configured origin may already be the new name: the stored one is renamed.
        ctx = bootstrap(factory, settings.model_copy(update={"log_origin": ""}))
        renamed = rename_log(factory, ctx, new_origin, reason.strip())
    except RegistryError as exc:
        fail(exc.detail)
    err.print(
        _("日志已从 %(old)s 改名为 %(new)s（改名记录位于 %(index)s）")
        % {"old": renamed.old_origin, "new": renamed.new_origin, "index": renamed.index}
    )
    if renamed.policy_index is not None:
        err.print(
            _("见证策略已按新的验证密钥串重新记入日志（位于 %(index)s）")
            % {"index": renamed.policy_index}
        )


BASE_URL_VARIABLE = "REGISTRY_BASE_URL"


def _follow_listen_address(host: str, port: int) -> bool:
    """In development, with no ``REGISTRY_BASE_URL`` set, QR codes and links point where this
    server listens (a wildcard host as 127.0.0.1), so ``--port`` moves them too. The variable
    is set in the environment so every worker process reads the same base URL. Production
    never guesses: its base URL is whatever the operator set (or the default). Returns
    whether the base URL was guessed so."""
    settings = get_settings()
    if settings.mode is not Mode.DEVELOPMENT or BASE_URL_VARIABLE in os.environ:
        return False
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104 (a comparison)
    if ":" in shown:  # an IPv6 literal
        shown = f"[{shown}]"
    os.environ[BASE_URL_VARIABLE] = f"http://{shown}:{port}"
    get_settings.cache_clear()
    return True


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
