"""The status index's sparse Merkle tree (registry/log/status_index.py): the published
vectors, an independent naive construction, and proofs under tampering."""

from __future__ import annotations

import base64
import hashlib
import json
import random
from pathlib import Path
from typing import Any

import pytest

from registry.errors import VerificationError
from registry.log import status_index as si

VECTORS = Path(__file__).parents[1] / "vectors" / "status-index" / "vectors.json"


def _naive_root(entries: dict[bytes, bytes], depth: int = 0) -> bytes:
    """The same tree, built bit by bit from its definition (no sorting, no bisection)."""
    if not entries:
        return si.EMPTY
    if len(entries) == 1:
        ((k, v),) = entries.items()
        return hashlib.sha256(b"\x02" + k + v).digest()
    left = {k: v for k, v in entries.items() if not (k[depth // 8] >> (7 - depth % 8)) & 1}
    right = {k: v for k, v in entries.items() if k not in left}
    return hashlib.sha256(
        b"\x03" + _naive_root(left, depth + 1) + _naive_root(right, depth + 1)
    ).digest()


def _random_entries(rng: random.Random, n: int) -> dict[str, dict[str, Any]]:
    return {
        si.batch_key(f"{rng.getrandbits(64):016x}:L{i}"): {"head": i, "recall": None}
        for i in range(n)
    }


def _hashed(entries: dict[str, dict[str, Any]]) -> dict[bytes, bytes]:
    return {si.key_hash(k): si.value_hash(v) for k, v in entries.items()}


@pytest.fixture(scope="module")
def vectors() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(VECTORS.read_text(encoding="utf-8"))
    return loaded


def test_vector_entries_hash_as_published(vectors: dict[str, Any]) -> None:
    for entry in vectors["entries"]:
        assert base64.b64decode(entry["key_hash"]) == si.key_hash(entry["key"])
        assert base64.b64decode(entry["value_hash"]) == si.value_hash(entry["value"])
        leaf = si.leaf_hash(si.key_hash(entry["key"]), si.value_hash(entry["value"]))
        assert base64.b64decode(entry["leaf_hash"]) == leaf
    hashed = {si.key_hash(e["key"]): si.value_hash(e["value"]) for e in vectors["entries"]}
    assert base64.b64decode(vectors["root"]) == si.root_of(hashed) == _naive_root(hashed)
    assert base64.b64decode(vectors["empty_root"]) == si.root_of({}) == si.EMPTY


def test_vector_cases(vectors: dict[str, Any]) -> None:
    root = base64.b64decode(vectors["root"])
    for case in vectors["cases"]:
        proof = si.proof_from_json(case["proof"])
        if case["valid"]:
            si.verify_proof(root, case["key"], case["value"], proof)
        else:
            with pytest.raises(VerificationError):
                si.verify_proof(root, case["key"], case["value"], proof)


@pytest.mark.parametrize("n", [0, 1, 2, 3, 17, 300])
def test_root_matches_the_naive_construction(n: int) -> None:
    hashed = _hashed(_random_entries(random.Random(n), n))
    assert si.root_of(hashed) == _naive_root(hashed)


@pytest.mark.parametrize("n", [1, 2, 5, 64, 257])
def test_every_key_present_and_absent_keys_prove(n: int) -> None:
    rng = random.Random(1000 + n)
    entries = _random_entries(rng, n)
    hashed = _hashed(entries)
    root = si.root_of(hashed)
    for key, value in entries.items():
        proof = si.prove(hashed, si.key_hash(key))
        si.verify_proof(root, key, value, proof)
        with pytest.raises(VerificationError):
            si.verify_proof(root, key, None, proof)  # present: never provably absent
        with pytest.raises(VerificationError):
            si.verify_proof(root, key, {**value, "recall": 1}, proof)
    for i in range(20):
        absent = si.endorsement_key(f"NOT-THERE-{i}")
        proof = si.prove(hashed, si.key_hash(absent))
        si.verify_proof(root, absent, None, proof)
        with pytest.raises(VerificationError):
            si.verify_proof(root, absent, {"endorsement": 1, "revocation": None}, proof)


def test_a_proof_for_one_key_does_not_serve_another() -> None:
    entries = _random_entries(random.Random(7), 40)
    hashed = _hashed(entries)
    root = si.root_of(hashed)
    (a, va), (b, _vb) = list(entries.items())[:2]
    proof = si.prove(hashed, si.key_hash(a))
    with pytest.raises(VerificationError):
        si.verify_proof(root, b, va, proof)


def test_malformed_proofs_are_refused() -> None:
    with pytest.raises(VerificationError):
        si.proof_from_json({"siblings": ["not base64!"]})
    with pytest.raises(VerificationError):
        si.proof_from_json([])
    too_deep = si.IndexProof(tuple(si.EMPTY for _ in range(257)))
    with pytest.raises(VerificationError):
        si.root_from_proof("endorsement:X", None, too_deep)
    short = si.IndexProof((b"\x01" * 31,))
    with pytest.raises(VerificationError):
        si.root_from_proof("endorsement:X", None, short)


def test_incremental_updates_give_the_roots_and_proofs_of_the_whole_tree() -> None:
    """The stored form (``apply_changes`` over a node store, transaction by transaction)
    has, after every step, the root of the tree built at once, and its proofs verify."""
    from registry.crypto.jcs import canonicalize

    rng = random.Random(18)
    store = si.MemoryNodeStore()
    entries: dict[str, dict[str, Any]] = {}
    for step in range(40):
        changes: dict[str, str] = {}
        for _ in range(rng.randint(0, 25)):
            key = si.batch_key(f"p:{rng.randint(0, 200)}")
            value = {"head": rng.randint(0, 10**6), "recall": rng.choice([None, step])}
            entries[key] = value
            changes[key] = canonicalize(value).decode()
        root = store.apply(changes)
        assert root == si.root_of(_hashed(entries)) == _naive_root(_hashed(entries)), step
        for key in [*list(entries)[:4], "batch:absent", "endorsement:NOPE1234"]:
            text, proof = si.prove_stored(store, key)
            value = json.loads(text) if text is not None else None
            assert value == entries.get(key), key
            si.verify_proof(root, key, value, proof)
            assert proof == si.prove(_hashed(entries), si.key_hash(key)), key
