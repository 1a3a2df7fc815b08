"""RFC 6962 / RFC 9162 §2.1 Merkle trees: one import for hashing, proofs and generation.

The work is split by job, and this module gathers it under the name the rest of the
registry, the tests and the benchmarks import (``from registry.log import merkle``):

* ``registry.log.hashing``: leaf and node hashes, the empty root (RFC 9162 §2.1.1);
* ``registry.log.verify``: inclusion and consistency proof verification (RFC 9162 §2.1.3.2,
  §2.1.4.2), plus the C2SP tlog-witness variant that accepts a first checkpoint;
* ``registry.log.subtrees``: roots, inclusion proofs (§2.1.3.1), consistency proofs
  (§2.1.4.1) and appends over a store of complete, aligned subtrees.

All hashes are SHA-256 and exactly 32 bytes.
"""

from registry.log.hashing import EMPTY_ROOT, HASH_SIZE, leaf_hash, node_hash
from registry.log.subtrees import (
    MemoryNodeStore,
    NodeKey,
    NodeReader,
    append_many,
    append_nodes,
    consistency_proof,
    inclusion_proof,
    subtree_keys,
    tree_root,
)
from registry.log.verify import (
    root_from_inclusion_proof,
    verify_consistency,
    verify_inclusion,
    verify_witness_consistency,
)

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "MemoryNodeStore",
    "NodeKey",
    "NodeReader",
    "append_many",
    "append_nodes",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root_from_inclusion_proof",
    "subtree_keys",
    "tree_root",
    "verify_consistency",
    "verify_inclusion",
    "verify_witness_consistency",
]
