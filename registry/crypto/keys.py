"""Ed25519 keys: identifiers, signers, public-key loading, sealing at rest, client key files.

A key is named by ``key_id``: the lowercase hex SHA-256 of its raw 32-byte public key, so the
name is derived from the key and cannot be chosen to collide with someone else's. Private
seeds the registry holds are sealed with AES-256-GCM under a master key, bound to their key
id; seeds held by clients live in a small JSON key file written by ``registry keys generate``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from dataclasses import dataclass, field
from functools import lru_cache

import nacl.bindings
import nacl.exceptions
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from registry.errors import ConfigurationError, InvalidInput, VerificationError

__all__ = [
    "KEY_FILE_TYPE",
    "PublicKey",
    "Signer",
    "dump_key_file",
    "key_id",
    "load_key_file",
    "load_public_key",
    "open_private_key",
    "seal_private_key",
]

KEY_SIZE = 32
"""Bytes in an Ed25519 seed (RFC 8032 §5.1.5) and in an encoded public key (§5.1.2)."""

KEY_FILE_TYPE = "ed25519"
"""The ``type`` field of a client key file (``dump_key_file``); the only type there is."""

_SEAL_VERSION = b"\x01"
_SEAL_AAD_PREFIX = b"guarantee-registry/private-key/v1\n"
_NONCE_SIZE = 12
_TAG_SIZE = 16
_SEALED_SIZE = len(_SEAL_VERSION) + _NONCE_SIZE + KEY_SIZE + _TAG_SIZE

# Curve constants of edwards25519 (RFC 8032 §5.1), used only to validate public keys.
_P = 2**255 - 19
_D = -121665 * pow(121666, -1, _P) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)


def key_id(public_key_raw: bytes) -> str:
    """Lowercase hex SHA-256 of the raw 32-byte Ed25519 public key."""
    if len(public_key_raw) != KEY_SIZE:
        raise InvalidInput(
            f"an Ed25519 public key is {KEY_SIZE} bytes, got {len(public_key_raw)}",
            field="public_key",
        )
    return hashlib.sha256(public_key_raw).hexdigest()


@dataclass(frozen=True, eq=False)
class Signer:
    """An Ed25519 private key that signs. Equality is identity: keys are not compared."""

    private_key: Ed25519PrivateKey = field(repr=False)

    @classmethod
    def generate(cls) -> Signer:
        """A new random key (RFC 8032 §5.1.5 seed from the operating system's CSPRNG)."""
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_raw(cls, seed32: bytes) -> Signer:
        """Build a signer from the 32-byte RFC 8032 seed (the "private key" of §5.1.5)."""
        if len(seed32) != KEY_SIZE:
            raise InvalidInput(
                f"an Ed25519 seed is {KEY_SIZE} bytes, got {len(seed32)}", field="private_key"
            )
        return cls(Ed25519PrivateKey.from_private_bytes(seed32))

    @property
    def public_key(self) -> Ed25519PublicKey:
        """The matching public key, as a cryptography object."""
        return self.private_key.public_key()

    @property
    def public_key_raw(self) -> bytes:
        """The 32-byte encoded public key (RFC 8032 §5.1.2), as records carry it."""
        return self.public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)

    @property
    def key_id(self) -> str:
        """The key's name: lowercase hex SHA-256 of ``public_key_raw`` (docs/records.md)."""
        return key_id(self.public_key_raw)

    def private_raw(self) -> bytes:
        """The 32-byte seed. Callers must seal it or keep it in a private file."""
        return self.private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())

    def sign(self, message: bytes) -> bytes:
        """Pure Ed25519 (RFC 8032 §5.1.6) signature of ``message``: 64 bytes."""
        return self.private_key.sign(message)

    def __repr__(self) -> str:
        return f"Signer(key_id={self.key_id!r})"


SIGNATURE_SIZE = 64
"""Bytes in an Ed25519 signature (RFC 8032 §5.1.6)."""


