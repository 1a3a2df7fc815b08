"""Roots and RFC 9162 proofs generated from a store of complete, aligned subtrees.

The node ``(level, index)`` is the Merkle Tree Hash (RFC 9162 §2.1.1) of leaves
``[index * 2**level, (index + 1) * 2**level)``, and level 0 holds the leaf hashes. A node is
stored once, when its subtree becomes complete, and never changes afterwards, which is what
makes the log append-only in storage as well. Every root and every proof of RFC 9162
(§2.1.3.1 PATH, §2.1.4.1 PROOF) is a right-fold of O(log n) such nodes, so each algorithm
here first computes the full set of node keys it needs and then asks the store for them in
one batched ``NodeReader.get_nodes`` call (one database query), never one read per node.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Protocol

from registry.errors import InvalidInput, NotFound
from registry.log.hashing import EMPTY_ROOT, HASH_SIZE, node_hash, split_point

__all__ = [
    "MemoryNodeStore",
    "NodeKey",
    "NodeReader",
    "append_many",
    "append_nodes",
    "consistency_proof",
    "inclusion_proof",
    "subtree_keys",
    "tree_root",
]

NodeKey = tuple[int, int]
"""``(level, index)`` of a complete aligned subtree; see the module docstring."""


class NodeReader(Protocol):
    """Batched read access to the stored complete subtrees of one log.

    ``get_nodes`` returns the hash of each requested key it holds; keys it does not hold are
    simply absent from the result. Implementations should answer the whole collection with a
    single round trip (the database implementation issues one query per call).
    """

    def get_nodes(self, keys: Collection[tuple[int, int]]) -> Mapping[tuple[int, int], bytes]:
        """Return ``{key: hash}`` for every requested key that is stored."""
        ...


def subtree_keys(start: int, end: int) -> list[NodeKey]:
    """Decompose leaves ``[start, end)`` into maximal aligned complete subtrees, left to right.

    For the ranges RFC 9162 §2.1.1 recursion produces (``start`` a multiple of a power of two
    at least ``end - start``) the result follows the binary expansion of ``end - start``,
    largest first, and the range's Merkle Tree Hash is the right-fold of the node hashes:
    ``MTH = H(n0, H(n1, ... H(n_{k-2}, n_{k-1})))``.
    """
    if start < 0 or end < start:
        raise InvalidInput(f"invalid leaf range [{start}, {end})")
    keys: list[NodeKey] = []
    while start < end:
        # The block may be no larger than what is left, and no larger than start's alignment.
        size = 1 << ((end - start).bit_length() - 1)
        if start:
            size = min(size, start & -start)
        level = size.bit_length() - 1
        keys.append((level, start >> level))
        start += size
    return keys


def _fold(hashes: Sequence[bytes]) -> bytes:
    """Right-fold node hashes of decreasing subtree sizes into their range's MTH."""
    acc = hashes[-1]
    for h in reversed(hashes[:-1]):
        acc = node_hash(h, acc)
    return acc


def _read(reader: NodeReader, keys: Collection[NodeKey]) -> dict[NodeKey, bytes]:
    """One batched read; a missing node means the store does not hold a tree this large."""
    if not keys:
        return {}
    found = dict(reader.get_nodes(keys))
    missing = [k for k in keys if k not in found]
    if missing:
        raise NotFound(
            f"the node store lacks {len(missing)} subtree hash(es), e.g. {sorted(missing)[0]}",
            missing=sorted(missing),
        )
    return found


def _range_hashes(ranges: Sequence[tuple[int, int]], reader: NodeReader) -> list[bytes]:
    """MTH of every range in ``ranges``, fetched with a single ``get_nodes`` call."""
    decompositions = [subtree_keys(lo, hi) for lo, hi in ranges]
    nodes = _read(reader, {k for keys in decompositions for k in keys})
    return [_fold([nodes[k] for k in keys]) for keys in decompositions]


def _check_size(size: int) -> None:
    if size < 0:
        raise InvalidInput(f"tree size must not be negative, got {size}")


