"""C2SP signed notes, checkpoints and cosignatures, Ed25519 only.

* c2sp.org/signed-note: a text followed by a blank line and ``— <name> <base64>`` signature
  lines. Output is byte-identical to Go's ``golang.org/x/mod/sumdb/note``, so sumdb tooling
  and witnesses can read what the registry signs and vice versa.
* c2sp.org/tlog-checkpoint: the note text that commits to a Merkle tree head.
* c2sp.org/tlog-cosignature (``cosignature/v1``, signature type 0x04): a witness's timestamped
  statement that a checkpoint is consistent with everything it has seen of the log.

Verifiers raise ``VerificationError``; key strings and values we are asked to sign that are
malformed raise ``InvalidInput``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Protocol, Self

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from registry.errors import InvalidInput, VerificationError

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

SIGNATURE_TYPE_ED25519 = 0x01
"""c2sp.org/signed-note §Signature types: plain Ed25519 over the note text."""

SIGNATURE_TYPE_COSIGNATURE_V1 = 0x04
"""c2sp.org/signed-note §Signature types: timestamped Ed25519 cosignatures (tlog-cosignature)."""

MAX_SIGNATURES = 100
"""Signature lines accepted per note: Go's limit; the spec requires accepting at least 16."""

MAX_NOTE_SIZE = 1 << 20
"""Largest note accepted, in UTF-8 bytes; bounds the work an untrusted note can cause."""

COSIGNATURE_HEADER = "cosignature/v1"

_SIG_PREFIX = "— "  # U+2014 EM DASH, U+0020 SPACE
_MAX_TIMESTAMP = 2**63 - 1  # tlog-cosignature: "MUST NOT exceed 2^63 - 1"
_MAX_TREE_SIZE = 2**63 - 1  # Go's sumdb/tlog parses the size as int64
_ED25519_KEY_SIZE = 32
_ED25519_SIG_SIZE = 64
_HEX8 = re.compile(r"[0-9a-fA-F]{8}")
_DECIMAL = re.compile(r"0|[1-9][0-9]*")  # explicit ASCII class: \d would admit other scripts
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")  # signed-note: no controls other than newline
_SPACE = re.compile(r"\s")  # Python's \s is Unicode-aware like Go's unicode.IsSpace


# --- Encoding helpers ---------------------------------------------------------------------------


def _b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _b64decode(text: str) -> bytes | None:
    """Strict RFC 4648 §4 base64: padded, canonical (RFC 4648 §3.5), or None.

    Canonical-only decoding means each signature has exactly one textual form, so duplicate
    detection on lines cannot be dodged by re-encoding.
    """
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error, ValueError):
        return None
    return data if _b64encode(data) == text else None


def _valid_name(name: str) -> bool:
    """c2sp.org/signed-note §Format: non-empty, no Unicode spaces, no '+'."""
    return (
        bool(name)
        and not _SPACE.search(name)
        and not _CONTROL.search(name)
        and "+" not in name
        and _encodable(name)
    )


def _encodable(text: str) -> bool:
    # A Python str can hold lone surrogates, which have no UTF-8 form.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def key_hash(name: str, signature_type: int, public_key: bytes) -> bytes:
    """c2sp.org/signed-note §Signatures: ``SHA-256(name || 0x0A || type || public key)[:4]``."""
    material = name.encode("utf-8") + b"\n" + bytes([signature_type]) + public_key
    return hashlib.sha256(material).digest()[:4]


