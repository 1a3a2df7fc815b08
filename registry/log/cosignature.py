"""C2SP tlog-cosignature (``cosignature/v1``, signature type 0x04): a witness's timestamped
statement that a checkpoint is consistent with everything it has seen of the log.

The signed message is ``cosignature/v1\ntime <u64>\n`` followed by the checkpoint text
(c2sp.org/tlog-cosignature §Signed message); the signature line carries the key hash, the
timestamp as a big-endian u64 and the Ed25519 signature. Verifier keys use the signed-note
format with type 0x04. A witness cosigns only a checkpoint consistent with what it saw,
which is what makes a split view visible (docs/security.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from registry.errors import InvalidInput, VerificationError
from registry.log.checkpoint import Checkpoint
from registry.log.note_keys import (
    NamedEd25519Key,
    NoteSigner,
    check_verifier_fields,
    format_verifier_key,
    parse_verifier_key,
)
from registry.log.note_syntax import (
    ED25519_SIGNATURE_SIZE,
    SIGNATURE_LINE_PREFIX,
    SIGNATURE_TYPE_COSIGNATURE_V1,
    b64encode,
    key_hash,
    verify_ed25519,
)
from registry.log.signed_note import (
    add_signature_lines,
    check_note_characters,
    parse_signature_line,
    split_note,
)

__all__ = [
    "COSIGNATURE_HEADER",
    "Cosignature",
    "CosignatureSigner",
    "CosignatureVerifier",
    "add_signatures",
    "cosignature_message",
    "cosignature_vkey",
    "open_cosignature",
    "parse_cosignature_vkey",
    "verify_cosignature",
]

COSIGNATURE_HEADER = "cosignature/v1"
"""First line of the message a cosignature signs (c2sp.org/tlog-cosignature)."""

_MAX_TIMESTAMP = 2**63 - 1  # tlog-cosignature: "MUST NOT exceed 2^63 - 1"


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
        check_verifier_fields(self.name, self.key_hash, self.public_key, self.signature_type)

    @classmethod
    def from_public_key(cls, name: str, public_key: bytes) -> CosignatureVerifier:
        """The cosignature verifier of ``name`` and a raw 32-byte Ed25519 public key."""
        return cls(name, key_hash(name, SIGNATURE_TYPE_COSIGNATURE_V1, public_key), public_key)

    def to_vkey(self) -> str:
        """This key as a type 0x04 verifier key string (see ``cosignature_vkey``)."""
        return cosignature_vkey(self.name, self.public_key)

    def verify(self, text: str, signature: bytes) -> None:
        """Verify a ``timestamped_signature`` (u64 big-endian time || Ed25519 sig) on ``text``.

        The signature must be exactly 8 + 64 bytes; the text must be a well-formed checkpoint,
        since a cosignature is a statement about a tree head and nothing else.
        """
        if len(signature) != 8 + ED25519_SIGNATURE_SIZE:
            raise VerificationError(f"cosignature by {self.name} has the wrong length")
        Checkpoint.parse(text)
        timestamp = int.from_bytes(signature[:8], "big")
        if timestamp > _MAX_TIMESTAMP:
            raise VerificationError(f"cosignature by {self.name} has an invalid timestamp")
        message = cosignature_message(text, timestamp)
        verify_ed25519(self.public_key, signature[8:], message, self.name)


def cosignature_vkey(name: str, public_key_raw: bytes) -> str:
    """Verifier key string ``name+hexhash+base64(0x04 || key)`` (tlog-cosignature §Format)."""
    return format_verifier_key(name, SIGNATURE_TYPE_COSIGNATURE_V1, public_key_raw)


def parse_cosignature_vkey(text: str) -> CosignatureVerifier:
    """Parse a type 0x04 verifier key; raises ``InvalidInput``."""
    return CosignatureVerifier(*parse_verifier_key(text, SIGNATURE_TYPE_COSIGNATURE_V1))


@dataclass(frozen=True)
class CosignatureSigner(NamedEd25519Key):
    """The witness side of cosignature/v1."""

    SIGNATURE_TYPE = SIGNATURE_TYPE_COSIGNATURE_V1

    def verifier(self) -> CosignatureVerifier:
        """The matching verifier, for checking this witness's cosignatures."""
        return CosignatureVerifier(self.name, self.key_hash, self.public_key)

    def to_vkey(self) -> str:
        """The matching type 0x04 verifier key string (see ``cosignature_vkey``)."""
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
        return f"{SIGNATURE_LINE_PREFIX}{self.name} {b64encode(blob)}\n"


def open_cosignature(checkpoint_text: str, line: str, verifier: CosignatureVerifier) -> Cosignature:
    """Verify one cosignature line on a checkpoint text and return what it states.

    Raises ``VerificationError`` when the line is malformed, is not from ``verifier`` (name
    and key hash), or does not verify.
    """
    line = line.removesuffix("\n")
    check_note_characters(line)
    sig = parse_signature_line(line)
    if (sig.name, sig.key_hash) != (verifier.name, verifier.key_hash):
        raise VerificationError(f"cosignature line is not from {verifier.name}")
    verifier.verify(checkpoint_text, sig.signature)
    timestamp = int.from_bytes(sig.signature[:8], "big")
    return Cosignature(sig.name, sig.key_hash, timestamp, sig.signature[8:])


def verify_cosignature(checkpoint_text: str, line: str, verifier: CosignatureVerifier) -> None:
    """Like ``open_cosignature`` but returns None; raises ``VerificationError``."""
    open_cosignature(checkpoint_text, line, verifier)


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
    text, _ = split_note(note)
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