class PublicKey:
    """An Ed25519 public key that verifies signatures (made by ``load_public_key``).

    libsodium checks first: here it verifies about twice as fast as OpenSSL, and it releases
    the GIL, so a process's threads verify at once (docs/performance.md). What it accepts,
    OpenSSL accepts too: both check ``[S]B = R + [k]A`` without the cofactor and refuse
    S >= L, and libsodium also refuses a small-order R and a non-canonical encoding. So a
    signature libsodium refuses is put to OpenSSL, whose verdict stands: the registry accepts
    exactly the signatures OpenSSL accepts, at libsodium's speed on every valid one.
    """

    __slots__ = ("_openssl", "raw")

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self._openssl = Ed25519PublicKey.from_public_bytes(raw)

    def verify(self, signature: bytes, data: bytes) -> None:
        """Return if ``signature`` is this key's over ``data``; raise ``InvalidSignature``
        (cryptography's) if not."""
        if len(signature) == SIGNATURE_SIZE:
            try:
                nacl.bindings.crypto_sign_open(signature + data, self.raw)
                return
            except nacl.exceptions.CryptoError:
                pass  # OpenSSL decides, and raises
        self._openssl.verify(signature, data)

    def __repr__(self) -> str:
        return f"PublicKey(key_id={key_id(self.raw)!r})"


def load_public_key(raw: bytes) -> PublicKey:
    """Load a raw 32-byte Ed25519 public key, refusing encodings that are not a usable key:
    not a curve point (RFC 8032 §5.1.3), or a point of small order. Raises ``InvalidInput``.

    Memoized: decoding the point in Python costs more than a signature verification, and a
    registry sees the same few thousand keys over and over."""
    return _load_public_key(bytes(raw))


@lru_cache(maxsize=8192)
def _load_public_key(raw: bytes) -> PublicKey:
    """Uncached body of ``load_public_key``.

    OpenSSL accepts any 32 bytes here and only fails later at verification, so the point is
    decoded per RFC 8032 §5.1.3 first. Small-order points are refused too: a signature under
    such a key can verify for many messages, which would let a registered "key" endorse
    records nobody signed.
    """
    if len(raw) != KEY_SIZE:
        raise InvalidInput(
            f"an Ed25519 public key is {KEY_SIZE} bytes, got {len(raw)}", field="public_key"
        )
    point = _decode_point(raw)
    if point is None:
        raise InvalidInput("public key is not a valid Ed25519 point", field="public_key")
    if _has_small_order(point):
        raise InvalidInput("public key is a small-order Ed25519 point", field="public_key")
    return PublicKey(raw)


