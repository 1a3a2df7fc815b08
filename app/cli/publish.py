"""``registry publish DIR``: the scan path as static files (docs/scaling.md)."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from app.cli.base import _, app, err, fail, session_factory
from registry.errors import RegistryError


@app.command("publish")
def publish_command(
    where: Annotated[
        str, typer.Argument(help="a directory (served by deploy/nginx.conf) or s3://bucket/prefix")
    ],
    watch: Annotated[
        bool, typer.Option("--watch", help="keep publishing every change until stopped")
    ] = False,
) -> None:
    """Write the consumer pages, verification documents, cosigned checkpoint, tiles and
    static assets as files; with --watch keep them current (a change within 2 s)."""
    from app.publishing import make_publisher
    from registry.db import upgrade
    from registry.operations.bootstrap import bootstrap
    from registry.publishing.publisher import POLL_SECONDS, PublisherThread

    settings, factory = session_factory()
    try:
        upgrade(settings.effective_database_url)
        ctx = bootstrap(factory, settings)
        publisher = make_publisher(factory, lambda: ctx, settings, where)
        if not watch:
            report = publisher.step()
            err.print(
                _("已发布 %(codes)s 个背书码、%(tiles)s 个瓦片到 %(where)s（日志大小 %(size)s）")
                % {
                    "codes": len(report.codes),
                    "tiles": report.tiles,
                    "where": where,
                    "size": report.log_size,
                }
            )
            return
    except RegistryError as exc:
        fail(exc.detail)
    thread = PublisherThread(publisher)
    thread.start()
    err.print(_("正在持续发布到 %(where)s；按 Ctrl-C 停止") % {"where": where})
    try:
        while True:
            time.sleep(POLL_SECONDS * 4)
    except KeyboardInterrupt:
        pass
    finally:
        thread.stop()
