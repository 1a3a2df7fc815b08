"""DSSE v1: the shared vectors, tampering, strict envelope parsing, threshold envelopes."""

from __future__ import annotations

import base64
import dataclasses
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from registry.crypto.dsse import (
    Envelope,
    Signature,
    add_signature,
    pae,
    sign_envelope,
    verified_keyids,
    verify_signature,
)
from registry.crypto.keys import Signer
from registry.errors import InvalidInput, VerificationError

# The vectors' key "A" is RFC 8032 §7.1 TEST 1 and key "B" is TEST 2: found by signing each
# vector's PAE with every §7.1 test key; only these reproduce the published signatures.
RFC8032_TEST1_SEED = bytes.fromhex(
    "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
)
RFC8032_TEST1_PUBLIC = bytes.fromhex(
    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
)
RFC8032_TEST2_SEED = bytes.fromhex(
    "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb"
)
RFC8032_TEST2_PUBLIC = bytes.fromhex(
    "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c"
)
VECTOR_SIGNERS = {
    "A": Signer.from_raw(RFC8032_TEST1_SEED),
    "B": Signer.from_raw(RFC8032_TEST2_SEED),
}
INTOTO = "application/vnd.in-toto+json"
STATEMENT = b'{"_type":"https://in-toto.io/Statement/v1"}'


def b64(text: str) -> bytes:
    """Decode either base64 alphabet, padded or not (the vectors use both)."""
    return base64.urlsafe_b64decode(text.replace("+", "-").replace("/", "_") + "==")


def lookup(keys: dict[str, Signer]) -> dict[str, Ed25519PublicKey]:
    return {keyid: signer.public_key for keyid, signer in keys.items()}


def test_vector_keys_are_the_rfc8032_test_keys() -> None:
    assert VECTOR_SIGNERS["A"].public_key_raw == RFC8032_TEST1_PUBLIC
    assert VECTOR_SIGNERS["B"].public_key_raw == RFC8032_TEST2_PUBLIC


# --- shared vectors --------------------------------------------------------------------------


def test_vector(dsse_case: list[str]) -> None:
    name, payload_b64, payload_type, signature_b64, keyid, pae_hex = dsse_case
    payload = b64(payload_b64)
    signer = VECTOR_SIGNERS[keyid]

    message = pae(payload_type, payload)
    assert message == bytes.fromhex(pae_hex), name
    assert signer.sign(message) == b64(signature_b64), name

    envelope = Envelope(payload, payload_type, (Signature(keyid, b64(signature_b64)),))
    verify_signature(envelope, keyid, signer.public_key)
    assert verified_keyids(envelope, lookup(VECTOR_SIGNERS).get) == (keyid,)

    as_json = {
        "payload": payload_b64,
        "payloadType": payload_type,
        "signatures": [{"keyid": keyid, "sig": signature_b64}],
    }
    if payload_type.isascii():
        assert Envelope.from_json(as_json) == envelope
    else:
        # PAE and signatures handle any UTF-8 type (the vector proves byte lengths are
        # used), but we only accept ASCII media types on input.
        with pytest.raises(InvalidInput, match="payloadType"):
            Envelope.from_json(as_json)


def test_threshold_vector_two_keys(vectors_dir: Path) -> None:
    """The "B" threshold case plus the "A" single-signature case: same payload and type."""
    cases = {
        case[0]: case for case in json.loads((vectors_dir / "dsse" / "vectors.json").read_bytes())
    }
    _, payload_b64, payload_type, sig_a, _, _ = cases["single-signature"]
    _, payload_b64_b, payload_type_b, sig_b, _, _ = cases["threshold-two-distinct-keys/B"]
    assert (payload_b64, payload_type) == (payload_b64_b, payload_type_b)

    envelope = Envelope.from_json(
        {
            "payload": payload_b64,
            "payloadType": payload_type,
            "signatures": [{"keyid": "A", "sig": sig_a}, {"keyid": "B", "sig": sig_b}],
        }
    )
    assert verified_keyids(envelope, lookup(VECTOR_SIGNERS).get) == ("A", "B")
    with pytest.raises(VerificationError, match="unknown key 'B'"):
        verified_keyids(envelope, lookup({"A": VECTOR_SIGNERS["A"]}).get)


def test_pae_lengths_are_byte_lengths() -> None:
    assert pae("tÿpe", b"\x00\xff") == b"DSSEv1 5 t\xc3\xbfpe 2 \x00\xff"
    assert pae("", b"") == b"DSSEv1 0  0 "


# --- tampering -------------------------------------------------------------------------------


