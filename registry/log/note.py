"""C2SP signed notes, checkpoints and cosignatures, Ed25519 only: one import for all three.

* c2sp.org/signed-note: a text followed by a blank line and ``— <name> <base64>`` signature
  lines (``registry.log.signed_note``; lexical rules in ``registry.log.note_syntax``,
  verifier and signer key strings in ``registry.log.note_keys``). Output is byte-identical
  to Go's ``golang.org/x/mod/sumdb/note``, so sumdb tooling and witnesses can read what the
  registry signs and vice versa.
* c2sp.org/tlog-checkpoint: the note text that commits to a Merkle tree head
  (``registry.log.checkpoint``).
* c2sp.org/tlog-cosignature (``cosignature/v1``, signature type 0x04): a witness's timestamped
  statement that a checkpoint is consistent with everything it has seen of the log
  (``registry.log.cosignature``).

Verifiers raise ``VerificationError``; key strings and values we are asked to sign that are
malformed raise ``InvalidInput``.
"""

from registry.log.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from registry.log.cosignature import (
    COSIGNATURE_HEADER,
    Cosignature,
    CosignatureSigner,
    CosignatureVerifier,
    add_signatures,
    cosignature_message,
    cosignature_vkey,
    open_cosignature,
    parse_cosignature_vkey,
    verify_cosignature,
)
from registry.log.note_keys import NoteSigner, NoteVerifier, SignatureVerifier, parse_vkey, vkey
from registry.log.note_syntax import (
    MAX_NOTE_SIZE,
    MAX_SIGNATURES,
    SIGNATURE_TYPE_COSIGNATURE_V1,
    SIGNATURE_TYPE_ED25519,
    key_hash,
)
from registry.log.signed_note import Note, NoteSignature, add_signature_lines, open_note, sign_note

__all__ = [
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
]
