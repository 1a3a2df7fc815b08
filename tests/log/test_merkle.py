"""Tests for registry.log.merkle.

Verification is pinned by the transparency-dev/merkle vectors and by real Certificate
Transparency data; generation is checked against a naive implementation written straight
from RFC 9162 §2.1 (MTH, PATH, SUBPROOF over the list of leaves) and against the verifiers.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.errors import InvalidInput, NotFound, VerificationError
from registry.log.merkle import (
    EMPTY_ROOT,
    MemoryNodeStore,
    append_many,
    append_nodes,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_from_inclusion_proof,
    subtree_keys,
    tree_root,
    verify_consistency,
    verify_inclusion,
    verify_witness_consistency,
)

MAX_SIZE = 300
BOUNDED = settings(max_examples=150, deadline=None)


def b64(value: str) -> bytes:
    return base64.b64decode(value)


def flip_bit(value: bytes, bit: int = 0) -> bytes:
    out = bytearray(value)
    out[bit // 8 % len(out)] ^= 1 << (bit % 8)
    return bytes(out)


# --- Naive reference: RFC 9162 §2.1 over the leaf list, memoized by range --------------------


def naive_split(n: int) -> int:
    """Largest power of two smaller than n, by counting (independent of the bit trick)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


class NaiveTree:
    """MTH, PATH and SUBPROOF exactly as RFC 9162 §2.1 writes them, over D[lo:hi]."""

    def __init__(self, leaves: Sequence[bytes]) -> None:
        self.leaves = list(leaves)
        self.mth = functools.cache(self._mth)

    def _mth(self, lo: int, hi: int) -> bytes:
        n = hi - lo
        if n == 0:
            return hashlib.sha256(b"").digest()
        if n == 1:
            return hashlib.sha256(b"\x00" + self.leaves[lo]).digest()
        k = naive_split(n)
        return hashlib.sha256(b"\x01" + self.mth(lo, lo + k) + self.mth(lo + k, hi)).digest()

    def path(self, m: int, lo: int, hi: int) -> list[bytes]:
        n = hi - lo
        if n == 1:
            return []
        k = naive_split(n)
        if m < k:
            return [*self.path(m, lo, lo + k), self.mth(lo + k, hi)]
        return [*self.path(m - k, lo + k, hi), self.mth(lo, lo + k)]

    def proof(self, m: int, n: int) -> list[bytes]:
        return self.subproof(m, 0, n, True)

    def subproof(self, m: int, lo: int, hi: int, b: bool) -> list[bytes]:
        n = hi - lo
        if m == n:
            return [] if b else [self.mth(lo, hi)]
        k = naive_split(n)
        if m <= k:
            return [*self.subproof(m, lo, lo + k, b), self.mth(lo + k, hi)]
        return [*self.subproof(m - k, lo + k, hi, False), self.mth(lo, lo + k)]


def leaves_for(count: int, salt: bytes = b"") -> list[bytes]:
    return [salt + i.to_bytes(4, "big") for i in range(count)]


@functools.cache
def fixed_tree() -> tuple[NaiveTree, MemoryNodeStore]:
    leaves = leaves_for(MAX_SIZE)
    store = MemoryNodeStore(leaf_hash(x) for x in leaves)
    return NaiveTree(leaves), store


class CountingReader:
    """Wraps a reader, recording every ``get_nodes`` call; refuses incomplete subtrees."""

    def __init__(self, inner: MemoryNodeStore, size: int | None = None) -> None:
        self.inner = inner
        self.size = inner.size if size is None else size
        self.calls: list[set[tuple[int, int]]] = []

    def get_nodes(self, keys: Collection[tuple[int, int]]) -> Mapping[tuple[int, int], bytes]:
        keys = set(keys)
        for level, index in keys:
            # A node outside the first `size` leaves would make old-size proofs depend on
            # later appends: it must never be asked for.
            assert (index + 1) << level <= self.size, (level, index, self.size)
        self.calls.append(keys)
        return self.inner.get_nodes(keys)


