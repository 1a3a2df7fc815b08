"""Fixtures for tests/tiles: a demo registry grown past one full tile, and a tile client.

``grown`` (built once per module and backend, then only read) starts the app on emptied tables
(SQLite and PostgreSQL), loads the demo dataset, registers a client-held key for the Aohan
cooperative's clerk and appends ``EXTRA_RECORDS`` signed storage records on its millet lot
through ``records.submit_many``, a few batches at a time, so the log holds a full level-0 tile,
a partial one, and a partial level-1 tile, and has published several checkpoints.

``TileClient`` knows nothing but HTTP and RFC 6962: it builds roots and proofs from tiles.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from app.factory import create_app
from registry.crypto.dsse import Envelope, sign_envelope
from registry.crypto.jcs import canonicalize
from registry.crypto.keys import Signer
from registry.db import transaction
from registry.demo import demo_id, load_demo
from registry.log.note import Checkpoint, NoteVerifier, open_checkpoint, parse_vkey
from registry.models import Account, Batch
from registry.records import ingest as record_service
from registry.records import keys as key_service
from registry.records.schema import RECORD_PAYLOAD_TYPE
from registry.settings import Settings
from tests.support import empty_tables

EXTRA_RECORDS = 300
BATCH_SIZES = (1, 7, 64, 100, 128)  # cycled: checkpoints land on varied sizes
CLERK = "aohan-clerk"
LOT = "AH2026-001"
BEIJING = timezone(timedelta(hours=8))


# --- signed storage records --------------------------------------------------------------------


def storage_envelopes(
    signer: Signer, org_id: str, ref: str, head: str, count: int, start: int = 0
) -> tuple[list[Envelope], str]:
    """``count`` storage records on batch ``ref``, each chained to the previous one.

    Returns the envelopes and the digest of the last (the batch's next head).
    """
    envelopes = []
    base = datetime.now(UTC) - timedelta(hours=2)
    for i in range(start, start + count):
        moment = (base + timedelta(seconds=i % 3600)).astimezone(BEIJING)
        document = {
            "kind": "storage",
            "time": moment.isoformat(timespec="seconds"),
            "org": org_id,
            "batches": [ref],
            "prev": {ref: head},
            "location": f"敖汉旗 3 号粮仓 Granary 3, bay {i % 40}",
            "readings": [{"time": moment.isoformat(timespec="seconds"), "celsius": f"{i % 9}.5"}],
            "note": f"routine check {i}",
        }
        payload = canonicalize(document)
        envelopes.append(sign_envelope(RECORD_PAYLOAD_TYPE, payload, [signer]))
        head = hashlib.sha256(payload).hexdigest()
    return envelopes, head


def register_client_key(app: FastAPI, username: str) -> tuple[Signer, Account]:
    """Register a new client-held key for a demo account (proof of possession)."""
    signer = Signer.generate()
    ctx = app.state.ctx
    with transaction(app.state.session_factory) as session:
        account = session.scalars(select(Account).where(Account.username == username)).one()
        payload = key_service.registration_draft(session, ctx, account, signer.public_key_raw)
        envelope = sign_envelope(RECORD_PAYLOAD_TYPE, payload, [signer])
        key_service.register_client_key(session, ctx, account, envelope)
    return signer, account


def append_storage(app: FastAPI, signer: Signer, account: Account, count: int) -> None:
    """Append ``count`` storage records on the demo millet lot, in batches of BATCH_SIZES."""
    ctx = app.state.ctx
    ref = f"{demo_id('product:millet')}:{LOT}"
    done = 0
    sizes = iter(BATCH_SIZES * (count // sum(BATCH_SIZES) + 1))
    while done < count:
        size = min(next(sizes), count - done)
        with transaction(app.state.session_factory) as session:
            batch = session.scalars(select(Batch).where(Batch.lot == LOT)).one()
            envelopes, _ = storage_envelopes(
                signer, str(account.organization_id), ref, batch.head_digest, size, done
            )
            record_service.submit_many(session, ctx, envelopes, account)
        done += size


# --- a client that knows only tiles ------------------------------------------------------------


def tile_index_path(n: int) -> str:
    """tlog-tiles path encoding, written independently of the server's."""
    digits = f"{n:d}"
    digits = digits.zfill((len(digits) + 2) // 3 * 3)
    groups = [digits[i : i + 3] for i in range(0, len(digits), 3)]
    return "/".join([*("x" + g for g in groups[:-1]), groups[-1]])


def _hash_children(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


@dataclass
class TileClient:
    """Computes RFC 6962 roots and proofs for a checkpointed tree from tlog-tiles alone."""

    http: httpx.Client | TestClient
    size: int
    prefix: str = "/log"
    fetched: dict[str, bytes] = field(default_factory=dict)

    def tile(self, level: int, index: int) -> list[bytes]:
        """The hashes of tile (level, index) for this tree size: full, or the partial one."""
        available = self.size >> (8 * level)
        width = min(256, available - index * 256)
        assert width > 0, f"tile {level}/{index} is not part of a tree of size {self.size}"
        path = f"{self.prefix}/tile/{level}/{tile_index_path(index)}"
        if width < 256:
            path += f".p/{width}"
        if path not in self.fetched:
            response = self.http.get(path)
            assert response.status_code == 200, f"GET {path}: {response.status_code}"
            assert response.headers["content-type"] == "application/octet-stream"
            assert len(response.content) == 32 * width, f"{path} has {len(response.content)} B"
            self.fetched[path] = response.content
        body = self.fetched[path]
        return [body[i : i + 32] for i in range(0, len(body), 32)]

    def node(self, height: int, index: int) -> bytes:
        """Hash of the complete subtree of 2**height leaves starting at leaf index * 2**height."""
        assert (index + 1) << height <= self.size
        level, rest = divmod(height, 8)
        # The subtree's 2**rest hashes at tile level `level` are consecutive in one tile.
        first = index << rest
        hashes = self.tile(level, first // 256)[first % 256 : first % 256 + (1 << rest)]
        while len(hashes) > 1:
            hashes = [_hash_children(a, b) for a, b in zip(hashes[::2], hashes[1::2], strict=True)]
        return hashes[0]

    def mth(self, lo: int, hi: int) -> bytes:
        """RFC 6962 §2.1 MTH(D[lo:hi]) from complete subtrees."""
        n = hi - lo
        if n & (n - 1) == 0 and lo % n == 0:
            return self.node(n.bit_length() - 1, lo // n)
        k = 1 << ((n - 1).bit_length() - 1)
        return _hash_children(self.mth(lo, lo + k), self.mth(lo + k, hi))

    def root(self) -> bytes:
        return self.mth(0, self.size)

    def inclusion_proof(self, index: int) -> list[bytes]:
        """RFC 6962 §2.1.1 PATH(index, D[0:size])."""

        def path(m: int, lo: int, hi: int) -> list[bytes]:
            if hi - lo == 1:
                return []
            k = 1 << ((hi - lo - 1).bit_length() - 1)
            if m < k:
                return [*path(m, lo, lo + k), self.mth(lo + k, hi)]
            return [*path(m - k, lo + k, hi), self.mth(lo, lo + k)]

        return path(index, 0, self.size)

    def consistency_proof(self, old: int) -> list[bytes]:
        """RFC 6962 §2.1.2 PROOF(old, D[0:size])."""

        def subproof(m: int, lo: int, hi: int, complete: bool) -> list[bytes]:
            if m == hi - lo:
                return [] if complete else [self.mth(lo, hi)]
            k = 1 << ((hi - lo - 1).bit_length() - 1)
            if m <= k:
                return [*subproof(m, lo, lo + k, complete), self.mth(lo + k, hi)]
            return [*subproof(m - k, lo + k, hi, False), self.mth(lo, lo + k)]

        return subproof(old, 0, self.size, True)


# --- the grown demo ---------------------------------------------------------------------------


@dataclass
class Grown:
    client: TestClient
    app: FastAPI
    verifier: NoteVerifier
    checkpoint: Checkpoint
    note: str

    @property
    def size(self) -> int:
        return self.checkpoint.size


def open_latest(client: TestClient) -> tuple[NoteVerifier, Checkpoint, str]:
    """Fetch /log/vkey and /log/checkpoint; verify the checkpoint with the vkey."""
    verifier = parse_vkey(client.get("/log/vkey").text.strip())
    note = client.get("/log/checkpoint").text
    checkpoint, _ = open_checkpoint(note, [verifier])
    return verifier, checkpoint, note


@pytest.fixture(scope="module")
def grown(
    engine: Engine, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Grown]:
    """Built once per module and backend (it takes seconds); tests only read from it."""
    empty_tables(engine)
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("grown"),
        database_url=database_url,
        base_url="http://127.0.0.1:8000",
        master_key=base64.b64encode(secrets.token_bytes(32)).decode(),
    )
    try:
        with TestClient(create_app(settings, engine)) as client:
            app = client.app
            assert isinstance(app, FastAPI)
            load_demo(app.state.session_factory, app.state.ctx)
            signer, account = register_client_key(app, CLERK)
            append_storage(app, signer, account, EXTRA_RECORDS)
            verifier, checkpoint, note = open_latest(client)
            assert 256 < checkpoint.size < 512, f"want one full level-0 tile: {checkpoint.size=}"
            yield Grown(client, app, verifier, checkpoint, note)
    finally:
        empty_tables(engine)
