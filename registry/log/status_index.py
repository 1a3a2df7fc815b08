"""The status index: a sparse Merkle tree, committed by the log, that maps every endorsement
code and every batch to the log entries deciding its status (docs/records.md, "The status
index").

An inclusion proof in the log shows that a record is there; it does not show that nothing
newer is. The status index closes that gap the way Laurie and Kasper's *Revocation
Transparency* (2012) proposed: a sparse Merkle tree over all keys, whose root the log commits
to, gives for any key a short proof of its current value, or of its absence.

Construction (the sparse Merkle tree with single-leaf subtrees collapsed, as in Diem's
``SparseMerkleTree`` / Aptos' Jellyfish Merkle tree, and the compressed trees of Dahlberg,
Pulls and Peeters, *Efficient Sparse Merkle Trees*, 2016):

* ``key_hash = SHA-256(key)`` over the key's UTF-8 bytes; its 256 bits, most significant bit
  of the first byte first, are the path from the root (0 = left, 1 = right).
* ``value_hash = SHA-256(value)`` over the value's RFC 8785 (JCS) bytes.
* A leaf is ``SHA-256(0x02 || key_hash || value_hash)``; an interior node is
  ``SHA-256(0x03 || left || right)``; an empty subtree is 32 zero bytes. The prefixes differ
  from RFC 6962's 0x00 / 0x01, so no log node can pass for an index node or the reverse.
* A subtree holding no key is empty; one holding exactly one key *is* that key's leaf (it
  sits at the shallowest depth where it is alone); one holding two or more keys is the
  interior node of its two halves. The tree is therefore a function of the set of
  (key_hash, value_hash) pairs alone: the same entries give the same root, whatever order
  they were written in.

A proof for a key lists the sibling hashes along the key's path, from the deepest up to the
root's children (like an RFC 6962 audit path). Where the path ends there is the key's own
leaf (the key is present), an empty subtree, or the leaf of another key that shares the
path's prefix (both prove the key absent).

This module is pure: the tree in memory, proofs, and their verification. Where the index is
stored and how it is kept current is ``registry.transparency.status_index``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from registry.crypto.jcs import canonicalize
from registry.errors import VerificationError

__all__ = [
    "EMPTY",
    "HASH_SIZE",
    "MAX_DEPTH",
    "IndexProof",
    "MemoryNodeStore",
    "Node",
    "NodeStore",
    "apply_changes",
    "batch_key",
    "endorsement_key",
    "key_hash",
    "leaf_hash",
    "next_value",
    "node_hash",
    "path_prefix",
    "proof_from_json",
    "proof_to_json",
    "prove",
    "prove_stored",
    "root_from_proof",
    "root_of",
    "sibling_prefix",
    "value_hash",
    "verify_proof",
]

HASH_SIZE = 32
MAX_DEPTH = 256
EMPTY = bytes(HASH_SIZE)
"""The hash of an empty subtree."""

_LEAF_PREFIX = b"\x02"
_NODE_PREFIX = b"\x03"


def endorsement_key(code: str) -> str:
    """The index key of an endorsement code."""
    return f"endorsement:{code}"


def batch_key(batch: str) -> str:
    """The index key of a batch (``"<product id>:<lot>"``)."""
    return f"batch:{batch}"


def next_value(current: Mapping[str, Any] | None, change: tuple[str, int]) -> dict[str, Any]:
    """A key's value after ``change`` (docs/records.md, "Keys and values"):
    ``("endorsement", i)`` (a new endorsement), ``("revocation", j)``, ``("head", h)`` (a
    record names the batch) or ``("recall", r)`` (a recall reaches it; the first stays)."""
    what, index = change
    if what == "endorsement":
        return {"endorsement": index, "revocation": None}
    value = dict(current or ({} if what == "revocation" else {"head": None, "recall": None}))
    if what == "recall" and value.get("recall") is not None:
        return value
    value[what] = index
    return value


def key_hash(key: str) -> bytes:
    """``SHA-256`` of the key's UTF-8 bytes: the key's path in the tree."""
    return hashlib.sha256(key.encode("utf-8")).digest()


def value_hash(value: Mapping[str, Any]) -> bytes:
    """``SHA-256`` of the value's RFC 8785 bytes."""
    return hashlib.sha256(canonicalize(value)).digest()


