"""Offline receipts: C2SP tlog-proof (``c2sp.org/tlog-proof@v1``), built and verified.

c2sp.org/tlog-proof §Format, line by line (lines end in U+000A)::

    c2sp.org/tlog-proof@v1
    extra <base64>          optional, opaque, NOT authenticated
    index <decimal>         zero-based, no leading zeros
    <base64 hash>           zero or more: the RFC 6962 inclusion proof, leaf's sibling first
    (empty line)
    <checkpoint note>       the signed c2sp.org/tlog-checkpoint, verbatim

Our registry puts the entry's exact leaf bytes in ``extra`` so that a receipt plus the
record's payload is everything an offline verifier needs (``verify_record_tlog_proof``).
Nothing trusts ``extra`` by itself: the leaf is checked against the inclusion proof, and the
payload against the leaf's ``payload_sha256``.

Pure functions, no I/O; verifiers return None or raise ``VerificationError``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from registry.errors import InvalidInput, VerificationError
from registry.log import merkle
from registry.log.note import (
    MAX_NOTE_SIZE,
    SIGNATURE_TYPE_ED25519,
    Checkpoint,
    SignatureVerifier,
    open_checkpoint,
)

__all__ = [
    "MAX_PROOF_HASHES",
    "MAX_TLOG_PROOF_SIZE",
    "MEDIA_TYPE",
    "TLOG_PROOF_HEADER",
    "TlogProof",
    "format_tlog_proof",
    "open_tlog_proof",
    "parse_tlog_proof",
    "verify_record_tlog_proof",
    "verify_tlog_proof",
]

TLOG_PROOF_HEADER = "c2sp.org/tlog-proof@v1"
"""tlog-proof §Format: the first line."""

MEDIA_TYPE = "text/plain; charset=utf-8"
"""The spec names no media type (only the ``.tlog-proof`` file extension): plain text."""

MAX_PROOF_HASHES = 64
"""An inclusion proof in a tree of at most 2**63 leaves has at most 63 hashes."""

MAX_TLOG_PROOF_SIZE = MAX_NOTE_SIZE + (1 << 20)
"""Largest proof text accepted, in bytes: a note, a 64 KiB leaf and the hashes fit easily."""

_EXTRA_PREFIX = "extra "
_INDEX_PREFIX = "index "
_DECIMAL = re.compile(r"0|[1-9][0-9]*")  # ASCII only; \d admits other scripts
_MAX_INDEX = 2**63 - 1


@dataclass(frozen=True)
class TlogProof:
    """A parsed (not yet verified) tlog-proof."""

    index: int
    hashes: tuple[bytes, ...]
    checkpoint_note: str
    extra: bytes | None = None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str, what: str) -> bytes:
    """Strict standard base64 (RFC 4648 §4), canonical form only; ``VerificationError``."""
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error, ValueError):
        raise VerificationError(f"tlog-proof: {what} is not base64") from None
    if _b64(data) != text:
        raise VerificationError(f"tlog-proof: {what} is not canonical base64")
    return data


def format_tlog_proof(
    index: int, hashes: Sequence[bytes], checkpoint_note: str, extra: bytes | None = None
) -> str:
    """The tlog-proof text of an inclusion proof against a signed checkpoint note."""
    if not 0 <= index <= _MAX_INDEX:
        raise InvalidInput(f"tlog-proof index {index} is out of range")
    if any(len(h) != merkle.HASH_SIZE for h in hashes):
        raise InvalidInput("every inclusion proof hash is 32 bytes")
    if not checkpoint_note.endswith("\n"):
        raise InvalidInput("a signed note ends with a newline")
    lines = [TLOG_PROOF_HEADER]
    if extra is not None:
        lines.append(_EXTRA_PREFIX + _b64(extra))
    lines.append(f"{_INDEX_PREFIX}{index}")
    lines.extend(_b64(h) for h in hashes)
    return "\n".join(lines) + "\n\n" + checkpoint_note


def parse_tlog_proof(text: str | bytes) -> TlogProof:
    """Strictly parse a tlog-proof; raises ``VerificationError`` naming what is malformed.

    The checkpoint note is returned verbatim and unverified: ``open_tlog_proof`` checks it.
    """
    if len(text) > MAX_TLOG_PROOF_SIZE:
        raise VerificationError(f"tlog-proof: larger than {MAX_TLOG_PROOF_SIZE} bytes")
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise VerificationError("tlog-proof: not UTF-8") from None
    # The proof section holds no empty line, so the first blank line ends it.
    head, sep, note = text.partition("\n\n")
    if not sep:
        raise VerificationError("tlog-proof: no empty line before the checkpoint")
    lines = head.split("\n")
    if lines[0] != TLOG_PROOF_HEADER:
        raise VerificationError(f"tlog-proof: the first line must be {TLOG_PROOF_HEADER!r}")
    position = 1
    extra = None
    if position < len(lines) and lines[position].startswith(_EXTRA_PREFIX):
        extra = _unb64(lines[position][len(_EXTRA_PREFIX) :], "extra data")
        position += 1
    if position >= len(lines) or not lines[position].startswith(_INDEX_PREFIX):
        raise VerificationError("tlog-proof: missing 'index <n>' line")
    index_text = lines[position][len(_INDEX_PREFIX) :]
    if not _DECIMAL.fullmatch(index_text) or int(index_text) > _MAX_INDEX:
        raise VerificationError("tlog-proof: index must be decimal without leading zeros")
    hash_lines = lines[position + 1 :]
    if len(hash_lines) > MAX_PROOF_HASHES:
        raise VerificationError(f"tlog-proof: more than {MAX_PROOF_HASHES} proof hashes")
    hashes = []
    for number, line in enumerate(hash_lines):
        value = _unb64(line, f"proof hash {number}")
        if len(value) != merkle.HASH_SIZE:
            raise VerificationError(f"tlog-proof: proof hash {number} is not 32 bytes")
        hashes.append(value)
    if not note:
        raise VerificationError("tlog-proof: the checkpoint is missing")
    return TlogProof(int(index_text), tuple(hashes), note, extra)


def open_tlog_proof(
    text: str | bytes,
    leaf: bytes,
    verifiers: Sequence[SignatureVerifier],
    *,
    origin: str | None = None,
) -> tuple[TlogProof, Checkpoint]:
    """Verify a tlog-proof for ``leaf`` (the entry's exact bytes); return what it proves.

    1. The checkpoint note verifies under ``verifiers`` and one of the verified signatures is
       the log's own: its key name equals the checkpoint origin (tlog-checkpoint), so a note
       signed only by a witness is not enough. ``origin``, when given, must match too.
    2. ``leaf`` is entry ``index`` of that tree (RFC 9162 §2.1.3.2).

    Raises ``VerificationError``.
    """
    proof = parse_tlog_proof(text)
    checkpoint, note = open_checkpoint(proof.checkpoint_note, verifiers)
    if origin is not None and checkpoint.origin != origin:
        raise VerificationError(
            f"tlog-proof: checkpoint of log {checkpoint.origin!r}, expected {origin!r}"
        )
    # tlog-tiles §Checkpoints: the log signs with Ed25519 under its origin as key name.
    if not any(
        sig.name == checkpoint.origin and sig.signature_type == SIGNATURE_TYPE_ED25519
        for sig in note.signatures
    ):
        raise VerificationError(
            f"tlog-proof: checkpoint is not signed by a known key of log {checkpoint.origin!r}"
        )
    merkle.verify_inclusion(
        merkle.leaf_hash(leaf), proof.index, checkpoint.size, proof.hashes, checkpoint.root_hash
    )
    return proof, checkpoint


def verify_tlog_proof(
    text: str | bytes,
    leaf_bytes: bytes,
    verifiers: Sequence[SignatureVerifier],
    *,
    origin: str | None = None,
) -> None:
    """Verify that ``leaf_bytes`` is logged, as the tlog-proof ``text`` claims.

    See ``open_tlog_proof``. Returns None or raises ``VerificationError``.
    """
    open_tlog_proof(text, leaf_bytes, verifiers, origin=origin)


def verify_record_tlog_proof(
    text: str | bytes,
    payload: bytes,
    verifiers: Sequence[SignatureVerifier],
    *,
    origin: str | None = None,
) -> None:
    """Verify a registry receipt for a record's ``payload`` (its exact DSSE payload bytes).

    The leaf comes from the receipt's ``extra`` line; it must name ``SHA-256(payload)`` as
    its ``payload_sha256`` and be included in the signed tree. (The payload's own DSSE
    signatures are a separate check.) Returns None or raises ``VerificationError``.
    """
    proof = parse_tlog_proof(text)
    if proof.extra is None:
        raise VerificationError("tlog-proof: no leaf in the extra line to check the payload by")
    try:
        leaf = json.loads(proof.extra)
    except ValueError:
        raise VerificationError("tlog-proof: the extra data is not a JSON leaf") from None
    claimed = leaf.get("payload_sha256") if isinstance(leaf, dict) else None
    if not isinstance(claimed, str):
        raise VerificationError("tlog-proof: the leaf names no payload_sha256")
    if not hmac.compare_digest(claimed, hashlib.sha256(payload).hexdigest()):
        raise VerificationError("tlog-proof: the leaf commits to another payload")
    verify_tlog_proof(text, proof.extra, verifiers, origin=origin)