@pytest.fixture
def signed() -> Envelope:
    return sign_envelope(INTOTO, STATEMENT, [VECTOR_SIGNERS["A"], VECTOR_SIGNERS["B"]])


def _flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


def _tampered(envelope: Envelope, how: str) -> Envelope:
    if how == "payload":
        return dataclasses.replace(envelope, payload=_flip(envelope.payload, 5))
    if how == "payload-type":
        return dataclasses.replace(envelope, payload_type="application/json")
    if how == "signature":
        first, *rest = envelope.signatures
        return dataclasses.replace(
            envelope, signatures=(Signature(first.keyid, _flip(first.sig, 10)), *rest)
        )
    if how == "truncated-signature":
        first, *rest = envelope.signatures
        return dataclasses.replace(
            envelope, signatures=(Signature(first.keyid, first.sig[:-1]), *rest)
        )
    raise AssertionError(how)


@pytest.mark.parametrize("how", ["payload", "payload-type", "signature", "truncated-signature"])
def test_tampering_is_detected(signed: Envelope, how: str) -> None:
    tampered = _tampered(signed, how)
    key_a = VECTOR_SIGNERS["A"]
    with pytest.raises(VerificationError):
        verify_signature(tampered, key_a.key_id, key_a.public_key)
    # verified_keyids never skips the bad signature, although "B" alone still verifies
    # when only the first signature was touched.
    with pytest.raises(VerificationError):
        verified_keyids(tampered, {s.key_id: s.public_key for s in VECTOR_SIGNERS.values()}.get)


def test_untampered_envelope_verifies(signed: Envelope) -> None:
    keys = {s.key_id: s.public_key for s in VECTOR_SIGNERS.values()}
    assert verified_keyids(signed, keys.get) == tuple(keys)
    for keyid, public_key in keys.items():
        verify_signature(signed, keyid, public_key)


def test_unknown_keyid_is_an_error_not_ignored(signed: Envelope) -> None:
    only_a = {VECTOR_SIGNERS["A"].key_id: VECTOR_SIGNERS["A"].public_key}
    with pytest.raises(VerificationError, match="unknown key"):
        verified_keyids(signed, only_a.get)


def test_missing_or_wrong_key(signed: Envelope) -> None:
    other = Signer.generate()
    with pytest.raises(VerificationError, match="no signature"):
        verify_signature(signed, other.key_id, other.public_key)
    with pytest.raises(VerificationError, match="does not verify"):
        verify_signature(signed, VECTOR_SIGNERS["A"].key_id, other.public_key)


def test_duplicate_and_empty_signature_lists_do_not_verify(signed: Envelope) -> None:
    keys = {s.key_id: s.public_key for s in VECTOR_SIGNERS.values()}
    first = signed.signatures[0]
    doubled = dataclasses.replace(signed, signatures=(first, first))
    with pytest.raises(VerificationError, match="repeats"):
        verified_keyids(doubled, keys.get)
    with pytest.raises(VerificationError, match="several"):
        verify_signature(doubled, first.keyid, keys[first.keyid])
    with pytest.raises(VerificationError, match="no signatures"):
        verified_keyids(dataclasses.replace(signed, signatures=()), keys.get)


# --- strict parsing --------------------------------------------------------------------------

GOOD_SIG = base64.b64encode(bytes(64)).decode()
_DELETE = object()


def _envelope_json(**changes: object) -> dict[str, object]:
    document: dict[str, object] = {
        "payload": base64.b64encode(STATEMENT).decode(),
        "payloadType": INTOTO,
        "signatures": [{"keyid": "k1", "sig": GOOD_SIG}],
    }
    for key, value in changes.items():
        if value is _DELETE:
            del document[key]
        else:
            document[key] = value
    return document


