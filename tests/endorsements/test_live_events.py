"""``GET /api/v1/endorsements/{code}/events`` against a real server (uvicorn in a thread) on
the demo dataset, SQLite and PostgreSQL: the first event carries the state and the retry
field, a revocation and a scan each arrive as an event within 2 s (measured and printed),
heartbeats keep an idle stream alive, the server ends a stream after its lifetime, many
clients of one code cost one count query per step, an unknown code is a 404 problem, and
``registry serve`` stops at once on SIGTERM with a stream open."""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, select

from app.factory import create_app
from registry.db import transaction
from registry.demo import load_demo
from registry.endorsements import decisions as endorsement_service
from registry.models import Account, Endorsement, EndorsementSigner
from registry.settings import Settings
from tests.support import (
    cli,
    drop_database,
    empty_tables,
    registry_env,
    running_registry,
    serve_in_thread,
)

FLIP_SECONDS = 2.0


@dataclass
class Server:
    url: str
    app: FastAPI
    summary: dict[str, Any]

    def code(self, status: str, index: int = 0) -> str:
        found = [e["code"] for e in self.summary["endorsements"] if e["status"] == status]
        assert len(found) > index, f"the demo has no {status} endorsement #{index}"
        return found[index]


@pytest.fixture(scope="module")
def server(
    engine: Engine, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("live") / "data",
        database_url=database_url,
        base_url="http://127.0.0.1:8000",
        master_key=base64.b64encode(secrets.token_bytes(32)).decode(),
    )
    empty_tables(engine)
    try:
        app = create_app(settings, engine)
        with serve_in_thread(app) as url:
            summary = load_demo(app.state.session_factory, app.state.ctx)
            yield Server(url, app, summary)
    finally:
        empty_tables(engine)


class Stream:
    """An open event stream, read in a thread: (arrival time, event name, data, retry)."""

    def __init__(self, url: str) -> None:
        self.events: list[tuple[float, str, str, str | None]] = []
        self.opened = threading.Event()
        self.ended = threading.Event()
        self.status: int | None = None
        self._client = httpx.Client(timeout=httpx.Timeout(5, read=60))
        self._thread = threading.Thread(target=self._read, args=(url,), daemon=True)
        self._thread.start()
        assert self.opened.wait(10), "the stream did not open"

    def _read(self, url: str) -> None:
        try:
            with self._client.stream("GET", url) as response:
                self.status = response.status_code
                self.headers = response.headers
                self.opened.set()
                name, data, retry = "message", "", None
                for line in response.iter_lines():
                    if line == "":
                        self.events.append((time.monotonic(), name, data, retry))
                        name, data, retry = "message", "", None
                    elif line.startswith("event: "):
                        name = line[7:]
                    elif line.startswith("data: "):
                        data = line[6:]
                    elif line.startswith("retry: "):
                        retry = line[7:]
        except httpx.HTTPError:
            pass
        finally:
            self.opened.set()
            self.ended.set()

    def states(self) -> list[dict[str, Any]]:
        return [json.loads(data) for _, name, data, _ in self.events if name == "state"]

    def wait_for(self, check: Any, seconds: float) -> float:
        """Seconds until a state event satisfies ``check``; fails after ``seconds`` + 1."""
        started = time.monotonic()
        while not any(check(s) for s in self.states()):
            assert time.monotonic() - started < seconds + 1, f"no such event: {self.states()}"
            time.sleep(0.02)
        return time.monotonic() - started

    def close(self) -> None:
        self._client.close()
        self._thread.join(timeout=5)


@pytest.fixture
def streams() -> Iterator[list[Stream]]:
    opened: list[Stream] = []
    yield opened
    for stream in opened:
        stream.close()


def _open(server: Server, streams: list[Stream], code: str) -> Stream:
    stream = Stream(f"{server.url}/api/v1/endorsements/{code}/events")
    streams.append(stream)
    assert stream.status == 200
    return stream


def test_the_first_event_is_the_state_with_a_retry_delay(server: Server, streams: list[Stream]):
    code = server.code("recalled")
    stream = _open(server, streams, code)
    assert stream.headers["content-type"].startswith("text/event-stream")
    assert stream.headers["cache-control"] == "no-store"
    stream.wait_for(lambda s: True, 2)
    _, name, data, retry = stream.events[0]
    assert name == "state" and retry == "1000"
    first = json.loads(data)
    assert first["code"] == code and first["status"] == "recalled"
    scans = httpx.get(f"{server.url}/api/v1/endorsements/{code}/scans").json()["total"]
    assert first["scans"] == scans