def _raw_public_key(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _raw_seed(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )


def _verify_ed25519(public_key: bytes, signature: bytes, message: bytes, who: str) -> None:
    if len(signature) != _ED25519_SIG_SIZE:
        raise VerificationError(f"signature by {who} has the wrong length")
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except InvalidSignature:
        raise VerificationError(f"signature by {who} does not verify") from None


# --- Verifier keys (c2sp.org/signed-note §Verifier keys, Go note.NewVerifier) -------------------


def _format_vkey(name: str, signature_type: int, public_key: bytes) -> str:
    if not _valid_name(name):
        raise InvalidInput(f"invalid key name {name!r}")
    if len(public_key) != _ED25519_KEY_SIZE:
        raise InvalidInput("an Ed25519 public key is 32 bytes")
    material = bytes([signature_type]) + public_key
    return f"{name}+{key_hash(name, signature_type, public_key).hex()}+{_b64encode(material)}"


def _parse_vkey(text: str, signature_type: int) -> tuple[str, bytes, bytes]:
    """Return ``(name, key_hash, public_key)`` of ``name+hexhash+base64(type || key)``."""
    # The base64 part may itself contain '+', and the name may not: split twice only.
    parts = text.split("+", 2)
    if len(parts) != 3:
        raise InvalidInput("a verifier key has the form name+hash+key")
    name, hash_hex, key_b64 = parts
    if not _valid_name(name):
        raise InvalidInput(f"invalid key name {name!r}")
    if not _HEX8.fullmatch(hash_hex):
        raise InvalidInput("the key hash of a verifier key is 8 hex digits")
    material = _b64decode(key_b64)
    if material is None or len(material) != 1 + _ED25519_KEY_SIZE:
        raise InvalidInput("the key of a verifier key is base64 of 33 bytes")
    if material[0] != signature_type:
        raise InvalidInput(
            f"verifier key has signature type {material[0]:#04x}, expected {signature_type:#04x}"
        )
    public_key = material[1:]
    expected = key_hash(name, signature_type, public_key)
    if bytes.fromhex(hash_hex) != expected:
        raise InvalidInput("the key hash of the verifier key does not match its key")
    return name, expected, public_key


def _check_verifier_fields(name: str, key_id: bytes, public_key: bytes, sig_type: int) -> None:
    if not _valid_name(name):
        raise InvalidInput(f"invalid key name {name!r}")
    if len(public_key) != _ED25519_KEY_SIZE:
        raise InvalidInput("an Ed25519 public key is 32 bytes")
    if key_id != key_hash(name, sig_type, public_key):
        raise InvalidInput("key hash does not match the name and public key")


class SignatureVerifier(Protocol):
    """A key that ``open_note`` can check signature lines against."""

    @property
    def name(self) -> str: ...

    @property
    def key_hash(self) -> bytes: ...

    @property
    def signature_type(self) -> int: ...

    def verify(self, text: str, signature: bytes) -> None:
        """Raise ``VerificationError`` unless ``signature`` (after the key hash) signs ``text``."""
        ...


@dataclass(frozen=True)
class NoteVerifier:
    """An Ed25519 (type 0x01) note verifier key; ``key_hash`` is checked on construction."""

    name: str
    key_hash: bytes
    public_key: bytes

    signature_type = SIGNATURE_TYPE_ED25519

    def __post_init__(self) -> None:
        _check_verifier_fields(self.name, self.key_hash, self.public_key, self.signature_type)

    @classmethod
    def from_public_key(cls, name: str, public_key: bytes) -> NoteVerifier:
        return cls(name, key_hash(name, SIGNATURE_TYPE_ED25519, public_key), public_key)

    def to_vkey(self) -> str:
        return vkey(self.name, self.public_key)

    def verify(self, text: str, signature: bytes) -> None:
        """c2sp.org/signed-note §Ed25519 signatures: RFC 8032 over the note text."""
        _verify_ed25519(self.public_key, signature, text.encode("utf-8"), self.name)


def vkey(name: str, public_key_raw: bytes) -> str:
    """The Go/C2SP verifier key string ``name+hexhash+base64(0x01 || key)``."""
    return _format_vkey(name, SIGNATURE_TYPE_ED25519, public_key_raw)


def parse_vkey(text: str) -> NoteVerifier:
    """Parse a type 0x01 verifier key as Go's ``note.NewVerifier`` does; ``InvalidInput``."""
    return NoteVerifier(*_parse_vkey(text, SIGNATURE_TYPE_ED25519))


# --- Signers -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _NamedEd25519Key:
    """A named Ed25519 signing key; ``SIGNATURE_TYPE`` says what it signs (notes, or
    cosignatures) and enters its key hash."""

    SIGNATURE_TYPE: ClassVar[int]

    name: str
    private_key: Ed25519PrivateKey = field(repr=False, compare=False)

    def __post_init__(self) -> None:
        if not _valid_name(self.name):
            raise InvalidInput(f"invalid key name {self.name!r}")

    @classmethod
    def generate(cls, name: str) -> Self:
        return cls(name, Ed25519PrivateKey.generate())

    @property
    def public_key(self) -> bytes:
        return _raw_public_key(self.private_key.public_key())

    @property
    def key_hash(self) -> bytes:
        return key_hash(self.name, self.SIGNATURE_TYPE, self.public_key)


@dataclass(frozen=True)
class NoteSigner(_NamedEd25519Key):
    """An Ed25519 (type 0x01) note signing key."""

    SIGNATURE_TYPE = SIGNATURE_TYPE_ED25519

    @classmethod
    def from_skey(cls, skey: str) -> NoteSigner:
        """Parse Go's ``PRIVATE+KEY+name+hexhash+base64(0x01 || seed32)`` (note.NewSigner)."""
        parts = skey.split("+", 4)
        if len(parts) != 5 or parts[0] != "PRIVATE" or parts[1] != "KEY":
            raise InvalidInput("a signer key has the form PRIVATE+KEY+name+hash+key")
        _, _, name, hash_hex, key_b64 = parts
        if not _valid_name(name):
            raise InvalidInput(f"invalid key name {name!r}")
        if not _HEX8.fullmatch(hash_hex):
            raise InvalidInput("the key hash of a signer key is 8 hex digits")
        material = _b64decode(key_b64)
        if material is None or len(material) != 1 + _ED25519_KEY_SIZE:
            raise InvalidInput("the key of a signer key is base64 of 33 bytes")
        if material[0] != SIGNATURE_TYPE_ED25519:
            raise InvalidInput("only Ed25519 (0x01) signer keys are supported")
        signer = cls(name, Ed25519PrivateKey.from_private_bytes(material[1:]))
        # Go checks the hash against the *public* key derived from the seed.
        if bytes.fromhex(hash_hex) != signer.key_hash:
            raise InvalidInput("the key hash of the signer key does not match its key")
        return signer

    def verifier(self) -> NoteVerifier:
        return NoteVerifier(self.name, self.key_hash, self.public_key)

    def to_vkey(self) -> str:
        return vkey(self.name, self.public_key)

    def to_skey(self) -> str:
        material = bytes([SIGNATURE_TYPE_ED25519]) + _raw_seed(self.private_key)
        return f"PRIVATE+KEY+{self.name}+{self.key_hash.hex()}+{_b64encode(material)}"

    def signature_line(self, text: str) -> str:
        """The ``— name base64(keyhash || sig)`` line (with newline) signing ``text``."""
        sig = self.private_key.sign(text.encode("utf-8"))
        return f"{_SIG_PREFIX}{self.name} {_b64encode(self.key_hash + sig)}\n"


# --- Notes (c2sp.org/signed-note §Format, Go note.Open / note.Sign) -----------------------------


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
        return f"{_SIG_PREFIX}{self.name} {_b64encode(self.key_hash + self.signature)}\n"

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


def _check_note_chars(note: str) -> None:
    if _CONTROL.search(note) or not _encodable(note):
        raise VerificationError("malformed note: control characters or invalid UTF-8")


def _split_note(note: str | bytes) -> tuple[str, list[NoteSignature]]:
    """Split a note into text and parsed (unverified) signature lines; ``VerificationError``."""
    try:
        raw = note.encode("utf-8") if isinstance(note, str) else note
        if len(raw) > MAX_NOTE_SIZE:
            raise VerificationError(f"malformed note: larger than {MAX_NOTE_SIZE} bytes")
        note = raw.decode("utf-8")
    except UnicodeError:
        raise VerificationError("malformed note: invalid UTF-8") from None
    _check_note_chars(note)
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
    return text, [_parse_signature_line(line) for line in lines]


def _parse_signature_line(line: str) -> NoteSignature:
    if not line.startswith(_SIG_PREFIX):
        raise VerificationError("malformed note: signature line must start with '— '")
    name, sep, sig_b64 = line[len(_SIG_PREFIX) :].partition(" ")
    raw = _b64decode(sig_b64) if sep else None
    if not _valid_name(name) or raw is None or len(raw) < 5:
        raise VerificationError("malformed note: bad signature line")
    return NoteSignature(name, raw[:4], raw[4:])


def _check_note_text(text: str) -> None:
    if not text.endswith("\n"):
        raise InvalidInput("note text must end with a newline")
    if _CONTROL.search(text) or not _encodable(text):
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
    text, parsed = _split_note(note)
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
    text, existing = _split_note(note)
    block = lines if isinstance(lines, str) else "".join(lines)
    _check_note_chars(block)
    if not block or not block.endswith("\n"):
        raise VerificationError("signature lines must each end in a newline")
    added = [_parse_signature_line(line) for line in block[:-1].split("\n")]
    replaced = {(s.name, s.key_hash) for s in added}
    kept = [s for s in existing if (s.name, s.key_hash) not in replaced]
    if len(kept) + len(added) > MAX_SIGNATURES:
        raise VerificationError(f"a note carries at most {MAX_SIGNATURES} signatures")
    return text + "\n" + "".join(s.line for s in kept + added)


def add_signatures(
    note: str,
    signers: Sequence[NoteSigner | CosignatureSigner],
    *,
    timestamp: int | None = None,
) -> str:
    """Sign the text of an existing note with more keys, e.g. a witness cosigning it.

    Cosignature signers need ``timestamp`` (POSIX seconds); it is explicit so that this
    module stays free of clocks.
    """
    text, _ = _split_note(note)
    lines: list[str] = []
    for signer in signers:
        if isinstance(signer, CosignatureSigner):
            if timestamp is None:
                raise InvalidInput("a cosignature needs a timestamp")
            lines.append(signer.cosign(text, timestamp))
        else:
            lines.append(signer.signature_line(text))
    if not lines:
        raise InvalidInput("no signers given")
    return add_signature_lines(note, lines)


# --- Checkpoints (c2sp.org/tlog-checkpoint §Note text) ------------------------------------------


def _checkpoint_problem(
    origin: str, size: int, root_hash: bytes, extensions: Sequence[str]
) -> str | None:
    """Why these fields do not make a valid checkpoint, or None."""
    for what, line in [("origin", origin), *(("extension line", e) for e in extensions)]:
        if not line:
            return f"checkpoint {what} must not be empty"
        if "\n" in line or _CONTROL.search(line) or not _encodable(line):
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
        lines = [self.origin, str(self.size), _b64encode(self.root_hash), *self.extensions]
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
        root_hash = _b64decode(root_b64)
        if root_hash is None:
            raise VerificationError("checkpoint root hash must be base64")
        size = int(size_text)
        problem = _checkpoint_problem(origin, size, root_hash, extensions)
        if problem:
            raise VerificationError(problem)
        return cls(origin, size, root_hash, tuple(extensions))


def sign_checkpoint(checkpoint: Checkpoint, signer: NoteSigner) -> str:
    """The signed note of ``checkpoint``; the signer's name SHOULD equal the origin."""
    return sign_note(checkpoint.to_text(), [signer])


def open_checkpoint(
    note: str | bytes, verifiers: Sequence[SignatureVerifier]
) -> tuple[Checkpoint, Note]:
    """``open_note`` then ``Checkpoint.parse`` of its text; raises ``VerificationError``."""
    opened = open_note(note, verifiers)
    return Checkpoint.parse(opened.text), opened


# --- Cosignatures (c2sp.org/tlog-cosignature, Ed25519 cosignature/v1) --------------------------


def _check_timestamp(timestamp: int) -> None:
    if isinstance(timestamp, bool) or not 0 <= timestamp <= _MAX_TIMESTAMP:
        raise InvalidInput("cosignature timestamp must be in [0, 2**63 - 1]")


def cosignature_message(checkpoint_text: str, timestamp: int) -> bytes:
    """tlog-cosignature §Ed25519 signed message.

    ``cosignature/v1\\ntime <timestamp>\\n`` followed by the whole checkpoint note body,
    extension lines included.
    """
    _check_timestamp(timestamp)
    return f"{COSIGNATURE_HEADER}\ntime {timestamp}\n{checkpoint_text}".encode()


@dataclass(frozen=True)
class Cosignature:
    """A verified cosignature/v1: who, when (POSIX seconds), and the Ed25519 signature."""

    name: str
    key_hash: bytes
    timestamp: int
    signature: bytes


@dataclass(frozen=True)
class CosignatureVerifier:
    """A witness's cosignature/v1 (type 0x04) public key."""

    name: str
    key_hash: bytes
    public_key: bytes

    signature_type = SIGNATURE_TYPE_COSIGNATURE_V1

    def __post_init__(self) -> None:
        _check_verifier_fields(self.name, self.key_hash, self.public_key, self.signature_type)

    @classmethod
    def from_public_key(cls, name: str, public_key: bytes) -> CosignatureVerifier:
        return cls(name, key_hash(name, SIGNATURE_TYPE_COSIGNATURE_V1, public_key), public_key)

    def to_vkey(self) -> str:
        return cosignature_vkey(self.name, self.public_key)

    def verify(self, text: str, signature: bytes) -> None:
        """Verify a ``timestamped_signature`` (u64 big-endian time || Ed25519 sig) on ``text``.

        The signature must be exactly 8 + 64 bytes; the text must be a well-formed checkpoint,
        since a cosignature is a statement about a tree head and nothing else.
        """
        if len(signature) != 8 + _ED25519_SIG_SIZE:
            raise VerificationError(f"cosignature by {self.name} has the wrong length")
        Checkpoint.parse(text)
        timestamp = int.from_bytes(signature[:8], "big")
        if timestamp > _MAX_TIMESTAMP:
            raise VerificationError(f"cosignature by {self.name} has an invalid timestamp")
        message = cosignature_message(text, timestamp)
        _verify_ed25519(self.public_key, signature[8:], message, self.name)


def cosignature_vkey(name: str, public_key_raw: bytes) -> str:
    """Verifier key string ``name+hexhash+base64(0x04 || key)`` (tlog-cosignature §Format)."""
    return _format_vkey(name, SIGNATURE_TYPE_COSIGNATURE_V1, public_key_raw)


def parse_cosignature_vkey(text: str) -> CosignatureVerifier:
    """Parse a type 0x04 verifier key; raises ``InvalidInput``."""
    return CosignatureVerifier(*_parse_vkey(text, SIGNATURE_TYPE_COSIGNATURE_V1))


@dataclass(frozen=True)
class CosignatureSigner(_NamedEd25519Key):
    """The witness side of cosignature/v1."""

    SIGNATURE_TYPE = SIGNATURE_TYPE_COSIGNATURE_V1

    def verifier(self) -> CosignatureVerifier:
        return CosignatureVerifier(self.name, self.key_hash, self.public_key)

    def to_vkey(self) -> str:
        return cosignature_vkey(self.name, self.public_key)

    def cosign(self, checkpoint_text: str, timestamp: int) -> str:
        """Return the signature line ``— name base64(keyhash || u64 time || sig)\\n``.

        ``checkpoint_text`` must parse as a checkpoint (``InvalidInput`` otherwise): the
        witness must not sign anything that is not a tree head.
        """
        try:
            Checkpoint.parse(checkpoint_text)
        except VerificationError as exc:
            raise InvalidInput(f"not a checkpoint: {exc.detail}") from None
        message = cosignature_message(checkpoint_text, timestamp)
        blob = self.key_hash + timestamp.to_bytes(8, "big") + self.private_key.sign(message)
        return f"{_SIG_PREFIX}{self.name} {_b64encode(blob)}\n"


def open_cosignature(checkpoint_text: str, line: str, verifier: CosignatureVerifier) -> Cosignature:
    """Verify one cosignature line on a checkpoint text and return what it states.

    Raises ``VerificationError`` when the line is malformed, is not from ``verifier`` (name
    and key hash), or does not verify.
    """
    line = line.removesuffix("\n")
    _check_note_chars(line)
    sig = _parse_signature_line(line)
    if (sig.name, sig.key_hash) != (verifier.name, verifier.key_hash):
        raise VerificationError(f"cosignature line is not from {verifier.name}")
    verifier.verify(checkpoint_text, sig.signature)
    timestamp = int.from_bytes(sig.signature[:8], "big")
    return Cosignature(sig.name, sig.key_hash, timestamp, sig.signature[8:])


def verify_cosignature(checkpoint_text: str, line: str, verifier: CosignatureVerifier) -> None:
    """Like ``open_cosignature`` but returns None; raises ``VerificationError``."""
    open_cosignature(checkpoint_text, line, verifier)