def tree_root(size: int, reader: NodeReader) -> bytes:
    """RFC 9162 §2.1.1 MTH of the first ``size`` leaves: one read of O(log n) nodes."""
    _check_size(size)
    if size == 0:
        return EMPTY_ROOT
    return _range_hashes([(0, size)], reader)[0]


def _inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """Leaf ranges whose MTHs form RFC 9162 §2.1.3.1 ``PATH(index, D[0:size])``, in order.

    PATH(m, D[n]) = PATH(m, D[0:k]) : MTH(D[k:n])      if m < k
                  = PATH(m - k, D[k:n]) : MTH(D[0:k])  if m >= k
    Unrolled from the root down, then reversed, since PATH lists the deepest sibling first.
    """
    ranges: list[tuple[int, int]] = []
    lo, hi = 0, size
    while hi - lo > 1:
        mid = lo + split_point(hi - lo)
        if index < mid:
            ranges.append((mid, hi))
            hi = mid
        else:
            ranges.append((lo, mid))
            lo = mid
    ranges.reverse()
    return ranges


def inclusion_proof(index: int, size: int, reader: NodeReader) -> list[bytes]:
    """RFC 9162 §2.1.3.1 inclusion proof for leaf ``index`` in the tree of ``size`` leaves.

    Calls ``reader.get_nodes`` at most once, for O(log n) keys.
    """
    _check_size(size)
    if not 0 <= index < size:
        raise InvalidInput(f"leaf index {index} is outside a tree of size {size}")
    return _range_hashes(_inclusion_ranges(index, size), reader)


def _consistency_ranges(old_size: int, new_size: int) -> list[tuple[int, int]]:
    """Leaf ranges whose MTHs form RFC 9162 §2.1.4.1 ``PROOF(old_size, D[0:new_size])``.

    SUBPROOF(m, D[n], b) = []                                    if m = n and b
                         = [MTH(D[n])]                           if m = n and not b
                         = SUBPROOF(m, D[0:k], b) : MTH(D[k:n])  if m <= k
                         = SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k])  if m > k
    Unrolled from the root down (``m`` stays absolute as ``old_size``), then reversed.
    """
    ranges: list[tuple[int, int]] = []
    lo, hi = 0, new_size
    complete = True  # the "b" flag: is D[lo:hi] still a prefix the verifier already knows?
    while old_size != hi:
        mid = lo + split_point(hi - lo)
        if old_size <= mid:
            ranges.append((mid, hi))
            hi = mid
        else:
            ranges.append((lo, mid))
            lo = mid
            complete = False
    if not complete:
        ranges.append((lo, hi))
    ranges.reverse()
    return ranges


def consistency_proof(old_size: int, new_size: int, reader: NodeReader) -> list[bytes]:
    """RFC 9162 §2.1.4.1 consistency proof from the first ``old_size`` leaves to ``new_size``.

    Returns ``[]`` when ``old_size`` is 0 (what C2SP tlog-witness expects for a first
    checkpoint) or equals ``new_size``. Calls ``reader.get_nodes`` at most once.
    """
    _check_size(old_size)
    if old_size > new_size:
        raise InvalidInput(f"old size {old_size} is larger than new size {new_size}")
    if old_size == 0 or old_size == new_size:
        return []
    return _range_hashes(_consistency_ranges(old_size, new_size), reader)


def _append_sibling_keys(size: int) -> list[NodeKey]:
    """Left siblings needed to complete the parents of a leaf appended at index ``size``.

    Appending leaf ``size`` completes one parent per trailing 1-bit of ``size``: at level l
    the new node is a right child whose left sibling ``(l, (size >> l) - 1)`` already exists.
    """
    keys: list[NodeKey] = []
    level = 0
    while (size >> level) & 1:
        keys.append((level, (size >> level) - 1))
        level += 1
    return keys


