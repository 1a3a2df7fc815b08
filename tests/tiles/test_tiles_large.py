"""Tiles of a log past 65,536 leaves: full level-1 tiles, partial level-2 tiles.

A log of ``SYNTHETIC`` leaves is written straight into ``log_nodes`` (as ``append_many``
would store it); the app then boots on it, and its bootstrap appends the genesis record as
one more leaf and signs that checkpoint, so the tree served is ``SYNTHETIC + 1`` leaves with
a real signed checkpoint. The tile client checks everything against that checkpoint.
"""

from __future__ import annotations

import base64
import hashlib

from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert

from app.factory import create_app
from registry.log import merkle
from registry.models import LogNode, LogState
from registry.settings import Settings
from registry.transparency.log import LOG_STATE_ID
from registry.transparency.tiles import partial_width
from tests.tiles.conftest import TileClient, open_latest

SYNTHETIC = 70_000
IMMUTABLE = "public, max-age=31536000, immutable"


def _synthetic_log(engine: Engine, size: int) -> None:
    leaves = [hashlib.sha256(b"\x00" + i.to_bytes(8, "big")).digest() for i in range(size)]
    nodes = merkle.append_many(0, leaves, merkle.MemoryNodeStore())
    rows = [{"level": level, "idx": idx, "hash": h} for level, idx, h in nodes]
    with engine.begin() as connection:
        for start in range(0, len(rows), 20_000):
            connection.execute(insert(LogNode), rows[start : start + 20_000])
        connection.execute(insert(LogState), [{"id": LOG_STATE_ID, "size": size}])


def test_partial_widths_follow_the_spec_example() -> None:
    # tlog-tiles §Partial Tiles: "a tree of size 70,000 will be represented by 273 full
    # level 0 tiles, one partial level 0 tile of width 112, one full level 1 tile, one
    # partial level 1 tile of width 17, and one partial level 2 tile of width 1."
    assert 70_000 // 256 == 273
    assert [partial_width(70_000, level) for level in range(4)] == [112, 17, 1, 0]
    assert [partial_width(256, level) for level in range(3)] == [0, 1, 0]


def test_tiles_of_a_large_log(settings: Settings, db: Engine) -> None:
    _synthetic_log(db, SYNTHETIC)
    with TestClient(create_app(settings, db)) as client:
        _, checkpoint, _ = open_latest(client)
        size = checkpoint.size
        # Bootstrap appended the genesis leaf and the status index after it.
        assert size == SYNTHETIC + 2, "bootstrap should have appended the genesis leaf"

        tiles = TileClient(client, size)
        assert tiles.root() == checkpoint.root_hash, "root from tiles != signed checkpoint root"
        assert "/log/tile/2/000.p/1" in tiles.fetched, "the root needs the level-2 partial tile"

        for index in (0, 255, 256, 65_535, 65_536, 69_999, SYNTHETIC):
            proof = tiles.inclusion_proof(index)
            served = client.get(
                "/log/proof/inclusion", params={"index": index, "tree_size": size}
            ).json()["hashes"]
            assert [base64.b64encode(h).decode() for h in proof] == served, f"leaf {index}"
        assert "/log/tile/1/000" in tiles.fetched, "proofs in [0, 65536) use the full level-1 tile"
        for old in (1, 65_536, 65_537, SYNTHETIC):
            proof = tiles.consistency_proof(old)
            old_root = TileClient(client, old).root()
            merkle.verify_consistency(old, size, proof, old_root, checkpoint.root_hash)

        level1 = client.get("/log/tile/1/000")
        assert level1.status_code == 200 and len(level1.content) == 8192
        assert level1.headers["cache-control"] == IMMUTABLE
        assert level1.content[:32] == TileClient(client, 256).root(), (
            "the first level-1 hash must be the root of leaves [0, 256)"
        )
        assert client.get(f"/log/tile/1/001.p/{partial_width(size, 1)}").status_code == 200
        assert client.get("/log/tile/0/272").status_code == 200  # the last full level-0 tile
        assert client.get(f"/log/tile/0/273.p/{partial_width(size, 0)}").status_code == 200
        assert client.get("/log/tile/0/273").status_code == 404
        assert client.get("/log/tile/1/001").status_code == 404
        assert client.get("/log/tile/2/000").status_code == 404