def test_a_scan_and_a_revocation_arrive_within_two_seconds(server: Server, streams: list[Stream]):
    code = server.code("valid")
    stream = _open(server, streams, code)
    stream.wait_for(lambda s: s["status"] == "valid", 2)
    before = stream.states()[0]["scans"]
    scanned = time.monotonic()
    assert httpx.get(f"{server.url}/api/v1/verify/{code}").status_code == 200
    stream.wait_for(lambda s: s["scans"] == before + 1, FLIP_SECONDS)
    scan_latency = (
        next(
            t
            for t, n, d, _ in stream.events
            if n == "state" and json.loads(d)["scans"] == before + 1
        )
        - scanned
    )
    factory = server.app.state.session_factory
    with transaction(factory) as session:
        endorsement = session.scalars(select(Endorsement).where(Endorsement.code == code)).one()
        signer = session.scalars(
            select(EndorsementSigner).where(EndorsementSigner.endorsement_id == endorsement.id)
        ).first()
        assert signer is not None
        official = session.get(Account, signer.account_id)
        assert official is not None
        endorsement_service.revoke(session, server.app.state.ctx, code, official, "测试 a test")
    revoked = time.monotonic()
    stream.wait_for(lambda s: s["status"] == "revoked", FLIP_SECONDS)
    flip = (
        next(
            t
            for t, n, d, _ in stream.events
            if n == "state" and json.loads(d)["status"] == "revoked"
        )
        - revoked
    )
    print(
        f"\nevent stream: scan after {scan_latency * 1000:.0f} ms, "
        f"revocation after {flip * 1000:.0f} ms"
    )
    assert scan_latency < FLIP_SECONDS and flip < FLIP_SECONDS


def test_heartbeats_and_the_end_of_a_stream(server: Server, streams: list[Stream]):
    board = server.app.state.live_board
    board.heartbeat_seconds, board.stream_seconds = 0.3, 1.5
    try:
        code = server.code("expired")
        started = time.monotonic()
        stream = _open(server, streams, code)
        assert stream.ended.wait(6), "the server did not end the stream"
        lasted = time.monotonic() - started
        assert 1.2 < lasted < 4, f"the stream lasted {lasted:.1f} s, not about 1.5 s"
        beats = [e for e in stream.events if e[1] == "heartbeat"]
        assert len(beats) >= 2, f"heartbeats: {len(beats)} in {lasted:.1f} s"
        assert [e[1] for e in stream.events].count("state") == 1, "nothing changed, yet..."
        # Nobody watches any more: the board stops reading the code.
        deadline = time.monotonic() + 3
        while code in board.watched():
            assert time.monotonic() < deadline, "the ended stream is still watched"
            time.sleep(0.05)
    finally:
        board.heartbeat_seconds, board.stream_seconds = 10.0, 30.0


def test_many_clients_of_a_code_share_one_count_query(server: Server, streams: list[Stream]):
    board = server.app.state.live_board
    code = server.code("not_yet_valid")
    for _ in range(6):
        _open(server, streams, code)
    for stream in streams:
        stream.wait_for(lambda s: True, 2)
    steps, queries = board.steps, board.count_queries
    time.sleep(2)
    steps, queries = board.steps - steps, board.count_queries - queries
    assert steps >= 2, "the board did not step"
    assert queries <= steps, f"{queries} count queries in {steps} steps for 6 clients"
    before = streams[0].states()[-1]["scans"]
    assert httpx.get(f"{server.url}/api/v1/verify/{code}").status_code == 200
    for stream in streams:
        stream.wait_for(lambda s: s["scans"] == before + 1, FLIP_SECONDS)


def test_an_unknown_or_malformed_code_is_a_404_problem(server: Server):
    for code in ("ZZZZZZZZZ", "not a code"):
        answer = httpx.get(f"{server.url}/api/v1/endorsements/{code}/events")
        assert answer.status_code == 404, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert answer.json()["status"] == 404


def test_registry_serve_stops_at_once_with_a_stream_open(
    tmp_path: Path, database_url: str, streams: list[Stream]
):
    backend = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    if backend == "postgresql":
        pytest.skip("the shutdown does not depend on the database; SQLite is enough")
    env = registry_env(tmp_path, backend, database_url, "live_serve")
    try:
        summary = json.loads(cli(env, "demo", "--json"))
        code = next(e["code"] for e in summary["endorsements"] if e["status"] == "valid")
        with running_registry(env, tmp_path / "serve.log") as base:
            stream = Stream(f"{base}/api/v1/endorsements/{code}/events")
            streams.append(stream)
            stream.wait_for(lambda s: True, 3)
            stopped = time.monotonic()
        # Leaving running_registry sent SIGTERM and waited for the process to exit.
        took = time.monotonic() - stopped
        print(f"\nregistry serve stopped {took:.2f} s after SIGTERM with a stream open")
        assert took < 5, f"registry serve took {took:.1f} s to stop with a stream open"
        assert stream.ended.wait(5)
    finally:
        drop_database(env)