class SyntheticReader:
    """Answers any key with a made-up hash: lets us count keys for astronomically large trees."""

    def __init__(self) -> None:
        self.calls: list[set[tuple[int, int]]] = []

    def get_nodes(self, keys: Collection[tuple[int, int]]) -> Mapping[tuple[int, int], bytes]:
        self.calls.append(set(keys))
        return {k: hashlib.sha256(repr(k).encode()).digest() for k in keys}


# --- Vectors: transparency-dev/merkle -----------------------------------------------------


def test_vector_suite_is_complete(log_vectors: Path) -> None:
    files = list((log_vectors / "merkle").rglob("*.json"))
    assert len(files) == 196


def test_inclusion_vector(merkle_inclusion_vector: dict[str, Any] | None) -> None:
    assert merkle_inclusion_vector is not None, "merkle/inclusion vectors are missing"
    v = merkle_inclusion_vector
    args = (
        b64(v["leafHash"]),
        v["leafIdx"],
        v["treeSize"],
        [b64(p) for p in v["proof"] or []],
        b64(v["root"]),
    )
    if v["wantErr"]:
        with pytest.raises(VerificationError):
            verify_inclusion(*args)
    else:
        verify_inclusion(*args)  # returns None; raising would fail the test


def test_consistency_vector(merkle_consistency_vector: dict[str, Any] | None) -> None:
    assert merkle_consistency_vector is not None, "merkle/consistency vectors are missing"
    v = merkle_consistency_vector
    args = (
        v["size1"],
        v["size2"],
        [b64(p) for p in v["proof"] or []],
        b64(v["root1"]),
        b64(v["root2"]),
    )
    if v["wantErr"]:
        with pytest.raises(VerificationError):
            verify_consistency(*args)
    else:
        verify_consistency(*args)


# --- Vectors: real CT log data (argon2020) ---------------------------------------------------


def load(path: Path) -> Any:
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def argon(log_vectors: Path) -> dict[str, Any]:
    d = log_vectors / "ct-argon2020"
    sth = load(d / "sth.json")
    proof = load(d / "proof.json")
    return {
        "leaf": leaf_hash(b64(load(d / "entries.json")["entries"][0]["leaf_input"])),
        "index": proof["leaf_index"],
        "path": [b64(p) for p in proof["audit_path"]],
        "size": sth["tree_size"],
        "root": b64(sth["sha256_root_hash"]),
        "old_size": 3654490,
        "old_root": b64("AuIZ5V6sDUj1vn3Y1K85oOaQ7y+FJJKtyRTl1edIKBQ="),
        "consistency": [b64(p) for p in load(d / "consistency.json")["consistency"]],
    }


def test_argon_inclusion(argon: dict[str, Any]) -> None:
    a = argon
    assert a["index"] == 10000 and a["size"] == 961984013
    verify_inclusion(a["leaf"], a["index"], a["size"], a["path"], a["root"])
    assert root_from_inclusion_proof(a["leaf"], a["index"], a["size"], a["path"]) == a["root"]


def test_argon_consistency(argon: dict[str, Any]) -> None:
    a = argon
    verify_consistency(a["old_size"], a["size"], a["consistency"], a["old_root"], a["root"])


@pytest.mark.parametrize("bit", [0, 7, 100, 255])
def test_argon_flipped_bit_fails(argon: dict[str, Any], bit: int) -> None:
    a = argon
    with pytest.raises(VerificationError):
        verify_inclusion(flip_bit(a["leaf"], bit), a["index"], a["size"], a["path"], a["root"])
    with pytest.raises(VerificationError):
        verify_inclusion(a["leaf"], a["index"], a["size"], a["path"], flip_bit(a["root"], bit))
    for i in (0, len(a["path"]) - 1):
        path = list(a["path"])
        path[i] = flip_bit(path[i], bit)
        with pytest.raises(VerificationError):
            verify_inclusion(a["leaf"], a["index"], a["size"], path, a["root"])
    for i in (0, len(a["consistency"]) - 1):
        proof = list(a["consistency"])
        proof[i] = flip_bit(proof[i], bit)
        with pytest.raises(VerificationError):
            verify_consistency(a["old_size"], a["size"], proof, a["old_root"], a["root"])
    with pytest.raises(VerificationError):
        verify_consistency(
            a["old_size"], a["size"], a["consistency"], flip_bit(a["old_root"], bit), a["root"]
        )


