"""C2SP tlog-tiles over HTTP: a client holding only the vkey and the tiles rebuilds the log."""

from __future__ import annotations

import base64
import gzip
from typing import Any

import pytest

from registry.log import merkle
from tests.tiles.conftest import Grown, TileClient, tile_index_path

PROBLEM_JSON = "application/problem+json"
IMMUTABLE = "public, max-age=31536000, immutable"


def _entries(grown: Grown, start: int, end: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    while start < end:
        response = grown.client.get("/log/entries", params={"start": start, "end": end})
        assert response.status_code == 200, response.text
        page = response.json()["entries"]
        assert page, f"/log/entries returned nothing from {start}"
        found += page
        start += len(page)
    return found


def _decode_bundle(body: bytes) -> list[bytes]:
    leaves, at = [], 0
    while at < len(body):
        assert at + 2 <= len(body), "bundle ends inside a length prefix"
        length = int.from_bytes(body[at : at + 2], "big")
        leaves.append(body[at + 2 : at + 2 + length])
        assert len(leaves[-1]) == length, "bundle ends inside an entry"
        at += 2 + length
    return leaves


def test_tiles_rebuild_the_checkpointed_root_and_proofs(grown: Grown) -> None:
    tiles = TileClient(grown.client, grown.size)
    assert tiles.root() == grown.checkpoint.root_hash, (
        "the root built from /log/tile/... differs from the signed checkpoint's"
    )
    # Leaf 0, the last leaf, both sides of the first tile boundary, and some in between.
    for index in sorted({0, 1, 100, 254, 255, 256, 257, grown.size // 2, grown.size - 1}):
        proof = tiles.inclusion_proof(index)
        served = grown.client.get(
            "/log/proof/inclusion", params={"index": index, "tree_size": grown.size}
        ).json()["hashes"]
        assert [base64.b64encode(h).decode() for h in proof] == served, (
            f"inclusion proof of {index} built from tiles differs from /log/proof/inclusion"
        )
        leaf_hash = tiles.tile(0, index // 256)[index % 256]
        merkle.verify_inclusion(leaf_hash, index, grown.size, proof, grown.checkpoint.root_hash)
    for old in (1, 2, 3, 100, 255, 256, 257, grown.size - 1):
        proof = tiles.consistency_proof(old)
        old_root = TileClient(grown.client, old).root()
        merkle.verify_consistency(old, grown.size, proof, old_root, grown.checkpoint.root_hash)
        served = grown.client.get(
            "/log/proof/consistency", params={"old": old, "new": grown.size}
        ).json()["hashes"]
        assert [base64.b64encode(h).decode() for h in proof] == served, (
            f"consistency proof from {old} built from tiles differs from /log/proof/consistency"
        )
    # The tree needs the full level-0 tile 0, the partial level-0 tile 1, the level-1 tile.
    assert "/log/tile/0/000" in tiles.fetched
    assert f"/log/tile/0/001.p/{grown.size - 256}" in tiles.fetched
    assert "/log/tile/1/000.p/1" in tiles.fetched


def test_entry_bundles_decode_to_the_leaves_of_the_entries_api(grown: Grown) -> None:
    entries = _entries(grown, 0, grown.size)
    leaves = [base64.b64decode(e["leaf"]) for e in entries]
    assert [e["index"] for e in entries] == list(range(grown.size))

    full = grown.client.get("/log/tile/entries/000")
    assert full.status_code == 200, full.text
    assert full.headers["content-type"] == "application/octet-stream"
    assert full.headers["cache-control"] == IMMUTABLE
    assert _decode_bundle(full.content) == leaves[:256], "bundle 0 differs from /log/entries"

    width = grown.size - 256
    partial = grown.client.get(f"/log/tile/entries/001.p/{width}")
    assert partial.status_code == 200, partial.text
    assert "immutable" not in partial.headers["cache-control"]
    assert _decode_bundle(partial.content) == leaves[256:], "partial bundle 1 differs"

    # Each entry hashes to the same position of the level-0 tile.
    level0 = grown.client.get("/log/tile/0/000").content
    assert [merkle.leaf_hash(leaf) for leaf in leaves[:256]] == [
        level0[i : i + 32] for i in range(0, 8192, 32)
    ]


def test_entry_bundles_are_gzipped_when_asked_and_plain_otherwise(grown: Grown) -> None:
    plain = grown.client.get("/log/tile/entries/000", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    zipped = grown.client.get("/log/tile/entries/000", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers.get("content-encoding") == "gzip"
    assert zipped.content == plain.content, "gzip changed the bundle's bytes"
    assert "Accept-Encoding" in zipped.headers.get("vary", "")
    on_the_wire = int(zipped.headers["content-length"])
    assert on_the_wire < len(plain.content) / 2, f"gzip sent {on_the_wire} B"
    assert gzip.decompress(gzip.compress(plain.content)) == plain.content


def test_tiles_have_the_spec_layout_and_cache_headers(grown: Grown) -> None:
    full = grown.client.get("/log/tile/0/000")
    assert full.status_code == 200
    assert len(full.content) == 8192, "a full tile is exactly 256 hashes"
    assert full.headers["cache-control"] == IMMUTABLE
    # A partial tile is the prefix of the tile it grows into, at every width.
    for width in (1, 17, 255):
        partial = grown.client.get(f"/log/tile/0/000.p/{width}")
        assert partial.status_code == 200, partial.text
        assert partial.content == full.content[: 32 * width]
        assert partial.headers["cache-control"] != IMMUTABLE
    # Level 1 hashes are level-8 subtree roots: tile 1/000.p/1 is MTH of leaves [0, 256).
    level1 = grown.client.get("/log/tile/1/000.p/1").content
    assert level1 == TileClient(grown.client, 256).root()


@pytest.mark.parametrize(
    "path",
    [
        "0/002",  # no level-0 tile 2 yet
        "0/001",  # tile 1 is still partial
        "1/000",  # nor a full level-1 tile
        "2/000.p/1",  # nor anything at level 2
        "63/000.p/1",
        "entries/001",
        "entries/002.p/1",
        "0/001.p/255",  # wider than the tree
    ],
)
def test_tiles_beyond_the_tree_are_404_problems(grown: Grown, path: str) -> None:
    response = grown.client.get(f"/log/tile/{path}")
    assert response.status_code == 404, f"/log/tile/{path}: {response.status_code}"
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    assert "beyond" in response.json()["detail"]


@pytest.mark.parametrize(
    "path",
    [
        "0/0",  # not 3 digits
        "0/x000/000",  # a second spelling of 000
        "00/000",  # level with a leading zero
        "0/000.p/0",
        "0/000.p/256",
        "0/000.p/01",
        "0/000.p/",
        "64/000",
        "-1/000",
        "x/000",
        "0/001/000",  # inner element without its x
        "0/x001",  # the last element has no x
        "data/000",
        "entries/x000/000",
    ],
)
def test_malformed_tile_paths_are_404_problems(grown: Grown, path: str) -> None:
    response = grown.client.get(f"/log/tile/{path}")
    assert response.status_code == 404, f"/log/tile/{path}: {response.status_code}"
    assert response.headers["content-type"].startswith(PROBLEM_JSON)


def test_index_path_encoding_matches_the_independent_client() -> None:
    from registry.transparency.tiles import encode_tile_index, parse_tile_index

    for n in (0, 5, 999, 1000, 1001, 65535, 1234067, 10**9, 2**40 + 3):
        assert encode_tile_index(n) == tile_index_path(n)
        assert parse_tile_index(tile_index_path(n)) == n


def test_the_checkpoint_is_the_tlog_tiles_checkpoint(grown: Grown) -> None:
    response = grown.client.get("/log/checkpoint")
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.text == grown.note
    origin = grown.checkpoint.origin
    assert origin.endswith("/log") and "://" not in origin, (
        "tlog-tiles: the origin SHOULD be the schema-less prefix"
    )
