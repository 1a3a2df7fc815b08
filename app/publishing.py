"""Wiring the publisher (registry.publishing) to a target, the web pages and a server.

``registry serve --publish DIR`` sets ``REGISTRY_PUBLISH_DIR``; each worker then starts a
``PublisherThread`` (one of them leads, by a lock in ``DIR/.publish``) that keeps DIR
current and, when ``REGISTRY_SCAN_LOG`` names the web server's scan log, counts the scans
it served (registry.publishing.scanlog). ``registry publish DIR`` does one pass, or keeps
it current with ``--watch``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from registry.context import RegistryContext
from registry.endorsements.scans import ScanCounter
from registry.publishing import paths
from registry.publishing.publisher import Publisher, PublisherThread
from registry.publishing.scanlog import ScanLogReader
from registry.publishing.targets import BucketTarget, DirectoryTarget, Target
from registry.settings import Settings
from web.published import fixed_files, render_pages


def target_and_state(where: str, settings: Settings) -> tuple[Target, Path]:
    """The target ``where`` names (a directory, or ``s3://bucket/prefix``) and the local
    directory of the publisher's state and lock."""
    if where.startswith("s3://"):
        name = where.removeprefix("s3://").replace("/", "_")
        return BucketTarget.from_url(where), settings.data_dir / f"publish-{name}"
    root = Path(where)
    return DirectoryTarget(root), root / paths.STATE_DIR


def make_publisher(
    factory: sessionmaker[Session],
    context: Callable[[], RegistryContext],
    settings: Settings,
    where: str,
) -> Publisher:
    """A publisher of the consumer pages and documents into ``where``."""
    target, state_dir = target_and_state(where, settings)
    return Publisher(factory, context, target, state_dir, pages=render_pages, fixed=fixed_files)


def start_publishing(
    factory: sessionmaker[Session],
    read_factory: sessionmaker[Session],
    context: Callable[[], RegistryContext],
    settings: Settings,
    counter: ScanCounter,
) -> PublisherThread | None:
    """Start this worker's publisher thread if ``REGISTRY_PUBLISH_DIR`` is set (woken by this
    process's commits); None otherwise."""
    if not settings.publish_dir:
        return None
    publisher = make_publisher(read_factory, context, settings, settings.publish_dir)
    reader = (
        ScanLogReader(
            Path(settings.scan_log),
            counter,
            read_factory,
            position_file=publisher.state_dir / "scanlog.pos",
        )
        if settings.scan_log
        else None
    )
    thread = PublisherThread(publisher, also=reader.read if reader else None)

    @event.listens_for(factory, "after_commit")
    def _committed(session: Session) -> None:
        thread.wake()

    thread.start()
    return thread
