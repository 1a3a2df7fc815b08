"""Signed-note verifier and signer keys (c2sp.org/signed-note §Verifier keys; Go's
``note.NewVerifier`` and ``note.NewSigner``), Ed25519 only.

A verifier key is the string ``name+hexhash+base64(type || public key)``; a signer key is
``PRIVATE+KEY+name+hexhash+base64(type || seed)``. Both are parsed as strictly as Go parses
them, so a key string the registry accepts is one Go tooling accepts, and the other way
round. Malformed key strings raise ``InvalidInput``; signatures that do not verify raise
``VerificationError``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import ClassVar, Protocol, Self

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from registry.errors import InvalidInput
from registry.log.note_syntax import (
    ED25519_KEY_SIZE,
    SIGNATURE_LINE_PREFIX,
    SIGNATURE_TYPE_ED25519,
    b64decode_canonical,
    b64encode,
    key_hash,
    valid_key_name,
    verify_ed25519,
)

__all__ = [
    "NamedEd25519Key",
    "NoteSigner",
    "NoteVerifier",
    "SignatureVerifier",
    "check_verifier_fields",
    "format_verifier_key",
    "parse_verifier_key",
    "parse_vkey",
    "vkey",
]

_HEX8 = re.compile(r"[0-9a-fA-F]{8}")


def _raw_public_key(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _raw_seed(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )


def format_verifier_key(name: str, signature_type: int, public_key: bytes) -> str:
    """c2sp.org/signed-note §Verifier keys: ``name+hexhash+base64(type || key)``.

    ``InvalidInput`` for a name signed-note does not allow or a key that is not 32 bytes.
    """
    if not valid_key_name(name):
        raise InvalidInput(f"invalid key name {name!r}")
    if len(public_key) != ED25519_KEY_SIZE:
        raise InvalidInput("an Ed25519 public key is 32 bytes")
    material = bytes([signature_type]) + public_key
    return f"{name}+{key_hash(name, signature_type, public_key).hex()}+{b64encode(material)}"


def parse_verifier_key(text: str, signature_type: int) -> tuple[str, bytes, bytes]:
    """Return ``(name, key_hash, public_key)`` of ``name+hexhash+base64(type || key)``.

    c2sp.org/signed-note §Verifier keys, as Go's ``note.NewVerifier`` reads it: the type
    byte must be ``signature_type`` and the key hash must match; ``InvalidInput`` otherwise.
    """
    # The base64 part may itself contain '+', and the name may not: split twice only.
    parts = text.split("+", 2)
    if len(parts) != 3:
        raise InvalidInput("a verifier key has the form name+hash+key")
    name, hash_hex, key_b64 = parts
    if not valid_key_name(name):
        raise InvalidInput(f"invalid key name {name!r}")
    if not _HEX8.fullmatch(hash_hex):
        raise InvalidInput("the key hash of a verifier key is 8 hex digits")
    material = b64decode_canonical(key_b64)
    if material is None or len(material) != 1 + ED25519_KEY_SIZE:
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


def check_verifier_fields(name: str, key_id: bytes, public_key: bytes, sig_type: int) -> None:
    """``InvalidInput`` unless the fields make a verifier key: a valid name, a 32-byte key,
    and ``key_id`` equal to their key hash (c2sp.org/signed-note §Signatures)."""
    if not valid_key_name(name):
        raise InvalidInput(f"invalid key name {name!r}")
    if len(public_key) != ED25519_KEY_SIZE:
        raise InvalidInput("an Ed25519 public key is 32 bytes")
    if key_id != key_hash(name, sig_type, public_key):
        raise InvalidInput("key hash does not match the name and public key")


class SignatureVerifier(Protocol):
    """A key that ``open_note`` can check signature lines against."""

    @property
    def name(self) -> str:
        """The key name, which signature lines carry after the em dash."""
        ...

    @property
    def key_hash(self) -> bytes:
        """The 4-byte key hash (c2sp.org/signed-note §Signatures) that starts its signatures."""
        ...

    @property
    def signature_type(self) -> int:
        """The signed-note signature type byte (0x01 Ed25519, 0x04 cosignature/v1)."""
        ...

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
        check_verifier_fields(self.name, self.key_hash, self.public_key, self.signature_type)

    @classmethod
    def from_public_key(cls, name: str, public_key: bytes) -> NoteVerifier:
        """The verifier of ``name`` and a raw 32-byte Ed25519 public key."""
        return cls(name, key_hash(name, SIGNATURE_TYPE_ED25519, public_key), public_key)

    def to_vkey(self) -> str:
        """This key as a verifier key string (see ``vkey``)."""
        return vkey(self.name, self.public_key)

    def verify(self, text: str, signature: bytes) -> None:
        """c2sp.org/signed-note §Ed25519 signatures: RFC 8032 over the note text."""
        verify_ed25519(self.public_key, signature, text.encode("utf-8"), self.name)


def vkey(name: str, public_key_raw: bytes) -> str:
    """The Go/C2SP verifier key string ``name+hexhash+base64(0x01 || key)``."""
    return format_verifier_key(name, SIGNATURE_TYPE_ED25519, public_key_raw)


def parse_vkey(text: str) -> NoteVerifier:
    """Parse a type 0x01 verifier key as Go's ``note.NewVerifier`` does; ``InvalidInput``."""
    return NoteVerifier(*parse_verifier_key(text, SIGNATURE_TYPE_ED25519))


