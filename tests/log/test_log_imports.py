"""``registry.log``, ``registry.log.merkle`` and ``registry.log.note`` keep their names.

The tree and the signed-note code live in modules split by job; these three are the import
paths the rest of the registry, the tests and the benchmarks use, so each must go on
exporting exactly what it exported before the split, as the very objects of the modules
that define them.
"""

from __future__ import annotations

import importlib
from types import ModuleType

import pytest

import registry.log
from registry.log import merkle, note

MERKLE = {
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
}

NOTE = {
    "COSIGNATURE_HEADER",
    "MAX_NOTE_SIZE",
    "MAX_SIGNATURES",
    "SIGNATURE_TYPE_COSIGNATURE_V1",
    "SIGNATURE_TYPE_ED25519",
    "Checkpoint",
    "Cosignature",
    "CosignatureSigner",
    "CosignatureVerifier",
    "Note",
    "NoteSignature",
    "NoteSigner",
    "NoteVerifier",
    "SignatureVerifier",
    "add_signature_lines",
    "add_signatures",
    "cosignature_message",
    "cosignature_vkey",
    "key_hash",
    "open_checkpoint",
    "open_cosignature",
    "open_note",
    "parse_cosignature_vkey",
    "parse_vkey",
    "sign_checkpoint",
    "sign_note",
    "verify_cosignature",
    "vkey",
}

# registry.log re-exports everything but the note module's constants.
PACKAGE = MERKLE | NOTE - {n for n in NOTE if n.isupper()}


@pytest.mark.parametrize(
    ("module", "names"), [(merkle, MERKLE), (note, NOTE), (registry.log, PACKAGE)]
)
def test_exports_are_unchanged(module: ModuleType, names: set[str]) -> None:
    assert set(vars(module)["__all__"]) == names
    for name in names:
        assert hasattr(module, name), name


@pytest.mark.parametrize(("module", "names"), [(merkle, MERKLE), (note, NOTE)])
def test_exports_are_the_defining_modules_objects(module: ModuleType, names: set[str]) -> None:
    for name in names:
        value = getattr(module, name)
        home = getattr(value, "__module__", None)
        if home is None or not home.startswith("registry.log."):
            continue  # constants and type aliases carry no module of their own
        assert getattr(importlib.import_module(home), name) is value, name