def leaf_hash(key_digest: bytes, value_digest: bytes) -> bytes:
    """A key's leaf: ``SHA-256(0x02 || key_hash || value_hash)``."""
    return hashlib.sha256(_LEAF_PREFIX + key_digest + value_digest).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """An interior node: ``SHA-256(0x03 || left || right)``."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def _bit(digest: bytes, depth: int) -> int:
    return (digest[depth >> 3] >> (7 - (depth & 7))) & 1


def _split(keys: Sequence[bytes], lo: int, hi: int, depth: int) -> int:
    """The first position in the sorted ``keys[lo:hi]`` (which share their first ``depth``
    bits) whose bit ``depth`` is 1."""
    prefix = keys[lo]
    # The smallest key that has the first depth bits of `prefix` and bit `depth` set.
    as_int = int.from_bytes(prefix, "big")
    shift = MAX_DEPTH - depth
    boundary = ((as_int >> shift) << shift) | (1 << (shift - 1))
    return bisect_left(keys, boundary.to_bytes(HASH_SIZE, "big"), lo, hi)


def _subtree_root(
    keys: Sequence[bytes], values: Mapping[bytes, bytes], lo: int, hi: int, depth: int
) -> bytes:
    if lo == hi:
        return EMPTY
    if hi - lo == 1:
        return leaf_hash(keys[lo], values[keys[lo]])
    mid = _split(keys, lo, hi, depth)
    return node_hash(
        _subtree_root(keys, values, lo, mid, depth + 1),
        _subtree_root(keys, values, mid, hi, depth + 1),
    )


def root_of(entries: Mapping[bytes, bytes]) -> bytes:
    """The root of the tree holding ``entries`` (key_hash -> value_hash)."""
    keys = sorted(entries)
    return _subtree_root(keys, entries, 0, len(keys), 0)


@dataclass(frozen=True)
class IndexProof:
    """A key's proof: ``siblings`` from the deepest up to the root's children; where the path
    ends, ``other`` is the (key_hash, value_hash) of another key's leaf, or None for the key's
    own leaf (present) or an empty subtree (absent), as the verified value says."""

    siblings: tuple[bytes, ...]
    other: tuple[bytes, bytes] | None = None


def prove(entries: Mapping[bytes, bytes], key_digest: bytes) -> IndexProof:
    """The proof for ``key_digest`` in the tree holding ``entries`` (in memory; the stored
    index builds the same proof from its nodes)."""
    keys = sorted(entries)
    lo, hi, depth = 0, len(keys), 0
    siblings: list[bytes] = []
    while hi - lo > 1:
        mid = _split(keys, lo, hi, depth)
        if _bit(key_digest, depth):
            siblings.append(_subtree_root(keys, entries, lo, mid, depth + 1))
            lo = mid
        else:
            siblings.append(_subtree_root(keys, entries, mid, hi, depth + 1))
            hi = mid
        depth += 1
    other = None
    if hi - lo == 1 and keys[lo] != key_digest:
        other = (keys[lo], entries[keys[lo]])
    siblings.reverse()
    return IndexProof(tuple(siblings), other)


def root_from_proof(key: str, value: Mapping[str, Any] | None, proof: IndexProof) -> bytes:
    """The root that ``proof`` leads to for ``key`` holding ``value`` (None: absent).
    ``VerificationError`` for a proof that cannot be one of this construction."""
    digest = key_hash(key)
    depth = len(proof.siblings)
    if depth > MAX_DEPTH:
        raise VerificationError(f"index proof for {key!r} is deeper than {MAX_DEPTH}")
    if any(len(s) != HASH_SIZE for s in proof.siblings):
        raise VerificationError(f"index proof for {key!r} has a sibling that is not 32 bytes")
    if value is not None:
        if proof.other is not None:
            raise VerificationError(f"index proof for {key!r} ends at another key's leaf")
        node = leaf_hash(digest, value_hash(value))
    elif proof.other is None:
        node = EMPTY
    else:
        other_key, other_value = proof.other
        if len(other_key) != HASH_SIZE or len(other_value) != HASH_SIZE:
            raise VerificationError(f"index proof for {key!r}: the other leaf is malformed")
        if other_key == digest:
            raise VerificationError(f"index proof for {key!r} shows the key present")
        if any(_bit(other_key, d) != _bit(digest, d) for d in range(depth)):
            raise VerificationError(f"index proof for {key!r}: the other leaf is off the path")
        node = leaf_hash(other_key, other_value)
    if depth and proof.siblings[0] == EMPTY and node != EMPTY:
        # A leaf beside an empty subtree would have been collapsed one level up.
        raise VerificationError(f"index proof for {key!r} is not in collapsed form")
    for i, sibling in enumerate(proof.siblings):
        d = depth - 1 - i
        node = node_hash(sibling, node) if _bit(digest, d) else node_hash(node, sibling)
    return node


def verify_proof(root: bytes, key: str, value: Mapping[str, Any] | None, proof: IndexProof) -> None:
    """Raise ``VerificationError`` unless ``proof`` shows ``key`` holding ``value`` (None:
    absent) in the tree whose root is ``root``."""
    if root_from_proof(key, value, proof) != root:
        state = "absent" if value is None else "holding this value"
        raise VerificationError(f"index proof for {key!r} ({state}) does not lead to the root")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: Any, what: str) -> bytes:
    if not isinstance(text, str):
        raise VerificationError(f"{what} must be a base64 string")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise VerificationError(f"{what} is not base64") from None


def proof_to_json(proof: IndexProof) -> dict[str, Any]:
    """The proof as the verification document carries it (docs/records.md)."""
    return {
        "siblings": [_b64(s) for s in proof.siblings],
        "other": (
            None
            if proof.other is None
            else {"key_hash": _b64(proof.other[0]), "value_hash": _b64(proof.other[1])}
        ),
    }


def proof_from_json(value: Any) -> IndexProof:
    """Parse ``proof_to_json``'s form; ``VerificationError`` for anything else."""
    if not isinstance(value, dict) or not isinstance(value.get("siblings"), list):
        raise VerificationError("an index proof must be an object with a siblings list")
    siblings = tuple(_unb64(s, "an index proof sibling") for s in value["siblings"])
    other = value.get("other")
    if other is None:
        return IndexProof(siblings)
    if not isinstance(other, dict):
        raise VerificationError("an index proof's other leaf must be an object or null")
    return IndexProof(
        siblings,
        (
            _unb64(other.get("key_hash"), "other.key_hash"),
            _unb64(other.get("value_hash"), "other.value_hash"),
        ),
    )