def _decode_point(raw: bytes) -> tuple[int, int] | None:
    """RFC 8032 §5.1.3 point decoding; None when the bytes do not encode a curve point."""
    encoded = int.from_bytes(raw, "little")
    x_sign = encoded >> 255
    y = encoded & ((1 << 255) - 1)
    if y >= _P:
        return None  # non-canonical encoding of y
    u = (y * y - 1) % _P
    v = (_D * y * y + 1) % _P
    x = u * pow(v, 3, _P) * pow(u * pow(v, 7, _P), (_P - 5) // 8, _P) % _P
    if (v * x * x - u) % _P != 0:
        x = x * _SQRT_M1 % _P
        if (v * x * x - u) % _P != 0:
            return None  # u/v has no square root: not on the curve
    if x == 0 and x_sign:
        return None  # "negative zero" is a non-canonical encoding
    if x & 1 != x_sign:
        x = _P - x
    return x, y


def _has_small_order(point: tuple[int, int]) -> bool:
    """True if [8]P is the identity, i.e. P lies in the cofactor-8 torsion subgroup."""
    for _ in range(3):
        point = _add(point, point)
    return point == (0, 1)


def _add(p: tuple[int, int], q: tuple[int, int]) -> tuple[int, int]:
    """Complete affine addition on -x^2 + y^2 = 1 + d x^2 y^2 (RFC 8032 §5.1.4)."""
    (x1, y1), (x2, y2) = p, q
    t = _D * x1 * x2 * y1 * y2 % _P
    x3 = (x1 * y2 + y1 * x2) * pow(1 + t, -1, _P) % _P
    y3 = (y1 * y2 + x1 * x2) * pow(1 - t, -1, _P) % _P
    return x3, y3


# --- sealing at rest -------------------------------------------------------------------------


def seal_private_key(seed: bytes, master_key: bytes, key_id: str) -> bytes:
    """Encrypt a 32-byte seed: ``0x01 || nonce(12) || AES-256-GCM(seed) || tag(16)``.

    AES-GCM as NIST SP 800-38D specifies it, with a random 96-bit nonce per seal.

    The key id is authenticated data, so a sealed seed copied onto another key's row fails
    to open instead of silently signing as that other key.
    """
    _check_master_key(master_key)
    if len(seed) != KEY_SIZE:
        raise InvalidInput(f"an Ed25519 seed is {KEY_SIZE} bytes, got {len(seed)}")
    nonce = os.urandom(_NONCE_SIZE)
    ciphertext = AESGCM(master_key).encrypt(nonce, seed, _seal_aad(key_id))
    return _SEAL_VERSION + nonce + ciphertext


def open_private_key(blob: bytes, master_key: bytes, key_id: str) -> bytes:
    """Decrypt a blob from ``seal_private_key``; VerificationError if it is not authentic."""
    _check_master_key(master_key)
    if len(blob) != _SEALED_SIZE or blob[:1] != _SEAL_VERSION:
        raise VerificationError("sealed private key has the wrong length or version")
    nonce = blob[1 : 1 + _NONCE_SIZE]
    ciphertext = blob[1 + _NONCE_SIZE :]
    try:
        return AESGCM(master_key).decrypt(nonce, ciphertext, _seal_aad(key_id))
    except InvalidTag:
        raise VerificationError(
            "sealed private key does not open: wrong master key, wrong key id or tampered"
        ) from None


def _check_master_key(master_key: bytes) -> None:
    if len(master_key) != 32:
        # A wrong-sized master key is a deployment mistake, not a bad request.
        raise ConfigurationError(f"the master key must be 32 bytes, got {len(master_key)}")


def _seal_aad(key_id: str) -> bytes:
    return _SEAL_AAD_PREFIX + key_id.encode("utf-8")


# --- client key file -------------------------------------------------------------------------


def dump_key_file(signer: Signer) -> str:
    """Serialize a signer to the client key file (JSON). The text holds the private key."""
    document = {
        "type": KEY_FILE_TYPE,
        "key_id": signer.key_id,
        "public_key": base64.b64encode(signer.public_key_raw).decode("ascii"),
        "private_key": base64.b64encode(signer.private_raw()).decode("ascii"),
    }
    return json.dumps(document, indent=2) + "\n"


def load_key_file(text: str) -> Signer:
    """Parse a client key file, checking that public key and key id match the private key."""
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise InvalidInput(f"key file is not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise InvalidInput("key file must be a JSON object")
    expected = {"type", "key_id", "public_key", "private_key"}
    if set(document) != expected:
        raise InvalidInput(
            f"key file must have exactly the fields {sorted(expected)}, got {sorted(document)}"
        )
    if document["type"] != KEY_FILE_TYPE:
        raise InvalidInput(f"key file type must be {KEY_FILE_TYPE!r}", field="type")
    signer = Signer.from_raw(_b64decode_field(document["private_key"], "private_key"))
    if _b64decode_field(document["public_key"], "public_key") != signer.public_key_raw:
        raise InvalidInput("public_key does not match private_key", field="public_key")
    if document["key_id"] != signer.key_id:
        raise InvalidInput("key_id does not match the key", field="key_id")
    return signer


def _b64decode_field(value: object, name: str) -> bytes:
    """Strict standard base64: padded, no stray characters, one encoding per byte string."""
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be a base64 string", field=name)
    try:
        decoded = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput(f"{name} is not valid base64", field=name) from None
    if base64.b64encode(decoded).decode("ascii") != value:
        raise InvalidInput(f"{name} is not canonical base64", field=name)
    return decoded