def test_argon_wrong_position_fails(argon: dict[str, Any]) -> None:
    # (A size off by one is *not* in this list: for a leaf far from the right edge, sizes
    # n and n - 1 walk the same path, and only the root, which the proof is checked
    # against, tells those trees apart.)
    a = argon
    cases = ((a["index"] + 1, a["size"]), (a["index"] ^ 2, a["size"]), (a["index"], a["size"] // 2))
    for index, size in cases:
        with pytest.raises(VerificationError):
            verify_inclusion(a["leaf"], index, size, a["path"], a["root"])


# --- Hashing and subtree decomposition ---------------------------------------------------------


def test_hash_domain_separation() -> None:
    left, right = b"a" * 32, b"b" * 32
    assert hashlib.sha256(b"").digest() == EMPTY_ROOT
    assert leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    assert node_hash(left, right) == hashlib.sha256(b"\x01" + left + right).digest()


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (0, 0, []),
        (0, 1, [(0, 0)]),
        (0, 7, [(2, 0), (1, 2), (0, 6)]),
        (0, 8, [(3, 0)]),
        (8, 13, [(2, 2), (0, 12)]),
        (3, 9, [(0, 3), (2, 1), (0, 8)]),
        (6, 16, [(1, 3), (3, 1)]),
    ],
)
def test_subtree_keys(start: int, end: int, expected: list[tuple[int, int]]) -> None:
    assert subtree_keys(start, end) == expected


@BOUNDED
@given(st.integers(0, 2000), st.integers(0, 2000))
def test_subtree_keys_tile_the_range(a: int, b: int) -> None:
    start, end = min(a, b), max(a, b)
    pos = start
    for level, index in subtree_keys(start, end):
        assert index << level == pos  # contiguous, aligned by construction
        pos += 1 << level
    assert pos == end


def test_subtree_keys_rejects_bad_ranges() -> None:
    for start, end in ((-1, 3), (5, 4)):
        with pytest.raises(InvalidInput):
            subtree_keys(start, end)


# --- Generation against the naive reference and the verifiers --------------------------------


def test_every_root_and_proof_up_to_300_leaves() -> None:
    """All (index, size) and (old, new) pairs for sizes 1..300, from one 300-leaf store.

    The store holds more leaves than each proof's tree, so this also proves that proofs for
    old sizes never pick up nodes appended later.
    """
    naive, store = fixed_tree()
    leaf_hashes = [leaf_hash(x) for x in naive.leaves]
    assert tree_root(0, store) == EMPTY_ROOT == naive.mth(0, 0)
    for n in range(1, MAX_SIZE + 1):
        root = tree_root(n, store)
        assert root == naive.mth(0, n)
        for m in range(n):
            proof = inclusion_proof(m, n, store)
            assert proof == naive.path(m, 0, n)
            verify_inclusion(leaf_hashes[m], m, n, proof, root)
        for m in range(1, n + 1):
            proof = consistency_proof(m, n, store)
            assert proof == naive.proof(m, n)
            verify_consistency(m, n, proof, naive.mth(0, m), root)


@BOUNDED
@given(st.data(), st.binary(max_size=8))
def test_random_trees_match_reference(data: st.DataObject, salt: bytes) -> None:
    n = data.draw(st.integers(1, MAX_SIZE), label="size")
    m = data.draw(st.integers(0, n - 1), label="index")
    old = data.draw(st.integers(1, n), label="old_size")
    leaves = leaves_for(n, salt)
    naive = NaiveTree(leaves)
    store = MemoryNodeStore(leaf_hash(x) for x in leaves)
    root = tree_root(n, store)
    assert root == naive.mth(0, n)
    proof = inclusion_proof(m, n, store)
    assert proof == naive.path(m, 0, n)
    verify_inclusion(leaf_hash(leaves[m]), m, n, proof, root)
    cproof = consistency_proof(old, n, store)
    assert cproof == naive.proof(old, n)
    verify_consistency(old, n, cproof, naive.mth(0, old), root)


