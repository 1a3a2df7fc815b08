"""Cryptographic building blocks: RFC 8785 canonical JSON, DSSE v1 envelopes, Ed25519 keys.

Everything that is signed goes through ``dsse.pae``; everything that is hashed or signed as
JSON goes through ``jcs.canonicalize``. Verification functions raise
``registry.errors.VerificationError`` and never return a bool.
"""

from registry.crypto.dsse import (
    Envelope,
    Signature,
    add_signature,
    pae,
    sign_envelope,
    verified_keyids,
    verify_signature,
)
from registry.crypto.jcs import canonicalize, parse_canonical
from registry.crypto.keys import (
    Signer,
    dump_key_file,
    key_id,
    load_key_file,
    load_public_key,
    open_private_key,
    seal_private_key,
)

__all__ = [
    "Envelope",
    "Signature",
    "Signer",
    "add_signature",
    "canonicalize",
    "dump_key_file",
    "key_id",
    "load_key_file",
    "load_public_key",
    "open_private_key",
    "pae",
    "parse_canonical",
    "seal_private_key",
    "sign_envelope",
    "verified_keyids",
    "verify_signature",
]
