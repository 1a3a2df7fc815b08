"""C2SP signed notes (c2sp.org/signed-note): parse, verify, sign and extend.

A note is a text followed by a blank line and ``— <name> <base64>`` signature lines. Output
is byte-identical to Go's ``golang.org/x/mod/sumdb/note`` (``note.Sign``, ``note.Open``), so
sumdb tooling and witnesses can read what the registry signs and vice versa. Malformed or
unverifiable notes raise ``VerificationError``; texts we are asked to sign that are
malformed raise ``InvalidInput``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from registry.errors import InvalidInput, VerificationError
from registry.log.note_keys import NoteSigner, SignatureVerifier
from registry.log.note_syntax import (
    CONTROL_CHARACTERS,
    MAX_NOTE_SIZE,
    MAX_SIGNATURES,
    SIGNATURE_LINE_PREFIX,
    SIGNATURE_TYPE_COSIGNATURE_V1,
    b64decode_canonical,
    b64encode,
    utf8_encodable,
    valid_key_name,
)

__all__ = [
    "Note",
    "NoteSignature",
    "add_signature_lines",
    "check_note_characters",
    "open_note",
    "parse_signature_line",
    "sign_note",
    "split_note",
]


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: key name, 4-byte key hash, and the bytes after the key hash.

    ``signature_type`` is known only for signatures checked by a verifier.
    """

    name: str
    key_hash: bytes
    signature: bytes
    signature_type: int | None = None

    @property
    def line(self) -> str:
        """The signature line exactly as it appears in the note (canonical base64)."""
        return f"{SIGNATURE_LINE_PREFIX}{self.name} {b64encode(self.key_hash + self.signature)}\n"

    @property
    def timestamp(self) -> int | None:
        """The cosignature timestamp, for a verified type 0x04 signature; else None."""
        if self.signature_type != SIGNATURE_TYPE_COSIGNATURE_V1:
            return None
        return int.from_bytes(self.signature[:8], "big")


@dataclass(frozen=True)
class Note:
    """An opened note: its text, the verified signatures, and the ones from unknown keys."""

    text: str
    signatures: tuple[NoteSignature, ...]
    unverified_signatures: tuple[NoteSignature, ...] = ()


def check_note_characters(note: str) -> None:
    """c2sp.org/signed-note §Format: ``VerificationError`` if ``note`` holds a control
    character other than newline, or a lone surrogate (no UTF-8 form)."""
    if CONTROL_CHARACTERS.search(note) or not utf8_encodable(note):
        raise VerificationError("malformed note: control characters or invalid UTF-8")