MALFORMED = [
    ("not-an-object", [], "envelope"),
    ("unknown-field", _envelope_json(extra=1), "envelope"),
    ("payload-missing", _envelope_json(payload=_DELETE), "payload"),
    ("payload-not-string", _envelope_json(payload=123), "payload"),
    ("payload-bad-chars", _envelope_json(payload="!!!!"), "payload"),
    ("payload-whitespace", _envelope_json(payload="YWJj\n"), "payload"),
    ("payload-bad-padding", _envelope_json(payload="YQ="), "payload"),
    ("payload-too-much-padding", _envelope_json(payload="YQ==="), "payload"),
    ("payload-impossible-length", _envelope_json(payload="YWJjZ"), "payload"),
    ("payload-mixed-alphabets", _envelope_json(payload="+_-/"), "payload"),
    ("payload-noncanonical-bits", _envelope_json(payload="YR=="), "payload"),
    ("type-missing", _envelope_json(payloadType=_DELETE), "payloadType"),
    ("type-empty", _envelope_json(payloadType=""), "payloadType"),
    ("type-not-string", _envelope_json(payloadType=7), "payloadType"),
    ("type-non-ascii", _envelope_json(payloadType="application/exämple"), "payloadType"),
    ("type-newline", _envelope_json(payloadType="application/json\n"), "payloadType"),
    ("signatures-missing", _envelope_json(signatures=_DELETE), "signatures"),
    ("signatures-empty", _envelope_json(signatures=[]), "signatures"),
    ("signatures-not-list", _envelope_json(signatures={"keyid": "k1"}), "signatures"),
    ("signature-not-object", _envelope_json(signatures=["sig"]), "signatures[0]"),
    (
        "signature-unknown-field",
        _envelope_json(signatures=[{"keyid": "k1", "sig": GOOD_SIG, "cert": "x"}]),
        "signatures[0]",
    ),
    ("keyid-missing", _envelope_json(signatures=[{"sig": GOOD_SIG}]), "signatures[0].keyid"),
    (
        "keyid-not-string",
        _envelope_json(signatures=[{"keyid": 1, "sig": GOOD_SIG}]),
        "signatures[0].keyid",
    ),
    ("sig-missing", _envelope_json(signatures=[{"keyid": "k1"}]), "signatures[0].sig"),
    ("sig-empty", _envelope_json(signatures=[{"keyid": "k1", "sig": ""}]), "signatures[0].sig"),
    (
        "sig-not-base64",
        _envelope_json(signatures=[{"keyid": "k1", "sig": GOOD_SIG[:-3] + "*=="}]),
        "signatures[0].sig",
    ),
    (
        "second-sig-not-base64",
        _envelope_json(signatures=[{"keyid": "k1", "sig": GOOD_SIG}, {"keyid": "k2", "sig": None}]),
        "signatures[1].sig",
    ),
    (
        "duplicate-keyid",
        _envelope_json(
            signatures=[{"keyid": "k1", "sig": GOOD_SIG}, {"keyid": "k1", "sig": GOOD_SIG}]
        ),
        "signatures[1].keyid",
    ),
]


@pytest.mark.parametrize(
    ("document", "field"),
    [(document, field) for _, document, field in MALFORMED],
    ids=[name for name, _, _ in MALFORMED],
)
def test_from_json_rejects_malformed(document: object, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        Envelope.from_json(document)
    assert caught.value.extra["field"] == field
    assert field in caught.value.detail


@pytest.mark.parametrize(
    "encoded",
    ["YWJjZA==", "YWJjZA", "-_-_Pj8=", "-_-_Pj8", "+/+/Pj8=", ""],
)
def test_from_json_accepts_both_alphabets_with_or_without_padding(encoded: str) -> None:
    envelope = Envelope.from_json(_envelope_json(payload=encoded))
    assert envelope.payload == b64(encoded)


# --- building envelopes ----------------------------------------------------------------------


def test_multi_signature_round_trip() -> None:
    signers = [Signer.generate() for _ in range(3)]
    envelope = sign_envelope(INTOTO, STATEMENT, signers[:2])
    envelope = add_signature(envelope, signers[2])

    wire = json.dumps(envelope.to_json())
    parsed = Envelope.from_json(json.loads(wire))
    assert parsed == envelope

    keys = {signer.key_id: signer.public_key for signer in signers}
    assert verified_keyids(parsed, keys.get) == tuple(signer.key_id for signer in signers)


def test_to_json_uses_padded_standard_base64() -> None:
    envelope = Envelope(b"\xfb\xff\xbf>?", INTOTO, (Signature("k", b"\xfb\xff"),))
    assert envelope.to_json() == {
        "payload": "+/+/Pj8=",
        "payloadType": INTOTO,
        "signatures": [{"keyid": "k", "sig": "+/8="}],
    }


def test_signing_refuses_bad_input(signed: Envelope) -> None:
    signer = VECTOR_SIGNERS["A"]
    with pytest.raises(InvalidInput):
        sign_envelope(INTOTO, STATEMENT, [])
    with pytest.raises(InvalidInput, match="repeats"):
        sign_envelope(INTOTO, STATEMENT, [signer, signer])
    with pytest.raises(InvalidInput, match="payloadType"):
        sign_envelope("", STATEMENT, [signer])
    with pytest.raises(InvalidInput, match="already signed"):
        add_signature(signed, signer)