@BOUNDED
@given(st.data())
def test_tampered_generated_proofs_fail(data: st.DataObject) -> None:
    naive, store = fixed_tree()
    n = data.draw(st.integers(2, MAX_SIZE), label="size")
    m = data.draw(st.integers(0, n - 1), label="index")
    root = tree_root(n, store)
    proof = inclusion_proof(m, n, store)
    i = data.draw(st.integers(0, len(proof) - 1), label="element")
    bit = data.draw(st.integers(0, 255), label="bit")
    bad = list(proof)
    bad[i] = flip_bit(bad[i], bit)
    with pytest.raises(VerificationError):
        verify_inclusion(leaf_hash(naive.leaves[m]), m, n, bad, root)
    with pytest.raises(VerificationError):
        verify_inclusion(leaf_hash(naive.leaves[m]), m, n, proof[:-1], root)

    old = data.draw(st.integers(1, n - 1), label="old_size")
    cproof = consistency_proof(old, n, store)
    j = data.draw(st.integers(0, len(cproof) - 1), label="celement")
    cbad = list(cproof)
    cbad[j] = flip_bit(cbad[j], bit)
    with pytest.raises(VerificationError):
        verify_consistency(old, n, cbad, naive.mth(0, old), root)
    with pytest.raises(VerificationError):
        verify_consistency(old, n, [*cproof, cproof[0]], naive.mth(0, old), root)


def test_generation_rejects_bad_arguments() -> None:
    _, store = fixed_tree()
    with pytest.raises(InvalidInput):
        inclusion_proof(5, 5, store)
    with pytest.raises(InvalidInput):
        inclusion_proof(-1, 5, store)
    with pytest.raises(InvalidInput):
        consistency_proof(6, 5, store)
    with pytest.raises(InvalidInput):
        tree_root(-1, store)
    with pytest.raises(InvalidInput):
        append_nodes(MAX_SIZE, b"short", store)
    # The store holds 300 leaves: larger trees are not there to prove anything about.
    with pytest.raises(NotFound):
        tree_root(MAX_SIZE + 1, store)
    with pytest.raises(NotFound):
        inclusion_proof(0, MAX_SIZE + 1, store)


def test_consistency_proof_edge_sizes() -> None:
    _, store = fixed_tree()
    assert consistency_proof(0, 17, store) == []  # what tlog-witness expects for old size 0
    assert consistency_proof(17, 17, store) == []


# --- Appending ---------------------------------------------------------------------------------


def complete_keys(size: int) -> set[tuple[int, int]]:
    keys = set()
    level = 0
    while 1 << level <= size:
        keys |= {(level, i) for i in range(size >> level)}
        level += 1
    return keys


@BOUNDED
@given(st.lists(st.integers(1, 40), max_size=12), st.binary(max_size=4))
def test_batched_appends_equal_single_appends(batches: list[int], salt: bytes) -> None:
    total = sum(batches)
    hashes = [leaf_hash(x) for x in leaves_for(total, salt)]
    one_by_one = MemoryNodeStore()
    for h in hashes:
        one_by_one.append(h)
    batched = MemoryNodeStore()
    pos = 0
    for count in batches:
        batched.extend(hashes[pos : pos + count])
        pos += count
    assert batched.size == one_by_one.size == total
    assert batched.get_nodes(complete_keys(total)) == one_by_one.get_nodes(complete_keys(total))
    # Exactly the complete subtrees are stored, nothing more.
    assert set(batched._nodes) == complete_keys(total)
    assert batched.root() == NaiveTree(leaves_for(total, salt)).mth(0, total)


def test_append_nodes_returns_leaf_and_completed_parents() -> None:
    store = MemoryNodeStore(leaf_hash(x) for x in leaves_for(7))
    new = leaf_hash(b"eighth")
    nodes = append_nodes(7, new, store)
    assert [(level, index) for level, index, _ in nodes] == [(0, 7), (1, 3), (2, 1), (3, 0)]
    assert nodes[-1][2] == NaiveTree([*leaves_for(7), b"eighth"]).mth(0, 8)
    assert [(lv, ix) for lv, ix, _ in append_nodes(8, new, store)] == [(0, 8)]


