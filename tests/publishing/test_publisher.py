"""The publisher on a real database (SQLite and PostgreSQL): what it writes is what the
dynamic path serves, it follows the log (revocations, recalls, new endorsements, tiles),
repairs a crash between a commit and its publication, and never lets a reader see half a
file. The multi-worker test runs ``registry serve --workers 2 --publish`` as a subprocess.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.factory import create_app
from app.publishing import make_publisher
from bench import nginx
from registry.context import RegistryContext
from registry.demo import load_demo
from registry.endorsements.scans import ScanCounter, total_scans
from registry.models import CheckpointCosignature, Endorsement, LogState
from registry.operations.bootstrap import bootstrap
from registry.publishing.publisher import Publisher
from registry.publishing.scanlog import ScanLogReader, parse_scan_line
from registry.publishing.targets import DirectoryTarget, atomic_write
from registry.settings import Settings
from registry.transparency import tiles as tile_service
from tests.publishing.helpers import published_document, published_status, revoke_code, wait_for
from tests.support import free_port, serve_env, serve_process


@dataclass
class World:
    factory: sessionmaker[Session]
    ctx: RegistryContext
    settings: Settings
    summary: dict[str, Any]
    root: Path

    def code(self, status: str) -> str:
        return next(e["code"] for e in self.summary["endorsements"] if e["status"] == status)

    def publisher(self) -> Publisher:
        """A new publisher process, as far as its memory goes (it reads the state file)."""
        return make_publisher(self.factory, lambda: self.ctx, self.settings, str(self.root))


@pytest.fixture
def world(session_factory: sessionmaker[Session], settings: Settings, tmp_path: Path) -> World:
    ctx = bootstrap(session_factory, settings)
    summary = load_demo(session_factory, ctx)
    return World(session_factory, ctx, settings, summary, tmp_path / "published")


def _without_time(document: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k != "computed_at"}


def test_the_published_files_are_what_the_dynamic_path_serves(world: World):
    report = world.publisher().step()
    codes = sorted(e["code"] for e in world.summary["endorsements"])
    assert sorted(report.codes) == codes
    app = create_app(world.settings, world.factory.kw["bind"])
    with TestClient(app) as client:
        for code in codes:
            dynamic = client.get(f"/api/v1/verify/{code}").json()
            published = published_document(world.root, code)
            assert published is not None
            assert _without_time(published) == _without_time(dynamic), code
            api = (world.root / "api" / "v1" / "verify" / f"{code}.json").read_bytes()
            assert api == (world.root / "e" / code / "verify.json").read_bytes()
            assert published_status(world.root, code) == dynamic["status"]
        checkpoint = client.get("/log/checkpoint").text
        assert (world.root / "log" / "checkpoint").read_text() == checkpoint
        size = int(checkpoint.split("\n")[1])
        assert (world.root / "log" / "vkey").read_text().strip() == client.get(
            "/log/vkey"
        ).text.strip()
        # Every tile of the checkpoint's tree, byte for byte the dynamic route's.
        tiles = [p for p in (world.root / "log" / "tile").rglob("*") if p.is_file()]
        tiles = [p for p in tiles if p.suffix not in (".gz", ".br")]
        assert tiles
        for path in tiles:
            below = path.relative_to(world.root / "log").as_posix()
            served = client.get(f"/log/{below}", headers={"Accept-Encoding": "identity"})
            assert served.status_code == 200, below
            assert path.read_bytes() == served.content, below
        width = size % tile_service.TILE_WIDTH
        assert (world.root / "log" / "tile" / "0" / f"000.p/{width}").is_file() or width == 0
    # Nothing changed: nothing is rewritten.
    again = world.publisher().step()
    assert again.codes == [] and again.tiles == 0 and not again.checkpoint


def test_a_revocation_and_a_recall_republish_only_the_codes_they_concern(world: World):
    publisher = world.publisher()
    publisher.step()
    code = world.code("valid")
    revoke_code(world.factory, world.ctx, code)
    report = publisher.step()
    assert report.codes == [code]
    assert published_status(world.root, code) == "revoked"
    document = published_document(world.root, code)
    assert document is not None and document["status"] == "revoked"
    # the revocation, then the status index that ends its transaction and proves it
    assert document["revocation"]["index"] == report.log_size - 2
    assert document["checkpoint"]["size"] == report.log_size
    head = document["status_index"]["head"]
    assert head["index"] == report.log_size - 1
    proven = {p["key"]: p["value"] for p in document["status_index"]["proofs"]}
    assert proven[f"endorsement:{code}"]["revocation"] == report.log_size - 2
    assert report.checkpoint


def test_a_crash_between_commit_and_publication_is_repaired_on_restart(world: World):
    world.publisher().step()
    code = world.code("not_yet_valid")
    revoke_code(world.factory, world.ctx, code)  # committed; the publisher "crashed" before
    assert published_status(world.root, code) == "not_yet_valid"
    restarted = world.publisher()  # a new process: its memory is the state file
    report = restarted.step()
    assert code in report.codes
    assert published_status(world.root, code) == "revoked"
    state = json.loads((world.root / ".publish" / "state.json").read_text())
    assert state["log_size"] == report.log_size
    assert state["codes"][code]["status"] == "revoked"


def test_lost_files_are_rewritten_on_restart(world: World):
    world.publisher().step()
    code = world.code("expired")
    for path in (world.root / "e" / code).iterdir():
        path.unlink()
    report = world.publisher().step()
    assert report.codes == [code]
    assert published_status(world.root, code) == "expired"


def test_a_status_reached_by_the_clock_is_republished(world: World):
    clock = [time.time()]
    publisher = world.publisher()
    publisher.wall_clock = lambda: clock[0]
    publisher.step()
    code = world.code("valid")
    with world.factory() as session:
        until = session.scalars(
            select(Endorsement.valid_until).where(Endorsement.code == code)
        ).one()
    clock[0] = until.timestamp() + 1
    world.ctx.clock = lambda: until + timedelta(seconds=1)
    report = publisher.step()
    assert code in report.codes
    assert published_status(world.root, code) == "expired"


# --- a reader never sees half a file -------------------------------------------------------


def _versions() -> list[bytes]:
    """Two large files, different lengths and contents, so any mixture is detectable."""
    return [bytes([65 + i]) * (300_000 + 77_777 * i) for i in range(2)]


def test_a_concurrent_reader_never_sees_a_torn_file(tmp_path: Path):
    versions = _versions()
    known = {hashlib.sha256(v).hexdigest() for v in versions}
    path = tmp_path / "e" / "CODE" / "verify.json"
    atomic_write(path, versions[0])
    stop = threading.Event()
    seen: list[str] = []
    torn: list[int] = []

    def read() -> None:
        while not stop.is_set():
            body = path.read_bytes()
            digest = hashlib.sha256(body).hexdigest()
            seen.append(digest)
            if digest not in known:
                torn.append(len(body))

    readers = [threading.Thread(target=read) for _ in range(2)]
    for reader in readers:
        reader.start()
    for i in range(300):
        atomic_write(path, versions[i % 2])
    stop.set()
    for reader in readers:
        reader.join()
    assert not torn, f"a reader saw {len(torn)} torn files (sizes {torn[:5]})"
    assert len(set(seen)) == 2, "the readers did not see both versions: the test proves nothing"
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")], "temporary files left"


@pytest.mark.skipif(not nginx.available(), reason="Debian's nginx is missing")
def test_nginx_never_serves_a_torn_file_while_it_is_rewritten(tmp_path: Path):
    root = tmp_path / "published"
    target = DirectoryTarget(root)
    versions = _versions()
    known = {hashlib.sha256(v).hexdigest() for v in versions}
    target.write("e/CODE/verify.json", versions[0])
    stop = threading.Event()
    results: list[tuple[int, str]] = []

    with nginx.Nginx(root, "127.0.0.1:9", tmp_path / "nginx", workers=2) as server:

        def read(encoding: str) -> None:
            with httpx.Client(headers={"Accept-Encoding": encoding}) as client:
                while not stop.is_set():
                    response = client.get(f"{server.base}/e/CODE/verify.json")
                    results.append(
                        (response.status_code, hashlib.sha256(response.content).hexdigest())
                    )

        readers = [threading.Thread(target=read, args=(e,)) for e in ("identity", "gzip", "br")]
        for reader in readers:
            reader.start()
        for i in range(200):
            target.write("e/CODE/verify.json", versions[i % 2])
        stop.set()
        for reader in readers:
            reader.join()
    bad = [r for r in results if r[0] != 200 or r[1] not in known]
    assert not bad, f"{len(bad)} of {len(results)} responses were not a whole version"
    assert {h for _, h in results} == known, "the readers did not see both versions"


# --- scans counted from the web server's log ----------------------------------------------


def test_scans_are_counted_from_the_web_servers_log(world: World, tmp_path: Path):
    code = world.code("valid")
    log = tmp_path / "scans.log"
    log.write_text("")
    counter = ScanCounter()
    reader = ScanLogReader(log, counter, world.factory, position_file=tmp_path / "pos")
    now = time.time()
    lines = [
        f"{now:.3f} 200 GET /e/{code}",
        f"{now:.3f} 304 GET /E/{code}",
        f"{now:.3f} 200 GET /api/v1/verify/{code}",  # an app's scan (count=0 is not logged)
        f"{now:.3f} 200 GET /e/{code}?lang=en",
        f"{now:.3f} 404 GET /e/{code}",
        f"{now:.3f} 200 HEAD /e/{code}",
        f"{now:.3f} 200 GET /e/NOTACODE1",
    ]
    with log.open("a") as out:
        out.write("\n".join(lines) + "\n" + f"{now:.3f} 200 GET /e/{code}")  # last: unfinished
    assert reader.read() == 4
    with log.open("a") as out:
        out.write("\n")
    assert reader.read() == 1
    assert reader.read() == 0
    # A restart resumes after what was read.
    again = ScanLogReader(log, counter, world.factory, position_file=tmp_path / "pos")
    assert again.read() == 0
    counter.flush(world.factory)
    with world.factory() as session:
        endorsement = session.scalars(select(Endorsement).where(Endorsement.code == code)).one()
        assert total_scans(session, counter, endorsement.id) == 5
    assert parse_scan_line(f"{now} 200 GET /e/{code}/verify.json") is None


# --- several workers on one database --------------------------------------------------------


@pytest.fixture
def served(world: World, tmp_path: Path) -> Iterator[tuple[World, str]]:
    """``registry serve --workers 2 --publish DIR`` on the test database."""
    port = free_port()
    publish = ("--workers", "2", "--publish", str(world.root))
    with serve_process(
        serve_env(world.settings), tmp_path / "serve.log", *publish, port=port
    ) as process:
        codes = [e["code"] for e in world.summary["endorsements"]]
        wait_for(
            "the server published every code",
            lambda: (
                process.poll() is None and all(published_document(world.root, c) for c in codes)
            ),
            timeout=90,
        )
        yield world, f"http://127.0.0.1:{port}"


def test_with_two_workers_a_revocation_is_published_within_2_s(served: tuple[World, str]):
    world, _base = served
    code = world.code("valid")
    committed = revoke_code(world.factory, world.ctx, code)  # a commit from another process
    wait_for("revoked published", lambda: published_status(world.root, code) == "revoked")
    elapsed = time.monotonic() - committed
    assert elapsed <= 2.0, f"{elapsed:.2f} s from commit to published"
    document = published_document(world.root, code)
    assert document is not None and document["status"] == "revoked"
    locks = world.root / ".publish" / "lock"
    assert locks.exists()


def test_registry_publish_writes_the_tree_once(world: World):
    env = {
        **os.environ,
        "REGISTRY_DATABASE_URL": world.settings.effective_database_url,
        "REGISTRY_DATA_DIR": str(world.settings.data_dir),
        "REGISTRY_MASTER_KEY": world.settings.master_key,
        "LANG": "en_US.UTF-8",
    }
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "publish", str(world.root)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "Published 6 endorsement codes" in done.stderr, done.stderr
    for entry in world.summary["endorsements"]:
        assert published_status(world.root, entry["code"]) == entry["status"]
    assert (world.root / "log" / "checkpoint").is_file()
    assert (world.root / ".publish" / "nginx-page-headers.conf").read_text().count(
        "add_header"
    ) >= 4


def test_with_a_witness_the_published_checkpoints_carry_its_cosignature(
    session_factory: sessionmaker[Session], settings: Settings, tmp_path: Path
):
    """A real witness (the demo's, as its own process): every published document's
    checkpoint carries the witness's cosignature, a revocation's too, within 2 s."""
    from app.demo_witness import start_demo_witness
    from registry.operations.publication import publish_witness_policy
    from registry.transparency import log as log_service
    from tests.support import serve_in_thread

    root = tmp_path / "published"
    ctx = bootstrap(session_factory, settings)
    witness = start_demo_witness(settings.data_dir, log_service.log_vkey(ctx))
    try:
        witnessed = settings.model_copy(
            update={"witnesses": [witness.entry], "publish_dir": str(root)}
        )
        ctx = bootstrap(session_factory, witnessed)
        publish_witness_policy(session_factory, ctx)
        app = create_app(witnessed, session_factory.kw["bind"])
        with serve_in_thread(app):
            summary = load_demo(session_factory, app.state.ctx)
            codes = [e["code"] for e in summary["endorsements"]]
            name = witness.vkey.split("+")[0]

            def cosigned(code: str) -> bool:
                document = published_document(root, code)
                return document is not None and f"— {name} " in document["checkpoint"]["note"]

            try:
                wait_for("every code published cosigned", lambda: all(map(cosigned, codes)), 60)
            except AssertionError as exc:  # say what the publisher saw
                state = (root / ".publish" / "state.json").read_text()
                log = (settings.data_dir / "demo-witness" / "witness.log").read_text()
                with session_factory() as session:
                    newest = session.scalar(select(func.max(CheckpointCosignature.size)))
                    size = session.scalar(select(LogState.size))
                raise AssertionError(
                    f"{exc}; log size {size}, newest cosigned {newest}; state {state[:1500]}; "
                    f"witness log {log[-800:]}"
                ) from None
            code = next(e["code"] for e in summary["endorsements"] if e["status"] == "valid")
            committed = revoke_code(session_factory, app.state.ctx, code)
            wait_for(
                "the revocation published, cosigned",
                lambda: published_status(root, code) == "revoked" and cosigned(code),
            )
            elapsed = time.monotonic() - committed
            assert elapsed <= 2.0, f"{elapsed:.2f} s to a cosigned published revocation"
            assert f"— {name} " in (root / "log" / "checkpoint").read_text()
    finally:
        witness.stop()
