"""registry.log.compact: a stream of leaves has the root and the nodes the stored tree has."""

from __future__ import annotations

import hashlib

import pytest

from registry.log.compact import CompactRange
from registry.log.merkle import EMPTY_ROOT, MemoryNodeStore, append_many, leaf_hash, tree_root


def _leaves(n: int) -> list[bytes]:
    return [leaf_hash(hashlib.sha256(str(i).encode()).digest()) for i in range(n)]


def test_every_size_has_the_root_and_the_nodes_of_the_stored_tree() -> None:
    hashes = _leaves(130)
    store = MemoryNodeStore(hashes)
    stored = append_many(0, hashes, MemoryNodeStore())
    streamed = CompactRange()
    assert streamed.root() == EMPTY_ROOT
    completed = []
    for size, h in enumerate(hashes, start=1):
        completed += streamed.append(h)
        assert streamed.size == size
        assert streamed.root() == tree_root(size, store), size
    assert completed == stored


def test_a_changed_leaf_changes_the_root() -> None:
    hashes = _leaves(11)
    honest, tampered = CompactRange(), CompactRange()
    for i, h in enumerate(hashes):
        honest.append(h)
        tampered.append(leaf_hash(b"other") if i == 7 else h)
    assert honest.root() != tampered.root()


def test_a_leaf_hash_has_32_bytes() -> None:
    with pytest.raises(ValueError):
        CompactRange().append(b"short")