def split_note(note: str | bytes) -> tuple[str, list[NoteSignature]]:
    """Split a note into text and parsed (unverified) signature lines; ``VerificationError``."""
    try:
        raw = note.encode("utf-8") if isinstance(note, str) else note
        if len(raw) > MAX_NOTE_SIZE:
            raise VerificationError(f"malformed note: larger than {MAX_NOTE_SIZE} bytes")
        note = raw.decode("utf-8")
    except UnicodeError:
        raise VerificationError("malformed note: invalid UTF-8") from None
    check_note_characters(note)
    # The text is separated from the signatures by the *last* blank line (spec §Format); the
    # text keeps its final newline.
    split = note.rfind("\n\n")
    if split < 0:
        raise VerificationError("malformed note: no blank line before the signatures")
    text, block = note[: split + 1], note[split + 2 :]
    if not block or not block.endswith("\n"):
        raise VerificationError("malformed note: signature block must end in a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise VerificationError(f"malformed note: more than {MAX_SIGNATURES} signatures")
    return text, [parse_signature_line(line) for line in lines]


def parse_signature_line(line: str) -> NoteSignature:
    """Parse one ``— name base64(keyhash || signature)`` line (without its newline).

    c2sp.org/signed-note §Format: a valid key name, canonical base64, and at least the
    4-byte key hash plus one signature byte; ``VerificationError`` otherwise. Nothing is
    verified here.
    """
    if not line.startswith(SIGNATURE_LINE_PREFIX):
        raise VerificationError("malformed note: signature line must start with '— '")
    name, sep, sig_b64 = line[len(SIGNATURE_LINE_PREFIX) :].partition(" ")
    raw = b64decode_canonical(sig_b64) if sep else None
    if not valid_key_name(name) or raw is None or len(raw) < 5:
        raise VerificationError("malformed note: bad signature line")
    return NoteSignature(name, raw[:4], raw[4:])


def _check_note_text(text: str) -> None:
    if not text.endswith("\n"):
        raise InvalidInput("note text must end with a newline")
    if CONTROL_CHARACTERS.search(text) or not utf8_encodable(text):
        raise InvalidInput("note text must be UTF-8 without control characters but newline")


def _index_verifiers(
    verifiers: Iterable[SignatureVerifier],
) -> dict[tuple[str, bytes], SignatureVerifier]:
    index: dict[tuple[str, bytes], SignatureVerifier] = {}
    for v in verifiers:
        key = (v.name, v.key_hash)
        if key in index and index[key] != v:
            # Go's VerifierList reports this as an ambiguous key; it is a setup mistake.
            raise InvalidInput(f"two verifier keys share name {v.name!r} and key hash")
        index[key] = v
    return index


def open_note(note: str | bytes, verifiers: Sequence[SignatureVerifier]) -> Note:
    """Parse ``note`` and verify its signatures (c2sp.org/signed-note §Signatures).

    A signature line matches a verifier when both name and key hash match; other lines are
    kept, unverified, in ``Note.unverified_signatures``. Every matching signature is
    verified, repeated ones included (the spec's MUST; Go skips repeats), and one failure
    rejects the note. Raises ``VerificationError`` for a malformed note, a bad signature, or
    when no known key signed it.
    """
    known = _index_verifiers(verifiers)
    text, parsed = split_note(note)
    verified: dict[tuple[str, bytes], NoteSignature] = {}
    unverified: dict[str, NoteSignature] = {}
    for sig in parsed:
        verifier = known.get((sig.name, sig.key_hash))
        if verifier is None:
            unverified.setdefault(sig.line, sig)
            continue
        verifier.verify(text, sig.signature)
        verified.setdefault(
            (sig.name, sig.key_hash),
            NoteSignature(sig.name, sig.key_hash, sig.signature, verifier.signature_type),
        )
    if not verified:
        raise VerificationError("note is not signed by any known key")
    return Note(text, tuple(verified.values()), tuple(unverified.values()))


def sign_note(text: str, signers: Sequence[NoteSigner]) -> str:
    """Sign ``text`` exactly as Go's ``note.Sign``: text, blank line, one line per signer."""
    _check_note_text(text)
    if not signers:
        raise InvalidInput("a note needs at least one signer")
    return text + "\n" + "".join(s.signature_line(text) for s in signers)


def add_signature_lines(note: str, lines: str | Sequence[str]) -> str:
    """Append signature lines (e.g. a witness's ``add-checkpoint`` response) to ``note``.

    The note and the lines are checked for form only, not verified: open the result with
    the keys you trust. A new line replaces an existing line of the same name and key hash,
    so a witness re-cosigning a checkpoint leaves one cosignature, not two.
    """
    text, existing = split_note(note)
    block = lines if isinstance(lines, str) else "".join(lines)
    check_note_characters(block)
    if not block or not block.endswith("\n"):
        raise VerificationError("signature lines must each end in a newline")
    added = [parse_signature_line(line) for line in block[:-1].split("\n")]
    replaced = {(s.name, s.key_hash) for s in added}
    kept = [s for s in existing if (s.name, s.key_hash) not in replaced]
    if len(kept) + len(added) > MAX_SIGNATURES:
        raise VerificationError(f"a note carries at most {MAX_SIGNATURES} signatures")
    return text + "\n" + "".join(s.line for s in kept + added)