def _append_one(
    size: int, new_leaf_hash: bytes, nodes: Mapping[NodeKey, bytes]
) -> list[tuple[int, int, bytes]]:
    created = [(0, size, new_leaf_hash)]
    h, index, level = new_leaf_hash, size, 0
    while index & 1:
        h = node_hash(nodes[(level, index - 1)], h)
        index >>= 1
        level += 1
        created.append((level, index, h))
    return created


def _check_leaf_hash(value: bytes) -> None:
    if len(value) != HASH_SIZE:
        raise InvalidInput(f"leaf hash must be {HASH_SIZE} bytes, got {len(value)}")


def append_nodes(
    size: int, new_leaf_hash: bytes, reader: NodeReader
) -> list[tuple[int, int, bytes]]:
    """Nodes ``(level, index, hash)`` to store when appending leaf ``size`` to the tree.

    That is the leaf itself and every parent that becomes complete, bottom-up. Reads the
    O(log n) left siblings with at most one ``get_nodes`` call (none when ``size`` is even).
    """
    _check_size(size)
    _check_leaf_hash(new_leaf_hash)
    return _append_one(size, new_leaf_hash, _read(reader, _append_sibling_keys(size)))


def append_many(
    size: int, leaf_hashes: Iterable[bytes], reader: NodeReader
) -> list[tuple[int, int, bytes]]:
    """Nodes to store when appending ``leaf_hashes`` at indexes ``size, size + 1, ...``.

    Every node outside the batch that a new parent needs is on the right edge of the current
    tree, i.e. in ``subtree_keys(0, size)``; those are read with one ``get_nodes`` call up
    front, and nodes created within the batch are taken from memory.
    """
    _check_size(size)
    batch = list(leaf_hashes)
    for h in batch:
        _check_leaf_hash(h)
    if not batch:
        return []
    # Only the left siblings that the batch will actually consume are read, so that a batch
    # that never reaches a level does not require (or fetch) that level's frontier node.
    needed = {k for k in subtree_keys(0, size) if _frontier_node_used(k, size, len(batch))}
    nodes: dict[NodeKey, bytes] = _read(reader, needed)
    created: list[tuple[int, int, bytes]] = []
    for offset, h in enumerate(batch):
        new = _append_one(size + offset, h, nodes)
        for level, index, value in new:
            nodes[(level, index)] = value
        created.extend(new)
    return created


def _frontier_node_used(key: NodeKey, size: int, count: int) -> bool:
    """Does appending ``count`` leaves to a tree of ``size`` complete the parent of ``key``?

    A frontier node ``(l, i)`` is a left child; its parent is complete once the tree holds
    ``(i + 2) * 2**l`` leaves.
    """
    level, index = key
    return (index + 2) << level <= size + count


class MemoryNodeStore:
    """A dict-backed ``NodeReader`` holding a whole tree in memory (tests, auditors).

    It stores exactly what a persistent store would: the nodes returned by
    ``append_nodes`` / ``append_many``.
    """

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        self._nodes: dict[NodeKey, bytes] = {}
        self._size = 0
        self.extend(leaf_hashes)

    @property
    def size(self) -> int:
        """Number of leaves appended so far."""
        return self._size

    def get_nodes(self, keys: Collection[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        """``NodeReader.get_nodes``: the stored hash of every requested key it holds."""
        return {k: self._nodes[k] for k in keys if k in self._nodes}

    def append(self, leaf_hash: bytes) -> int:
        """Append one leaf hash; return its index."""
        self._store(append_nodes(self._size, leaf_hash, self))
        self._size += 1
        return self._size - 1

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        """Append several leaf hashes in one batch."""
        batch = list(leaf_hashes)
        self._store(append_many(self._size, batch, self))
        self._size += len(batch)

    def root(self, size: int | None = None) -> bytes:
        """Root of the first ``size`` leaves (default: all)."""
        return tree_root(self._size if size is None else size, self)

    def _store(self, nodes: Iterable[tuple[int, int, bytes]]) -> None:
        for level, index, value in nodes:
            self._nodes[(level, index)] = value
