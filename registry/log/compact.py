"""The RFC 9162 §2.1.1 tree of a stream of leaves, in O(log n) memory (a compact range).

A tree of ``n`` leaves is the right-fold of its complete aligned subtrees, one per bit of
``n`` (``subtrees.subtree_keys(0, n)``). Keeping only those O(log n) hashes lets a reader
stream a log of any size, leaf by leaf, and still know its root at every size, and every
node that becomes complete on the way: the same ``(level, index)`` nodes the log stores
(``subtrees.append_nodes``), so they can be compared with what is stored.
"""

from __future__ import annotations

from registry.log.hashing import EMPTY_ROOT, HASH_SIZE, node_hash

__all__ = ["CompactRange"]


class CompactRange:
    """The complete subtrees of leaves ``[0, size)``: enough to append and to take the root."""

    def __init__(self) -> None:
        self.size = 0
        # Hashes of the complete subtrees, largest (leftmost) first: one per bit of size.
        self._peaks: list[bytes] = []

    def append(self, leaf_hash: bytes) -> list[tuple[int, int, bytes]]:
        """Add leaf ``size``; return the nodes ``(level, index, hash)`` it completes, the
        leaf itself first and then each parent, bottom-up (RFC 9162 §2.1.1 MTH of each)."""
        if len(leaf_hash) != HASH_SIZE:
            raise ValueError(f"a leaf hash is {HASH_SIZE} bytes, not {len(leaf_hash)}")
        completed = [(0, self.size, leaf_hash)]
        value, level, index = leaf_hash, 0, self.size
        while index & 1:  # a left sibling of the same size is waiting: they make a parent
            value = node_hash(self._peaks.pop(), value)
            level, index = level + 1, index >> 1
            completed.append((level, index, value))
        self._peaks.append(value)
        self.size += 1
        return completed

    def root(self) -> bytes:
        """RFC 9162 §2.1.1 MTH of the leaves so far: ``H(p0, H(p1, … H(p_{k-2}, p_{k-1})))``."""
        if not self._peaks:
            return EMPTY_ROOT
        value = self._peaks[-1]
        for peak in reversed(self._peaks[:-1]):
            value = node_hash(peak, value)
        return value