@dataclass(frozen=True)
class NamedEd25519Key:
    """A named Ed25519 signing key; ``SIGNATURE_TYPE`` says what it signs (notes, or
    cosignatures) and enters its key hash."""

    SIGNATURE_TYPE: ClassVar[int]

    name: str
    private_key: Ed25519PrivateKey = field(repr=False, compare=False)

    def __post_init__(self) -> None:
        if not valid_key_name(self.name):
            raise InvalidInput(f"invalid key name {self.name!r}")

    @classmethod
    def generate(cls, name: str) -> Self:
        """A new random key named ``name``."""
        return cls(name, Ed25519PrivateKey.generate())

    @property
    def public_key(self) -> bytes:
        """The raw 32-byte Ed25519 public key (RFC 8032 §5.1.5)."""
        return _raw_public_key(self.private_key.public_key())

    @property
    def key_hash(self) -> bytes:
        """The 4-byte key hash of name, signature type and public key (signed-note)."""
        return key_hash(self.name, self.SIGNATURE_TYPE, self.public_key)


@dataclass(frozen=True)
class NoteSigner(NamedEd25519Key):
    """An Ed25519 (type 0x01) note signing key."""

    SIGNATURE_TYPE = SIGNATURE_TYPE_ED25519

    @classmethod
    def from_skey(cls, skey: str) -> NoteSigner:
        """Parse Go's ``PRIVATE+KEY+name+hexhash+base64(0x01 || seed32)`` (note.NewSigner)."""
        parts = skey.split("+", 4)
        if len(parts) != 5 or parts[0] != "PRIVATE" or parts[1] != "KEY":
            raise InvalidInput("a signer key has the form PRIVATE+KEY+name+hash+key")
        _, _, name, hash_hex, key_b64 = parts
        if not valid_key_name(name):
            raise InvalidInput(f"invalid key name {name!r}")
        if not _HEX8.fullmatch(hash_hex):
            raise InvalidInput("the key hash of a signer key is 8 hex digits")
        material = b64decode_canonical(key_b64)
        if material is None or len(material) != 1 + ED25519_KEY_SIZE:
            raise InvalidInput("the key of a signer key is base64 of 33 bytes")
        if material[0] != SIGNATURE_TYPE_ED25519:
            raise InvalidInput("only Ed25519 (0x01) signer keys are supported")
        signer = cls(name, Ed25519PrivateKey.from_private_bytes(material[1:]))
        # Go checks the hash against the *public* key derived from the seed.
        if bytes.fromhex(hash_hex) != signer.key_hash:
            raise InvalidInput("the key hash of the signer key does not match its key")
        return signer

    def verifier(self) -> NoteVerifier:
        """The matching verifier, for opening notes this key signed."""
        return NoteVerifier(self.name, self.key_hash, self.public_key)

    def to_vkey(self) -> str:
        """The matching verifier key string (see ``vkey``)."""
        return vkey(self.name, self.public_key)

    def to_skey(self) -> str:
        """Go's signer key string ``PRIVATE+KEY+name+hexhash+base64(0x01 || seed32)``.

        It holds the private key: write it only to a private file.
        """
        material = bytes([SIGNATURE_TYPE_ED25519]) + _raw_seed(self.private_key)
        return f"PRIVATE+KEY+{self.name}+{self.key_hash.hex()}+{b64encode(material)}"

    def signature_line(self, text: str) -> str:
        """The ``— name base64(keyhash || sig)`` line (with newline) signing ``text``."""
        sig = self.private_key.sign(text.encode("utf-8"))
        return f"{SIGNATURE_LINE_PREFIX}{self.name} {b64encode(self.key_hash + sig)}\n"
