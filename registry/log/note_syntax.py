"""The lexical rules of c2sp.org/signed-note, shared by notes, keys, checkpoints and
cosignatures.

Signature types and size limits, the strict base64 every key and signature line uses, what a
key name may contain, the key hash that ties a signature line to its verifier key, and the
Ed25519 check itself. Nothing here knows what a note *says*; ``registry.log.signed_note``
parses notes, ``registry.log.note_keys`` reads and writes key strings.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from registry.errors import VerificationError

__all__ = [
    "CONTROL_CHARACTERS",
    "ED25519_KEY_SIZE",
    "ED25519_SIGNATURE_SIZE",
    "MAX_NOTE_SIZE",
    "MAX_SIGNATURES",
    "SIGNATURE_LINE_PREFIX",
    "SIGNATURE_TYPE_COSIGNATURE_V1",
    "SIGNATURE_TYPE_ED25519",
    "b64decode_canonical",
    "b64encode",
    "key_hash",
    "utf8_encodable",
    "valid_key_name",
    "verify_ed25519",
]

SIGNATURE_TYPE_ED25519 = 0x01
"""c2sp.org/signed-note §Signature types: plain Ed25519 over the note text."""

SIGNATURE_TYPE_COSIGNATURE_V1 = 0x04
"""c2sp.org/signed-note §Signature types: timestamped Ed25519 cosignatures (tlog-cosignature)."""

MAX_SIGNATURES = 100
"""Signature lines accepted per note: Go's limit; the spec requires accepting at least 16."""

MAX_NOTE_SIZE = 1 << 20
"""Largest note accepted, in UTF-8 bytes; bounds the work an untrusted note can cause."""

SIGNATURE_LINE_PREFIX = "— "
"""c2sp.org/signed-note §Format: every signature line starts with U+2014 EM DASH, U+0020 SPACE."""

ED25519_KEY_SIZE = 32
"""Bytes in an Ed25519 public key (RFC 8032 §5.1.2), as carried in verifier keys."""

ED25519_SIGNATURE_SIZE = 64
"""Bytes in an Ed25519 signature (RFC 8032 §5.1.6), after the 4-byte key hash of a line."""

CONTROL_CHARACTERS = re.compile(r"[\x00-\x09\x0b-\x1f]")
"""c2sp.org/signed-note §Format: a note holds no control characters other than newline."""

_SPACE = re.compile(r"\s")  # Python's \s is Unicode-aware like Go's unicode.IsSpace


def b64encode(data: bytes) -> str:
    """Standard padded base64 (RFC 4648 §4), the only spelling signed notes use."""
    return base64.b64encode(data).decode("ascii")


def b64decode_canonical(text: str) -> bytes | None:
    """Strict RFC 4648 §4 base64: padded, canonical (RFC 4648 §3.5), or None.

    Canonical-only decoding means each signature has exactly one textual form, so duplicate
    detection on lines cannot be dodged by re-encoding.
    """
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error, ValueError):
        return None
    return data if b64encode(data) == text else None


def valid_key_name(name: str) -> bool:
    """c2sp.org/signed-note §Format: non-empty, no Unicode spaces, no '+'."""
    return (
        bool(name)
        and not _SPACE.search(name)
        and not CONTROL_CHARACTERS.search(name)
        and "+" not in name
        and utf8_encodable(name)
    )


def utf8_encodable(text: str) -> bool:
    """Whether ``text`` has a UTF-8 form, as signed-note requires of every note.

    A Python str can hold lone surrogates, which have none.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def key_hash(name: str, signature_type: int, public_key: bytes) -> bytes:
    """c2sp.org/signed-note §Signatures: ``SHA-256(name || 0x0A || type || public key)[:4]``."""
    material = name.encode("utf-8") + b"\n" + bytes([signature_type]) + public_key
    return hashlib.sha256(material).digest()[:4]


def verify_ed25519(public_key: bytes, signature: bytes, message: bytes, who: str) -> None:
    """RFC 8032 §5.1.7 verification of ``signature`` over ``message``; ``VerificationError``
    (naming ``who``) when it is not 64 bytes or does not verify."""
    if len(signature) != ED25519_SIGNATURE_SIZE:
        raise VerificationError(f"signature by {who} has the wrong length")
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except InvalidSignature:
        raise VerificationError(f"signature by {who} does not verify") from None
