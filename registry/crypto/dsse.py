"""DSSE v1 envelopes (secure-systems-lab/dsse ``protocol.md`` and ``envelope.md``).

Signatures cover ``pae(payload_type, payload)`` and nothing else: the payload type is bound
to the payload, and the envelope's JSON (base64 flavour, field order, extra whitespace) is
never signed, so re-encoding an envelope cannot break or forge a signature. ``pae`` is the
only function in the registry that builds bytes to be signed for an envelope.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from cryptography.exceptions import InvalidSignature

from registry.crypto.keys import Signer
from registry.errors import InvalidInput, VerificationError

__all__ = [
    "Envelope",
    "Signature",
    "add_signature",
    "pae",
    "sign_envelope",
    "verified_keyids",
    "verify_signature",
]


class Verifier(Protocol):
    """What verifies a signature: ``registry.crypto.keys.PublicKey`` (or cryptography's
    ``Ed25519PublicKey``), raising ``InvalidSignature`` when it does not verify."""

    def verify(self, signature: bytes, data: bytes) -> None:
        """Return if ``signature`` signs ``data``; raise ``InvalidSignature`` if not."""
        ...


_ENVELOPE_FIELDS = frozenset({"payload", "payloadType", "signatures"})
_SIGNATURE_FIELDS = frozenset({"keyid", "sig"})
_URL_SAFE_TO_STANDARD = str.maketrans("-_", "+/")


def pae(payload_type: str, payload: bytes) -> bytes:
    """Pre-Authentication Encoding (DSSE protocol.md, "Signature definition").

    ``"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body``, where LEN is the ASCII decimal
    byte length: lengths make the encoding unambiguous, so no (type, body) pair can be
    reinterpreted as another.
    """
    try:
        type_bytes = payload_type.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput("payloadType is not valid Unicode", field="payloadType") from None
    return b"DSSEv1 %d %b %d %b" % (len(type_bytes), type_bytes, len(payload), payload)


@dataclass(frozen=True)
class Signature:
    """One entry of an envelope's ``signatures`` (DSSE envelope.md)."""

    keyid: str
    sig: bytes


@dataclass(frozen=True)
class Envelope:
    """A DSSE envelope: the payload, its type, and one or more signatures over their PAE."""

    payload: bytes
    payload_type: str
    signatures: tuple[Signature, ...]

    @classmethod
    def from_json(cls, obj: object) -> Envelope:
        """Read the JSON envelope (DSSE envelope.md), refusing anything unexpected.

        Base64 may be standard or URL-safe, padded or not (envelope.md asks readers to
        accept both). Unknown fields are refused: they are not signed, so nothing may be
        smuggled alongside a signature.
        """
        if not isinstance(obj, dict):
            raise InvalidInput("envelope must be a JSON object", field="envelope")
        _reject_unknown_fields(obj, _ENVELOPE_FIELDS, "envelope")
        payload = _b64decode(_required(obj, "payload", "payload"), "payload")
        payload_type = _check_payload_type(_required(obj, "payloadType", "payloadType"))
        raw_signatures = _required(obj, "signatures", "signatures")
        if not isinstance(raw_signatures, list) or not raw_signatures:
            raise InvalidInput("signatures must be a non-empty list", field="signatures")
        signatures = tuple(
            _signature_from_json(item, index) for index, item in enumerate(raw_signatures)
        )
        _check_distinct_keyids(signatures)
        return cls(payload=payload, payload_type=payload_type, signatures=signatures)

    def to_json(self) -> dict[str, object]:
        """The JSON envelope, with standard padded base64 (the most widely read form)."""
        return {
            "payload": base64.b64encode(self.payload).decode("ascii"),
            "payloadType": self.payload_type,
            "signatures": [
                {"keyid": signature.keyid, "sig": base64.b64encode(signature.sig).decode("ascii")}
                for signature in self.signatures
            ],
        }


def sign_envelope(payload_type: str, payload: bytes, signers: Sequence[Signer]) -> Envelope:
    """Sign ``payload`` with every signer, for threshold policies (DSSE protocol.md, "Sign")."""
    _check_payload_type(payload_type)
    if not signers:
        raise InvalidInput("at least one signer is required", field="signatures")
    message = pae(payload_type, payload)
    signatures = tuple(Signature(signer.key_id, signer.sign(message)) for signer in signers)
    _check_distinct_keyids(signatures)
    return Envelope(payload=payload, payload_type=payload_type, signatures=signatures)


def add_signature(envelope: Envelope, signer: Signer) -> Envelope:
    """Return ``envelope`` with one more signature, e.g. a co-signer joining a threshold."""
    if any(signature.keyid == signer.key_id for signature in envelope.signatures):
        raise InvalidInput(f"envelope is already signed by key {signer.key_id}", field="keyid")
    signature = Signature(signer.key_id, signer.sign(pae(envelope.payload_type, envelope.payload)))
    return dataclasses.replace(envelope, signatures=(*envelope.signatures, signature))


def verify_signature(envelope: Envelope, keyid: str, public_key: Verifier) -> None:
    """Verify the signature made by ``keyid`` (DSSE protocol.md, "Verify").

    Raises VerificationError if there is no such signature, if there are several (a
    threshold must never count one key twice) or if it does not verify.
    """
    matching = [signature for signature in envelope.signatures if signature.keyid == keyid]
    if not matching:
        raise VerificationError(f"envelope has no signature by key {keyid!r}", keyid=keyid)
    if len(matching) > 1:
        raise VerificationError(f"envelope has several signatures by key {keyid!r}", keyid=keyid)
    _verify(envelope, matching[0], public_key)


