"""RFC 9162 §2.1.1 Merkle tree hashing: the leaf and interior-node hashes every root and
proof of the transparency log is built from.

All hashes are SHA-256 and exactly ``HASH_SIZE`` bytes. Leaves and interior nodes are hashed
with different one-byte prefixes (0x00 and 0x01, RFC 6962 §2.1 / RFC 9162 §2.1.1), so that no
interior node can be presented as a leaf.
"""

from __future__ import annotations

import hashlib

__all__ = ["EMPTY_ROOT", "HASH_SIZE", "leaf_hash", "node_hash", "split_point"]

HASH_SIZE = 32
"""Length in bytes of every hash in the tree (SHA-256)."""

EMPTY_ROOT = hashlib.sha256(b"").digest()
"""RFC 9162 §2.1.1: the hash of an empty tree is the hash of the empty string."""

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"


def leaf_hash(leaf: bytes) -> bytes:
    """RFC 9162 §2.1.1: ``MTH({d(0)}) = SHA-256(0x00 || d(0))``.

    The 0x00 / 0x01 domain separation stops an interior node from being passed off as a leaf
    (second-preimage attack on the tree).
    """
    return hashlib.sha256(_LEAF_PREFIX + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 §2.1.1: ``SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n]))``."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def split_point(n: int) -> int:
    """RFC 9162 §2.1.1: ``k``, the largest power of two strictly smaller than ``n`` (``n >= 2``).

    A tree of ``n`` leaves is the left subtree ``D[0:k]`` and the right subtree ``D[k:n]``.
    """
    return 1 << ((n - 1).bit_length() - 1)
