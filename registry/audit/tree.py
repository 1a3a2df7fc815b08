"""The log as a whole: checkpoint, consistency with the last audit, the tree of the leaves.

Steps 1, 2 and 4 of docs/audit.md: the checkpoint must open with the pinned log key and
carry every required witness cosignature (C2SP tlog-checkpoint, tlog-cosignature); it must
be consistent with the checkpoint this state verified before (RFC 9162 §2.1.4.2), or the
first entry served differently is named; and the RFC 6962 tree of the mirrored leaves must
have its root, a mismatch being located by bisection with consistency proofs.
"""

from __future__ import annotations

from collections.abc import Sequence

from registry.audit.client import PAGE_SIZE, RegistryClient, served_row
from registry.audit.entry import leaf_kind
from registry.audit.failures import AuditError, failure
from registry.audit.mirror import Mirror
from registry.audit.recheck import served_difference
from registry.errors import VerificationError
from registry.log import merkle
from registry.log.note import Checkpoint, CosignatureVerifier, NoteVerifier, open_note


def verify_checkpoint(
    note: str, log_key: NoteVerifier, witnesses: Sequence[CosignatureVerifier] = ()
) -> Checkpoint:
    """Open a checkpoint note signed by ``log_key`` and cosigned by every witness.

    c2sp.org/tlog-checkpoint: the origin line must be the log key's name. Every signature
    line from a known key must verify (a bad one fails the note); lines from other keys are
    ignored; each witness needs a c2sp.org/tlog-cosignature line. Raises
    ``VerificationError``.
    """
    try:
        opened = open_note(note, [log_key, *witnesses])
        checkpoint = Checkpoint.parse(opened.text)
    except VerificationError as exc:
        raise failure(
            None, None, f"the checkpoint does not verify with {log_key.to_vkey()}: {exc.detail}"
        ) from None
    signed_by = {(s.name, s.key_hash) for s in opened.signatures}
    if (log_key.name, log_key.key_hash) not in signed_by:
        raise failure(None, None, f"the checkpoint is not signed by the log key {log_key.name}")
    if checkpoint.origin != log_key.name:
        raise failure(
            None, None, f"the checkpoint's origin {checkpoint.origin!r} is not {log_key.name!r}"
        )
    for witness in witnesses:
        if (witness.name, witness.key_hash) not in signed_by:
            raise failure(
                None, None, f"the checkpoint carries no cosignature from witness {witness.name}"
            )
    return checkpoint


def check_consistency(
    client: RegistryClient, mirror: Mirror, previous: tuple[int, bytes], checkpoint: Checkpoint
) -> None:
    """RFC 9162 §2.1.4.2 from the last verified checkpoint; name what was rewritten.

    Raises ``VerificationError``: at the first entry the server now serves differently from
    the mirror, or, when none is found, as a split view without an index.
    """
    old_size, old_root = previous
    new_size, new_root = checkpoint.size, checkpoint.root_hash
    if new_size < old_size:
        problem = f"the log shrank from size {old_size} to {new_size}"
    else:
        proof = client.consistency(old_size, new_size) if new_size > old_size else []
        try:
            merkle.verify_consistency(old_size, new_size, proof, old_root, new_root)
            return
        except VerificationError as exc:
            problem = f"checkpoint {new_size} is not consistent with checkpoint {old_size}"
            problem += f" verified before ({exc.detail})"
    raise find_rewrite(client, mirror, min(old_size, new_size), old_size) or failure(
        None, None, f"split view: {problem}"
    )


def find_rewrite(
    client: RegistryClient, mirror: Mirror, served: int, old_size: int
) -> VerificationError | None:
    """Re-read the entries verified before and name the first one served differently."""
    for start in range(0, old_size, PAGE_SIZE):
        end = min(start + PAGE_SIZE, old_size)
        entries = client.entries(start, end) if start < served else []
        by_index = {e.get("index"): e for e in entries if isinstance(e, dict)}
        for index, leaf, envelope in mirror.rows(start, end):
            kind = leaf_kind(leaf)
            detail = served_difference(served_row(index, by_index.get(index)), leaf, envelope)
            if detail is None:
                continue
            return failure(
                index,
                kind,
                f"split view / rewritten history: {detail} than when checkpoint "
                f"{old_size} was verified",
            )
    return None


def check_tree(
    client: RegistryClient, mirror: Mirror, checkpoint: Checkpoint
) -> VerificationError | None:
    """RFC 6962 root of the mirrored leaves vs the checkpoint; locate a mismatch."""
    size = checkpoint.size
    store = merkle.MemoryNodeStore(merkle.leaf_hash(leaf) for _, leaf in mirror.leaves(size))
    if store.root(size) == checkpoint.root_hash:
        return None
    bad = _bisect(client, store, checkpoint)
    if bad is None:
        return failure(
            None,
            None,
            f"the tree of the {size} served leaves does not have the checkpoint root",
        )
    leaf = next(row[1] for row in mirror.rows(bad, bad + 1))
    return failure(
        bad,
        leaf_kind(leaf),
        f"the served leaf is not the one checkpoint {size} commits to (tree root mismatch)",
    )


def _bisect(
    client: RegistryClient, store: merkle.MemoryNodeStore, checkpoint: Checkpoint
) -> int | None:
    """First leaf where the mirror leaves the checkpointed tree, using consistency proofs.

    "Our first m leaves are a prefix of the checkpoint's tree" is monotone in m and a
    proof that verifies cannot lie, so bisection finds the first bad leaf in O(log n)
    requests (exactly, when the server answers honestly).
    """
    good, bad = 0, checkpoint.size
    try:
        while bad - good > 1:
            middle = (good + bad) // 2
            proof = client.consistency(middle, checkpoint.size)
            try:
                merkle.verify_consistency(
                    middle, checkpoint.size, proof, store.root(middle), checkpoint.root_hash
                )
                good = middle
            except VerificationError:
                bad = middle
    except (AuditError, VerificationError):
        return None
    return bad - 1