def test_append_many_empty_batch() -> None:
    assert append_many(5, [], MemoryNodeStore(leaf_hash(x) for x in leaves_for(5))) == []


# --- Batching: one get_nodes call per root / proof / append -----------------------------------


def test_each_operation_reads_once() -> None:
    _, store = fixed_tree()
    for n in (1, 2, 7, 64, 255, 300):
        reader = CountingReader(store, n)
        tree_root(n, reader)
        assert len(reader.calls) == 1
        for m in {0, n // 2, n - 1}:
            reader = CountingReader(store, n)
            inclusion_proof(m, n, reader)
            assert len(reader.calls) <= 1
        for old in {1, n // 2 or 1, n - 1 or 1}:
            reader = CountingReader(store, n)
            consistency_proof(old, n, reader)
            assert len(reader.calls) <= 1


def test_append_many_reads_once_for_a_large_batch() -> None:
    base = MemoryNodeStore(leaf_hash(x) for x in leaves_for(300))
    reader = CountingReader(base)
    nodes = append_many(300, [leaf_hash(x) for x in leaves_for(5000, b"new")], reader)
    assert len(reader.calls) == 1
    assert len(reader.calls[0]) <= 64
    assert sum(1 for level, _, _ in nodes if level == 0) == 5000


def test_append_nodes_reads_only_left_siblings() -> None:
    base = MemoryNodeStore(leaf_hash(x) for x in leaves_for(255))
    reader = CountingReader(base)
    append_nodes(255, leaf_hash(b"x"), reader)
    assert reader.calls == [{(0, 254), (1, 126), (2, 62), (3, 30), (4, 14), (5, 6), (6, 2), (7, 0)}]
    reader = CountingReader(base)
    append_nodes(254, leaf_hash(b"x"), reader)  # even size: no parent completes
    assert reader.calls == []


@pytest.mark.parametrize("size", [2**40 + 12345, 2**62 - 1, 961984013])
def test_huge_trees_need_logarithmic_keys(size: int) -> None:
    reader = SyntheticReader()
    tree_root(size, reader)
    assert len(reader.calls) == 1 and len(reader.calls[0]) == size.bit_count()
    for index in (0, size // 3, size - 1):
        reader = SyntheticReader()
        assert len(inclusion_proof(index, size, reader)) <= 64
        assert len(reader.calls) == 1 and len(reader.calls[0]) <= 2 * 64
    for old in (1, size // 3, size - 1):
        reader = SyntheticReader()
        assert len(consistency_proof(old, size, reader)) <= 2 * 64
        assert len(reader.calls) == 1 and len(reader.calls[0]) <= 3 * 64


# --- Witness consistency (old size 0) ----------------------------------------------------------


def test_witness_consistency_from_empty_tree() -> None:
    _, store = fixed_tree()
    root = tree_root(10, store)
    verify_witness_consistency(0, 10, [], None, root)
    verify_witness_consistency(0, 10, [], EMPTY_ROOT, root)
    verify_witness_consistency(0, 0, [], None, EMPTY_ROOT)
    with pytest.raises(VerificationError):
        verify_consistency(0, 10, [], EMPTY_ROOT, root)  # the strict verifier refuses
    with pytest.raises(VerificationError):
        verify_witness_consistency(0, 10, [root], None, root)  # proof must be empty
    with pytest.raises(VerificationError):
        verify_witness_consistency(0, 10, [], root, root)  # not the empty tree's root
    with pytest.raises(VerificationError):
        verify_witness_consistency(0, 0, [], None, root)  # an empty tree has one root
    with pytest.raises(VerificationError):
        verify_witness_consistency(0, 10, [], None, root[:9])


def test_witness_consistency_delegates_for_nonzero_old_size() -> None:
    naive, store = fixed_tree()
    proof = consistency_proof(3, 10, store)
    verify_witness_consistency(3, 10, proof, naive.mth(0, 3), tree_root(10, store))
    with pytest.raises(VerificationError):
        verify_witness_consistency(3, 10, proof, None, tree_root(10, store))
    with pytest.raises(VerificationError):
        verify_witness_consistency(3, 10, proof, naive.mth(0, 4), tree_root(10, store))
