"""Webhook secrets and signatures: a subscription's secret sealed at rest with AES-256-GCM
under the master key (bound to the subscription id), and the HMAC-SHA256 (RFC 2104)
signature header every delivery carries.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import uuid

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from registry.errors import ConfigurationError, VerificationError

SIGNATURE_HEADER = "X-Registry-Signature"
"""The header carrying ``sha256=<hex HMAC-SHA256(secret, body)>``."""

EVENT_HEADER = "X-Registry-Event"
"""The header naming the event (``recall``)."""

DELIVERY_HEADER = "X-Registry-Delivery"
"""The header carrying the delivery id, the same on every retry (receivers deduplicate)."""

_SEAL_VERSION = b"\x01"
_SEAL_AAD_PREFIX = b"guarantee-registry/webhook-secret/v1\n"
_NONCE_SIZE = 12


def _check_master_key(master_key: bytes) -> None:
    if len(master_key) != 32:
        raise ConfigurationError(f"the master key must be 32 bytes, got {len(master_key)}")


def seal_secret(secret: str, master_key: bytes, subscription_id: uuid.UUID) -> bytes:
    """``0x01 || nonce(12) || AES-256-GCM(secret) || tag(16)``, bound to the subscription."""
    _check_master_key(master_key)
    nonce = os.urandom(_NONCE_SIZE)
    aad = _SEAL_AAD_PREFIX + str(subscription_id).encode()
    return _SEAL_VERSION + nonce + AESGCM(master_key).encrypt(nonce, secret.encode(), aad)


def open_secret(blob: bytes, master_key: bytes, subscription_id: uuid.UUID) -> str:
    """Open a sealed secret; ``VerificationError`` if it is not authentic."""
    _check_master_key(master_key)
    if len(blob) < 1 + _NONCE_SIZE + 16 or blob[:1] != _SEAL_VERSION:
        raise VerificationError("sealed webhook secret has the wrong length or version")
    aad = _SEAL_AAD_PREFIX + str(subscription_id).encode()
    try:
        plain = AESGCM(master_key).decrypt(blob[1 : 1 + _NONCE_SIZE], blob[1 + _NONCE_SIZE :], aad)
    except InvalidTag:
        raise VerificationError(
            "sealed webhook secret does not open: wrong master key, wrong subscription or tampered"
        ) from None
    return plain.decode()


def signature_header(secret: str, body: bytes) -> str:
    """The ``X-Registry-Signature`` value: ``sha256=`` and the hex HMAC-SHA256 of the body,
    keyed with the secret's UTF-8 bytes (the whole ``whsec_…`` string)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, body: bytes, header: str | None) -> None:
    """What a receiver runs: raise ``VerificationError`` unless ``header`` signs ``body``."""
    if not header or not header.startswith("sha256="):
        raise VerificationError(f"missing or malformed {SIGNATURE_HEADER} header")
    if not hmac.compare_digest(signature_header(secret, body), header):
        raise VerificationError("webhook signature does not match the body")