# Incremental updates: the tree as stored nodes -----------------------------------------------
#
# A stored index keeps one node per non-empty subtree on the paths it has built: at
# ``(depth, prefix)``, where ``prefix`` is the subtree's path (its first ``depth`` bits,
# see ``path_prefix``). A subtree holding one key is stored as that key's leaf (``leaf``
# set) and nothing below it; one holding two or more as an interior node. Keys are never
# removed, so a subtree's keys only grow and a node stored once is never empty again.


@dataclass(frozen=True)
class Node:
    """A stored subtree: its hash, and for a subtree holding one key that key's (key text,
    RFC 8785 value text); None for an interior node."""

    hash: bytes
    leaf: tuple[str, str] | None = None


NodeKey = tuple[int, bytes]
"""``(depth, prefix)`` of a subtree."""


def path_prefix(digest: bytes, depth: int) -> bytes:
    """The first ``depth`` bits of ``digest`` as ``ceil(depth / 8)`` bytes, the bits after
    them cleared: the name of the subtree at ``depth`` on the path of ``digest``."""
    whole, rest = divmod(depth, 8)
    if not rest:
        return digest[:whole]
    return digest[:whole] + bytes([digest[whole] & (0xFF << (8 - rest)) & 0xFF])


def sibling_prefix(digest: bytes, depth: int) -> bytes:
    """The name of the subtree at ``depth`` (≥ 1) beside the one on the path of ``digest``."""
    prefix = bytearray(path_prefix(digest, depth))
    bit = depth - 1
    prefix[bit >> 3] ^= 0x80 >> (bit & 7)
    return bytes(prefix)


class NodeStore(Protocol):
    """Where ``apply_changes`` reads the current nodes: ``get_nodes`` returns the stored
    node of each wanted ``(depth, prefix)`` that has one (absent: an empty subtree)."""

    def get_nodes(self, wanted: Sequence[NodeKey]) -> Mapping[NodeKey, Node]: ...