def verified_keyids(
    envelope: Envelope, lookup: Callable[[str], Verifier | None]
) -> tuple[str, ...]:
    """Verify every signature and return their key ids, in envelope order.

    All-or-nothing on purpose: a signature that fails, or whose key ``lookup`` does not
    know, raises VerificationError instead of being skipped, so a tampered envelope is
    always noticed even when the remaining signatures would meet a threshold.
    """
    if not envelope.signatures:
        raise VerificationError("envelope has no signatures")
    try:
        _check_distinct_keyids(envelope.signatures)
    except InvalidInput as exc:
        raise VerificationError(exc.detail, **exc.extra) from None
    for signature in envelope.signatures:
        public_key = lookup(signature.keyid)
        if public_key is None:
            raise VerificationError(
                f"envelope is signed by unknown key {signature.keyid!r}", keyid=signature.keyid
            )
        _verify(envelope, signature, public_key)
    return tuple(signature.keyid for signature in envelope.signatures)


def _verify(envelope: Envelope, signature: Signature, public_key: Verifier) -> None:
    try:
        public_key.verify(signature.sig, pae(envelope.payload_type, envelope.payload))
    except InvalidSignature:
        raise VerificationError(
            f"signature by key {signature.keyid!r} does not verify", keyid=signature.keyid
        ) from None


# --- parsing helpers -------------------------------------------------------------------------


def _required(obj: dict[object, object], key: str, field: str) -> object:
    if key not in obj:
        raise InvalidInput(f"{field} is missing", field=field)
    return obj[key]


def _reject_unknown_fields(obj: dict[object, object], allowed: frozenset[str], where: str) -> None:
    if obj.keys() <= allowed:
        return
    unknown = sorted(repr(key) for key in obj if key not in allowed)
    raise InvalidInput(f"{where} has unknown fields: {', '.join(unknown)}", field=where)


def _signature_from_json(item: object, index: int) -> Signature:
    # Every record's envelope passes here (ingestion, audit): names of fields are spelled
    # out only when something is wrong.
    if isinstance(item, dict) and item.keys() == _SIGNATURE_FIELDS:
        keyid, sig = item["keyid"], item["sig"]
        if isinstance(keyid, str) and isinstance(sig, str) and sig:
            return Signature(keyid=keyid, sig=_b64decode(sig, f"signatures[{index}].sig"))
    where = f"signatures[{index}]"
    if not isinstance(item, dict):
        raise InvalidInput(f"{where} must be a JSON object", field=where)
    _reject_unknown_fields(item, _SIGNATURE_FIELDS, where)
    keyid = _required(item, "keyid", f"{where}.keyid")
    if not isinstance(keyid, str):
        raise InvalidInput(f"{where}.keyid must be a string", field=f"{where}.keyid")
    sig = _b64decode(_required(item, "sig", f"{where}.sig"), f"{where}.sig")
    if not sig:
        raise InvalidInput(f"{where}.sig is empty", field=f"{where}.sig")
    return Signature(keyid=keyid, sig=sig)


def _check_payload_type(payload_type: object) -> str:
    """A non-empty printable-ASCII media type.

    DSSE allows any UTF-8 string; we accept only what a media type can be, so a type cannot
    carry look-alike characters or line breaks into logs and user interfaces.
    """
    if not isinstance(payload_type, str) or not payload_type:
        raise InvalidInput("payloadType must be a non-empty string", field="payloadType")
    if not (payload_type.isascii() and payload_type.isprintable()):
        raise InvalidInput("payloadType must be printable ASCII", field="payloadType")
    return payload_type


def _check_distinct_keyids(signatures: Sequence[Signature]) -> None:
    seen: set[str] = set()
    for index, signature in enumerate(signatures):
        if signature.keyid in seen:
            field = f"signatures[{index}].keyid"
            raise InvalidInput(f"{field} repeats key {signature.keyid!r}", field=field)
        seen.add(signature.keyid)


def _b64decode(value: object, field: str) -> bytes:
    """Decode standard or URL-safe base64, padded or not, but only its canonical form.

    Mixing the two alphabets, wrong padding and non-zero trailing bits are refused so that
    each byte string has exactly one accepted spelling per alphabet and padding choice.
    """
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be a base64 string", field=field)
    # Fast path for the usual spelling, standard and padded: strict decoding, then the
    # canonical check (re-encoding gives it back, so no stray trailing bits).
    try:
        decoded = binascii.a2b_base64(value, strict_mode=True)
        if binascii.b2a_base64(decoded, newline=False) == value.encode("ascii"):
            return decoded
    except (binascii.Error, ValueError):
        pass  # the checks below say what is wrong, or accept another spelling
    url_safe = "-" in value or "_" in value
    if url_safe and ("+" in value or "/" in value):
        raise InvalidInput(f"{field} mixes standard and URL-safe base64", field=field)
    unpadded = value.rstrip("=")
    padded = unpadded + "=" * (-len(unpadded) % 4)
    if value not in (unpadded, padded):
        raise InvalidInput(f"{field} has wrong base64 padding", field=field)
    standard = padded.translate(_URL_SAFE_TO_STANDARD) if url_safe else padded
    try:
        decoded = base64.b64decode(standard, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput(f"{field} is not valid base64", field=field) from None
    if base64.b64encode(decoded).decode("ascii") != standard:
        raise InvalidInput(f"{field} is not canonical base64", field=field)
    return decoded
