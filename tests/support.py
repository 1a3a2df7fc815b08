"""Helpers for tests that run the registry (or the witness) as a real HTTP server: in a
thread of the test process, or as a ``registry serve`` process; and for emptying a test
database between tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from bench.servers import free_port, stop_group
from registry.models import Base
from registry.settings import Settings


def empty_tables(engine: Engine, *, restart_identity: bool = True) -> None:
    """Delete every row of every table. ``restart_identity=False`` keeps PostgreSQL's
    sequences where they are (a restored backup's rows keep their ids, and new rows must
    not reuse them)."""
    tables = list(reversed(Base.metadata.sorted_tables))
    if engine.dialect.name != "postgresql":
        with engine.begin() as connection:
            for table in tables:
                connection.execute(table.delete())
        return
    names = ", ".join(f'"{t.name}"' for t in tables)
    restart = " RESTART IDENTITY" if restart_identity else ""
    # TRUNCATE takes every table's exclusive lock, one by one, while a live test server's
    # background threads (scan-cache watcher, witness submitter) may be reading them in
    # another order: PostgreSQL then picks one side as a deadlock victim. It is always
    # safe to try the truncation again; a real lock-up would still fail after the retries.
    for attempt in range(5):
        try:
            with engine.begin() as connection:
                connection.execute(text(f"TRUNCATE {names}{restart} CASCADE"))
            return
        except OperationalError as exc:
            if "deadlock detected" not in str(exc) or attempt == 4:
                raise
            time.sleep(0.1 * (attempt + 1))


def bound_socket(port: int = 0) -> socket.socket:
    """A socket bound to 127.0.0.1:``port`` (0: any free port), for ``serve_in_thread``;
    binding first tells the caller its URL before the app exists."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    return sock


def url_of(sock: socket.socket) -> str:
    return f"http://127.0.0.1:{sock.getsockname()[1]}"


@contextmanager
def serve_in_thread(app: Any, sock: socket.socket | None = None) -> Iterator[str]:
    """Run the ASGI ``app`` with uvicorn in a thread on ``sock`` (default: a free port) until
    the block ends; yield its URL. The socket is closed afterwards."""
    sock = sock or bound_socket()
    # In a thread uvicorn leaves signal handling alone (it belongs to the main thread), so
    # nothing tells an open event stream that the server stops: after 5 s it is cancelled.
    config = uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert thread.is_alive(), "the server died while starting"
            assert time.monotonic() < deadline, "the server did not start in 30 s"
            time.sleep(0.02)
        yield url_of(sock)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
        assert not thread.is_alive(), "the server did not stop in 30 s"


def cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"registry {' '.join(args)} failed: {done.stderr}"
    return done.stdout


def registry_env(tmp_path: Path, backend: str, postgres_url: str, name: str) -> dict[str, str]:
    """Environment for a registry process: SQLite in ``tmp_path`` or a fresh PG database."""
    from tests.conftest import _recreate_postgres

    env = {**os.environ, "REGISTRY_DATA_DIR": str(tmp_path / "data")}
    env.pop("REGISTRY_DATABASE_URL", None)  # the README default: SQLite in the data dir
    if backend == "postgresql":
        url = make_url(postgres_url).set(database=f"{name}_{os.getpid()}")
        rendered = url.render_as_string(hide_password=False)
        _recreate_postgres(rendered)
        env["REGISTRY_DATABASE_URL"] = rendered
    return env


def drop_database(env: dict[str, str]) -> None:
    from tests.conftest import _recreate_postgres

    url = env.get("REGISTRY_DATABASE_URL", "")
    if url.startswith("postgresql"):
        _recreate_postgres(url, create=False)


def serve_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment of a ``registry serve`` on the database, data directory, master key
    and base URL of ``settings``, with no integrity check and no witnesses; ``extra`` on top."""
    env = {
        **os.environ,
        "REGISTRY_DATABASE_URL": settings.effective_database_url,
        "REGISTRY_DATA_DIR": str(settings.data_dir),
        "REGISTRY_MASTER_KEY": settings.master_key,
        "REGISTRY_BASE_URL": settings.base_url,
        "REGISTRY_INTEGRITY_CHECK": "false",
        **extra,
    }
    env.pop("REGISTRY_WITNESSES", None)
    return env


@contextmanager
def serve_process(
    env: dict[str, str], log_path: Path, *args: str, port: int
) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``registry serve --port PORT ARGS`` (its output appended to ``log_path``) and
    stop it when the block ends, unless the block already did. It runs as its own process
    group, so that a signal reaches every worker process."""
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--port", str(port), *args],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield process
    finally:
        stop_group(process)


def wait_until_healthy(
    server: subprocess.Popen[bytes], base: str, log_path: Path, timeout: float = 90
) -> None:
    """Wait until the ``registry serve`` at ``base`` answers ``/healthz``; fail with its log
    if it ends first, or after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        assert server.poll() is None, log_path.read_text(errors="replace")[-3000:]
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"registry serve did not come up in {timeout} s"
        time.sleep(0.3)


@contextmanager
def running_registry(
    env: dict[str, str],
    log_path: Path,
    *args: str,
    port: int | None = None,
    set_base_url: bool = True,
) -> Iterator[str]:
    """Run ``registry serve ARGS`` until the block ends; yields the URL it listens on, once
    ``/healthz`` answers. ``set_base_url``: point ``REGISTRY_BASE_URL`` there too (else leave
    it to ``serve``)."""
    port = port or free_port()
    if set_base_url:
        env = {**env, "REGISTRY_BASE_URL": f"http://127.0.0.1:{port}"}
    base = f"http://127.0.0.1:{port}"
    with serve_process(env, log_path, *args, port=port) as server:
        wait_until_healthy(server, base, log_path)
        yield base
