"""C2SP tlog-checkpoint: the signed-note text that commits to a Merkle tree head.

The text is ``<origin>\n<tree size>\n<base64 root hash>\n`` followed by optional extension
lines (c2sp.org/tlog-checkpoint §Note text); the root is the RFC 9162 §2.1.1 Merkle Tree
Hash of the first ``size`` leaves. Parsing is strict: decimal without leading zeros,
canonical base64 of exactly 32 bytes, no empty lines.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from registry.errors import InvalidInput, VerificationError
from registry.log.note_keys import NoteSigner, SignatureVerifier
from registry.log.note_syntax import (
    CONTROL_CHARACTERS,
    b64decode_canonical,
    b64encode,
    utf8_encodable,
)
from registry.log.signed_note import Note, open_note, sign_note

__all__ = ["Checkpoint", "open_checkpoint", "sign_checkpoint"]

_MAX_TREE_SIZE = 2**63 - 1  # Go's sumdb/tlog parses the size as int64
_DECIMAL = re.compile(r"0|[1-9][0-9]*")  # explicit ASCII class: \d would admit other scripts


def _checkpoint_problem(
    origin: str, size: int, root_hash: bytes, extensions: Sequence[str]
) -> str | None:
    """Why these fields do not make a valid checkpoint, or None."""
    for what, line in [("origin", origin), *(("extension line", e) for e in extensions)]:
        if not line:
            return f"checkpoint {what} must not be empty"
        if "\n" in line or CONTROL_CHARACTERS.search(line) or not utf8_encodable(line):
            return f"checkpoint {what} must be one line of UTF-8 without control characters"
    if isinstance(size, bool) or not 0 <= size <= _MAX_TREE_SIZE:
        return f"checkpoint tree size must be in [0, 2**63 - 1], got {size}"
    if len(root_hash) != 32:
        return "checkpoint root hash must be 32 bytes"
    return None


@dataclass(frozen=True)
class Checkpoint:
    """A tlog-checkpoint note text: origin, tree size, root hash, optional extension lines."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        problem = _checkpoint_problem(self.origin, self.size, self.root_hash, self.extensions)
        if problem:
            raise InvalidInput(problem)

    def to_text(self) -> str:
        """The note text: ``origin\\nsize\\nbase64(root)\\n`` then the extension lines."""
        lines = [self.origin, str(self.size), b64encode(self.root_hash), *self.extensions]
        return "".join(line + "\n" for line in lines)

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        """Strictly parse a checkpoint note text; raises ``VerificationError``.

        The size is ASCII decimal without leading zeros, the root canonical base64 of 32
        bytes, the origin and every extension line non-empty.
        """
        if not text.endswith("\n"):
            raise VerificationError("checkpoint text must end with a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise VerificationError("checkpoint text needs origin, size and root hash lines")
        origin, size_text, root_b64, *extensions = lines
        if not _DECIMAL.fullmatch(size_text):
            raise VerificationError("checkpoint size must be decimal without leading zeros")
        root_hash = b64decode_canonical(root_b64)
        if root_hash is None:
            raise VerificationError("checkpoint root hash must be base64")
        size = int(size_text)
        problem = _checkpoint_problem(origin, size, root_hash, extensions)
        if problem:
            raise VerificationError(problem)
        return cls(origin, size, root_hash, tuple(extensions))


def sign_checkpoint(checkpoint: Checkpoint, signer: NoteSigner) -> str:
    """The signed note of ``checkpoint``; the signer's name SHOULD equal the origin
    (c2sp.org/tlog-checkpoint §Signed note), which is what verifiers of receipts require."""
    return sign_note(checkpoint.to_text(), [signer])


def open_checkpoint(
    note: str | bytes, verifiers: Sequence[SignatureVerifier]
) -> tuple[Checkpoint, Note]:
    """``open_note`` then ``Checkpoint.parse`` of its text; raises ``VerificationError``."""
    opened = open_note(note, verifiers)
    return Checkpoint.parse(opened.text), opened