def apply_changes(
    store: NodeStore, changes: Mapping[str, str]
) -> tuple[bytes, dict[NodeKey, Node]]:
    """Set ``changes`` (key -> RFC 8785 value text) in the tree ``store`` holds; return the
    new root and every node that changed (the caller stores them).

    Reads the current nodes level by level, one ``get_nodes`` call per depth on the changed
    paths, then hashes bottom-up: the cost is the changed paths' length, about
    ``log2(keys)`` nodes per changed key, not the size of the tree."""
    hashed = sorted((key_hash(k), k, v) for k, v in changes.items())
    known: dict[NodeKey, Node] = {}
    # Descend: which stored subtrees the changes reach, and their untouched siblings.
    frontier: dict[bytes, list[tuple[bytes, str, str]]] = {b"": hashed} if hashed else {}
    siblings: list[bytes] = []
    depth = 0
    while frontier:
        wanted = [(depth, p) for p in frontier] + [(depth, p) for p in siblings]
        known.update(store.get_nodes(wanted))
        below: dict[bytes, list[tuple[bytes, str, str]]] = {}
        siblings = []
        for prefix, items in frontier.items():
            node = known.get((depth, prefix))
            if node is None or node.leaf is not None:
                continue  # built afresh from the changes (and the one key it holds)
            for item in items:
                below.setdefault(path_prefix(item[0], depth + 1), []).append(item)
            if len({_bit(item[0], depth) for item in items}) == 1:
                siblings.append(sibling_prefix(items[0][0], depth + 1))
        frontier, depth = below, depth + 1

    written: dict[NodeKey, Node] = {}

    def fresh(depth: int, items: list[tuple[bytes, str, str]]) -> bytes:
        prefix = path_prefix(items[0][0], depth)
        if len(items) == 1:
            digest, key, value = items[0]
            node = Node(leaf_hash(digest, _text_hash(value)), (key, value))
        else:
            mid = next((i for i, it in enumerate(items) if _bit(it[0], depth)), len(items))
            left = fresh(depth + 1, items[:mid]) if mid else EMPTY
            right = fresh(depth + 1, items[mid:]) if mid < len(items) else EMPTY
            node = Node(node_hash(left, right))
        written[(depth, prefix)] = node
        return node.hash

    def update(depth: int, items: list[tuple[bytes, str, str]]) -> bytes:
        prefix = path_prefix(items[0][0], depth)
        node = known.get((depth, prefix))
        if node is None:
            return fresh(depth, items)
        if node.leaf is not None:
            merged = {key_hash(node.leaf[0]): node.leaf}
            merged.update({d: (k, v) for d, k, v in items})
            return fresh(depth, [(d, k, v) for d, (k, v) in sorted(merged.items())])
        mid = next((i for i, it in enumerate(items) if _bit(it[0], depth)), len(items))
        halves = []
        for part in (items[:mid], items[mid:]):
            if part:
                halves.append(update(depth + 1, part))
            else:
                stored = known.get((depth + 1, sibling_prefix(items[0][0], depth + 1)))
                halves.append(EMPTY if stored is None else stored.hash)
        written[(depth, prefix)] = Node(node_hash(halves[0], halves[1]))
        return written[(depth, prefix)].hash

    if not hashed:
        root = store.get_nodes([(0, b"")]).get((0, b""))
        return (EMPTY if root is None else root.hash), written
    return update(0, hashed), written


def prove_stored(store: NodeStore, key: str) -> tuple[str | None, IndexProof]:
    """The value text ``key`` holds (None: absent) and its proof, from stored nodes."""
    digest = key_hash(key)
    path: list[bytes] = []
    depth = 0
    while True:
        here, beside = (depth, path_prefix(digest, depth)), None
        wanted = [here]
        if depth < MAX_DEPTH:
            beside = (depth + 1, sibling_prefix(digest, depth + 1))
            wanted.append(beside)
        nodes = store.get_nodes(wanted)
        node = nodes.get(here)
        if node is None or node.leaf is not None:
            break
        assert beside is not None
        sibling = nodes.get(beside)
        path.append(EMPTY if sibling is None else sibling.hash)
        depth += 1
    path.reverse()
    if node is None:
        return None, IndexProof(tuple(path))
    assert node.leaf is not None
    leaf_key, leaf_value = node.leaf
    if leaf_key == key:
        return leaf_value, IndexProof(tuple(path))
    return None, IndexProof(tuple(path), (key_hash(leaf_key), _text_hash(leaf_value)))


def _text_hash(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8")).digest()


class MemoryNodeStore:
    """The current nodes in a dict (the audit's rebuild, tests)."""

    def __init__(self) -> None:
        self.nodes: dict[NodeKey, Node] = {}

    def get_nodes(self, wanted: Sequence[NodeKey]) -> Mapping[NodeKey, Node]:
        return {k: self.nodes[k] for k in wanted if k in self.nodes}

    def apply(self, changes: Mapping[str, str]) -> bytes:
        """Set ``changes`` and return the new root."""
        root, written = apply_changes(self, changes)
        self.nodes.update(written)
        return root
