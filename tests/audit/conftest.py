"""Fixtures for the audit tests: a live registry with the demo dataset (see helpers.py).

Loading the demo takes seconds, so each backend serves one registry for the whole module;
``live`` hands it to a test and afterwards puts every table back the way the demo left it,
undoing whatever the test tampered with or added.
"""

from __future__ import annotations

import base64
import secrets
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import Request, Response
from sqlalchemy import Engine

from app.factory import create_app
from registry.demo import load_demo
from registry.settings import Settings
from tests.audit.helpers import (
    LiveRegistry,
    publish_as_serve_does,
    restore_tables,
    snapshot_tables,
)
from tests.support import empty_tables, serve_in_thread


@pytest.fixture(scope="module")
def demo_registry(
    engine: Engine, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[LiveRegistry, dict[str, list[dict[str, Any]]]]]:
    """One registry per backend with the demo dataset, served over real HTTP."""
    empty_tables(engine, restart_identity=False)
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("registry-data"),
        database_url=database_url,
        base_url="http://127.0.0.1:8000",
        master_key=base64.b64encode(secrets.token_bytes(32)).decode(),
    )
    app = create_app(settings, engine)
    requests: list[str] = []

    @app.middleware("http")
    async def _record_request(request: Request, call_next: Any) -> Response:
        query = request.url.query
        requests.append(request.url.path + (f"?{query}" if query else ""))
        response: Response = await call_next(request)
        return response

    try:
        with serve_in_thread(app) as url:
            registry = LiveRegistry(url, app, engine, requests)
            load_demo(registry.factory, registry.ctx)
            publish_as_serve_does(registry.factory, registry.ctx)
            yield registry, snapshot_tables(engine)
    finally:
        empty_tables(engine, restart_identity=False)


@pytest.fixture
def live(
    demo_registry: tuple[LiveRegistry, dict[str, list[dict[str, Any]]]],
) -> Iterator[LiveRegistry]:
    """The demo registry, as the demo left it; restored after the test."""
    registry, snapshot = demo_registry
    registry.requests.clear()
    try:
        yield registry
    finally:
        restore_tables(registry.engine, snapshot)


@pytest.fixture
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
