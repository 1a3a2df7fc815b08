"""Fixtures of the trace and recall tests: the endorsement tests' small world (SQLite and
PostgreSQL), a lineage with two processing steps in it, and a real HTTP receiver for
webhooks on 127.0.0.1."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from sqlalchemy import Engine

from registry.settings import Settings
from tests.endorsements.world import World, build_world


@pytest.fixture
def world(settings: Settings, db: Engine) -> Iterator[World]:
    with build_world(settings, db) as built:
        yield built


@dataclass
class Lineage:
    """Two raw millet lots → (mill, processing 1) hulled millet → (processing 2) 2.5 kg bags.

    Refs as records name the batches; ``code`` maps each ref to its public code.
    """

    raw_a: str
    raw_b: str
    hulled: str
    packaged: str
    code: dict[str, str]


def build_lineage(world: World) -> Lineage:
    raw_a = world.good_millet("RA1")
    raw_b = world.good_millet("RB1")
    mill = world.mill
    hulled = mill.ref("hulled", "H1")
    packaged = mill.ref("packaged", "P1")
    world.process([(raw_a, "600"), (raw_b, "400")], [(hulled, "800", "kg")], days_ago=12)
    world.process([(hulled, "800")], [(packaged, "320", "bag")], days_ago=10)
    world.certify(mill, packaged, days_ago=9)
    refs = (raw_a, raw_b, hulled, packaged)
    return Lineage(raw_a, raw_b, hulled, packaged, {r: world.code_of(r) for r in refs})


@pytest.fixture
def lineage(world: World) -> Lineage:
    return build_lineage(world)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A webhook endpoint: records every POST and answers with the scripted statuses (then
    200)."""

    statuses: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self) -> int:
        with self.lock:
            return len(self.received)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with state.lock:
                state.received.append(Received(self.path, dict(self.headers.items()), body))
                status = state.statuses.pop(0) if state.statuses else 200
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"boom" if status >= 400 else b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/registry"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
