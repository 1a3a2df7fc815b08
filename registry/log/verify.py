"""Verifying RFC 9162 Merkle proofs: inclusion (§2.1.3.2) and consistency (§2.1.4.2).

The algorithms follow the RFC's numbered steps literally and need nothing but the proof, the
sizes and the roots: this is what an auditor, a witness or a phone runs, trusting nothing
the log says. Every function returns None or raises ``VerificationError``; none returns a
bool a caller could forget to check.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence

from registry.errors import VerificationError
from registry.log.hashing import EMPTY_ROOT, HASH_SIZE, node_hash

__all__ = [
    "root_from_inclusion_proof",
    "verify_consistency",
    "verify_inclusion",
    "verify_witness_consistency",
]


def _require_hash(value: bytes, what: str) -> None:
    # A hash of the wrong length can never be a node of this tree; rejecting it up front also
    # keeps a truncated value from being compared or concatenated as if it were one.
    if len(value) != HASH_SIZE:
        raise VerificationError(f"{what} must be {HASH_SIZE} bytes, got {len(value)}")


def _require_proof(proof: Sequence[bytes]) -> None:
    for i, element in enumerate(proof):
        _require_hash(element, f"proof element {i}")


def _require_root_match(computed: bytes, expected: bytes, what: str) -> None:
    # Constant time is not needed for public roots, but costs nothing and avoids the question.
    if not hmac.compare_digest(computed, expected):
        raise VerificationError(f"{what} does not match the proof")


def root_from_inclusion_proof(
    leaf_hash: bytes, index: int, tree_size: int, proof: Sequence[bytes]
) -> bytes:
    """Return the root that ``proof`` (an RFC 9162 §2.1.3.1 PATH) implies for ``leaf_hash``.

    Implements steps 1-4 of RFC 9162 §2.1.3.2 and the ``sn == 0`` half of step 5, so a proof
    that is too short or too long for ``(index, tree_size)`` is rejected here rather than
    happening to produce some other root. Raises ``VerificationError``.
    """
    _require_hash(leaf_hash, "leaf hash")
    _require_proof(proof)
    # Step 1.
    if index < 0 or tree_size <= 0 or index >= tree_size:
        raise VerificationError(f"leaf index {index} is outside a tree of size {tree_size}")
    # Steps 2-3.
    fn, sn = index, tree_size - 1
    r = leaf_hash
    # Step 4.
    for p in proof:
        if sn == 0:
            raise VerificationError("inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                # We are the rightmost node of an incomplete level: climb the levels where the
                # node has no right sibling, since nothing is hashed in at those.
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    # Step 5 (first half).
    if sn != 0:
        raise VerificationError("inclusion proof is shorter than the tree is deep")
    return r


def verify_inclusion(
    leaf_hash: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """RFC 9162 §2.1.3.2: verify that ``leaf_hash`` is leaf ``index`` of the tree ``root``.

    Returns None or raises ``VerificationError``. Every hash must be 32 bytes.
    """
    _require_hash(root, "root")
    computed = root_from_inclusion_proof(leaf_hash, index, tree_size, proof)
    _require_root_match(computed, root, "root")


def verify_consistency(
    old_size: int, new_size: int, proof: Sequence[bytes], old_root: bytes, new_root: bytes
) -> None:
    """RFC 9162 §2.1.4.2: verify that tree ``new_root`` extends tree ``old_root``.

    Returns None or raises ``VerificationError``.

    Decisions, pinned by the transparency-dev/merkle test vectors:

    * ``old_size == 0`` is **rejected**. RFC 9162 §2.1.4 defines consistency proofs only for
      ``0 < m < n``; an empty tree is trivially a prefix of every tree, so a "proof" from it
      says nothing, and accepting one here would let a caller believe it checked something.
      C2SP tlog-witness, whose witnesses start from old size 0 with an empty proof, uses
      ``verify_witness_consistency`` instead, which makes that special case explicit.
    * ``old_size == new_size`` needs an empty proof and byte-identical roots; no hashing is
      involved, so the roots are compared as given (the vectors accept two identical
      12-byte "roots" here). Every other path requires 32-byte roots and proof elements.
    """
    if old_size < 0 or new_size < 0:
        raise VerificationError("tree sizes must not be negative")
    if old_size == 0:
        raise VerificationError(
            "consistency from an empty tree proves nothing; witnesses use "
            "verify_witness_consistency"
        )
    if old_size > new_size:
        raise VerificationError(f"old size {old_size} is larger than new size {new_size}")
    if old_size == new_size:
        if proof:
            raise VerificationError("trees of equal size need an empty consistency proof")
        _require_root_match(old_root, new_root, "old root")
        return
    _require_hash(old_root, "old root")
    _require_hash(new_root, "new root")
    _require_proof(proof)
    # Step 1.
    if not proof:
        raise VerificationError("consistency proof is empty")
    path = list(proof)
    # Step 2: a power-of-two old tree is itself a node of the new tree, so the proof omits it.
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    old_computed, new_computed = _roots_from_consistency_path(old_size, new_size, path)
    _require_root_match(old_computed, old_root, "old root")
    _require_root_match(new_computed, new_root, "new root")


def _roots_from_consistency_path(
    old_size: int, new_size: int, path: Sequence[bytes]
) -> tuple[bytes, bytes]:
    """RFC 9162 §2.1.4.2 steps 3-7: the old and new roots that a consistency path implies.

    ``path`` is the proof with the old root prepended when ``old_size`` is a power of two
    (step 2), so it is never empty. A path too long or too short for the sizes raises
    ``VerificationError`` instead of producing some other pair of roots.
    """
    # Step 3.
    fn, sn = old_size - 1, new_size - 1
    # Step 4.
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # Step 5.
    fr = sr = path[0]
    # Step 6.
    for c in path[1:]:
        if sn == 0:
            raise VerificationError("consistency proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    # Step 7.
    if sn != 0:
        raise VerificationError("consistency proof is shorter than the tree is deep")
    return fr, sr


def verify_witness_consistency(
    old_size: int,
    new_size: int,
    proof: Sequence[bytes],
    old_root: bytes | None,
    new_root: bytes,
) -> None:
    """Consistency check as a C2SP tlog-witness ``add-checkpoint`` performs it.

    Identical to ``verify_consistency`` except for ``old_size == 0``, which tlog-witness uses
    for "no checkpoint of this log cosigned yet": the proof MUST then be empty and any
    new tree is accepted (``old_root`` may be None, or the empty-tree hash). A new size of 0
    must still carry the empty-tree root, because a checkpoint claiming otherwise is false.
    Returns None or raises ``VerificationError``.
    """
    if old_size != 0:
        if old_root is None:
            raise VerificationError("old root is required for a non-empty old tree")
        verify_consistency(old_size, new_size, proof, old_root, new_root)
        return
    if new_size < 0:
        raise VerificationError("tree sizes must not be negative")
    if proof:
        raise VerificationError("a consistency proof from size 0 must be empty")
    if old_root is not None:
        _require_root_match(old_root, EMPTY_ROOT, "old root of the empty tree")
    _require_hash(new_root, "new root")
    if new_size == 0:
        _require_root_match(new_root, EMPTY_ROOT, "root of the empty tree")
