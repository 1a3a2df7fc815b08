"""Ed25519 key ids, signers, public-key validation, sealing at rest and client key files."""

from __future__ import annotations

import base64
import hashlib
import json

import nacl.bindings
import nacl.exceptions
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from hypothesis import given
from hypothesis import strategies as st

from registry.crypto.keys import (
    PublicKey,
    Signer,
    dump_key_file,
    key_id,
    load_key_file,
    load_public_key,
    open_private_key,
    seal_private_key,
)
from registry.errors import ConfigurationError, InvalidInput, VerificationError

# RFC 8032 §7.1 TEST 1.
TEST1_SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
TEST1_PUBLIC = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
TEST1_EMPTY_MESSAGE_SIGNATURE = bytes.fromhex(
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065"
    "224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
)
TEST1_KEY_ID = "21fe31dfa154a261626bf854046fd2271b7bed4b6abe45aa58877ef47f9721b9"

MASTER = bytes(range(32))
OTHER_MASTER = bytes(range(1, 33))


# --- key ids and signers ---------------------------------------------------------------------


def test_key_id_of_rfc8032_test1() -> None:
    assert key_id(TEST1_PUBLIC) == TEST1_KEY_ID == hashlib.sha256(TEST1_PUBLIC).hexdigest()


@pytest.mark.parametrize("size", [0, 31, 33, 64])
def test_key_id_needs_32_bytes(size: int) -> None:
    with pytest.raises(InvalidInput):
        key_id(bytes(size))


def test_signer_reproduces_rfc8032_test1() -> None:
    signer = Signer.from_raw(TEST1_SEED)
    assert signer.public_key_raw == TEST1_PUBLIC
    assert signer.key_id == TEST1_KEY_ID
    assert signer.private_raw() == TEST1_SEED
    assert signer.sign(b"") == TEST1_EMPTY_MESSAGE_SIGNATURE
    load_public_key(TEST1_PUBLIC).verify(TEST1_EMPTY_MESSAGE_SIGNATURE, b"")


def test_signer_repr_hides_the_private_key() -> None:
    text = repr(Signer.from_raw(TEST1_SEED))
    assert TEST1_KEY_ID in text
    assert TEST1_SEED.hex() not in text


def test_generated_signers_differ_and_round_trip() -> None:
    first, second = Signer.generate(), Signer.generate()
    assert first.key_id != second.key_id
    assert Signer.from_raw(first.private_raw()).key_id == first.key_id


@pytest.mark.parametrize("size", [0, 31, 33, 64])
def test_signer_needs_a_32_byte_seed(size: int) -> None:
    with pytest.raises(InvalidInput):
        Signer.from_raw(bytes(size))


# --- public keys -----------------------------------------------------------------------------

# Small-order points (canonical encodings of the 8-torsion subgroup): OpenSSL loads them
# without complaint, and a signature under one can verify for many messages.
SMALL_ORDER = [
    "0100000000000000000000000000000000000000000000000000000000000000",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0000000000000000000000000000000000000000000000000000000000000080",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
]

NOT_A_POINT = [
    pytest.param((2).to_bytes(32, "little"), id="y=2-off-curve"),
    pytest.param((2**255 - 19).to_bytes(32, "little"), id="y=p-non-canonical"),
    pytest.param(b"\xff" * 32, id="all-ones"),
]


def test_load_public_key_accepts_real_keys() -> None:
    for _ in range(20):
        signer = Signer.generate()
        load_public_key(signer.public_key_raw).verify(signer.sign(b"m"), b"m")


@pytest.mark.parametrize("size", [0, 31, 33])
def test_load_public_key_wrong_length(size: int) -> None:
    with pytest.raises(InvalidInput, match="32 bytes"):
        load_public_key(bytes(size))


@pytest.mark.parametrize("raw", NOT_A_POINT)
def test_load_public_key_invalid_point(raw: bytes) -> None:
    with pytest.raises(InvalidInput, match="not a valid Ed25519 point"):
        load_public_key(raw)


@pytest.mark.parametrize("encoded", SMALL_ORDER)
def test_load_public_key_small_order(encoded: str) -> None:
    with pytest.raises(InvalidInput, match="small-order"):
        load_public_key(bytes.fromhex(encoded))


# --- verification: libsodium first, OpenSSL's verdict -------------------------------------

# The order of the edwards25519 base point (RFC 8032 §5.1).
L = 2**252 + 27742317777372353535851937790883648493
IDENTITY = bytes.fromhex("0100000000000000000000000000000000000000000000000000000000000000")


def openssl_accepts(public: bytes, signature: bytes, message: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
    except InvalidSignature:
        return False
    return True


def sodium_accepts(public: bytes, signature: bytes, message: bytes) -> bool:
    try:
        nacl.bindings.crypto_sign_open(signature + message, public)
    except nacl.exceptions.CryptoError:
        return False
    return True


def registry_accepts(public: bytes, signature: bytes, message: bytes) -> bool:
    try:
        load_public_key(public).verify(signature, message)
    except InvalidSignature:
        return False
    return True


def signature_with_identity_r(seed: bytes, message: bytes) -> bytes:
    """A signature whose R is the identity (a small-order point) and that satisfies the
    cofactorless equation ``[S]B = R + [k]A``: S = k·a. Honest signers never make one;
    OpenSSL accepts it and libsodium refuses it."""
    digest = hashlib.sha512(seed).digest()
    a = int.from_bytes(digest[:32], "little") & ((1 << 254) - 8) | (1 << 254)
    public = Signer.from_raw(seed).public_key_raw
    k = int.from_bytes(hashlib.sha512(IDENTITY + public + message).digest(), "little") % L
    return IDENTITY + (k * a % L).to_bytes(32, "little")


def test_load_public_key_gives_a_verifier_that_keeps_its_bytes() -> None:
    key = load_public_key(TEST1_PUBLIC)
    assert isinstance(key, PublicKey)
    assert key.raw == TEST1_PUBLIC
    assert TEST1_KEY_ID in repr(key)


def test_a_signature_only_openssl_accepts_is_accepted() -> None:
    """The one kind of difference between the two: OpenSSL's verdict decides it."""
    message = b"DSSEv1 0  0 "
    signature = signature_with_identity_r(TEST1_SEED, message)
    assert openssl_accepts(TEST1_PUBLIC, signature, message)
    assert not sodium_accepts(TEST1_PUBLIC, signature, message)
    assert registry_accepts(TEST1_PUBLIC, signature, message)
    assert not registry_accepts(TEST1_PUBLIC, signature, message + b"!")


def test_s_of_l_or_more_is_refused_by_both() -> None:
    signature = Signer.from_raw(TEST1_SEED).sign(b"m")
    s = int.from_bytes(signature[32:], "little")
    malleated = signature[:32] + (s + L).to_bytes(32, "little")
    assert not openssl_accepts(TEST1_PUBLIC, malleated, b"m")
    assert not sodium_accepts(TEST1_PUBLIC, malleated, b"m")
    assert not registry_accepts(TEST1_PUBLIC, malleated, b"m")


@pytest.mark.parametrize("size", [0, 32, 63, 65, 128])
def test_a_signature_of_the_wrong_size_is_refused(size: int) -> None:
    signature = (Signer.from_raw(TEST1_SEED).sign(b"m") * 2)[:size]
    with pytest.raises(InvalidSignature):
        load_public_key(TEST1_PUBLIC).verify(signature, b"m")


@given(
    message=st.binary(max_size=200),
    flips=st.lists(st.tuples(st.sampled_from(["sig", "msg"]), st.integers(0, 10_000)), max_size=3),
)
def test_the_registry_verdict_is_openssl_verdict(
    message: bytes, flips: list[tuple[str, int]]
) -> None:
    signer = Signer.from_raw(TEST1_SEED)
    signature, signed = bytearray(signer.sign(message)), bytearray(message)
    for where, bit in flips:
        target = signature if where == "sig" or not signed else signed
        target[bit // 8 % len(target)] ^= 1 << bit % 8
    verdict = openssl_accepts(TEST1_PUBLIC, bytes(signature), bytes(signed))
    assert registry_accepts(TEST1_PUBLIC, bytes(signature), bytes(signed)) is verdict
    # and libsodium never accepts what OpenSSL refuses (the fallback only ever adds)
    assert not sodium_accepts(TEST1_PUBLIC, bytes(signature), bytes(signed)) or verdict


# --- sealing at rest -------------------------------------------------------------------------


def test_seal_open_round_trip() -> None:
    signer = Signer.from_raw(TEST1_SEED)
    blob = seal_private_key(TEST1_SEED, MASTER, signer.key_id)
    assert blob[0] == 0x01
    assert len(blob) == 1 + 12 + 32 + 16
    assert TEST1_SEED not in blob
    assert open_private_key(blob, MASTER, signer.key_id) == TEST1_SEED
    # A fresh nonce each time: sealing twice never yields the same blob.
    assert seal_private_key(TEST1_SEED, MASTER, signer.key_id) != blob


def test_wrong_master_key() -> None:
    blob = seal_private_key(TEST1_SEED, MASTER, TEST1_KEY_ID)
    with pytest.raises(VerificationError):
        open_private_key(blob, OTHER_MASTER, TEST1_KEY_ID)


@pytest.mark.parametrize(
    "index", [0, 1, 12, 13, 44, 60], ids=["version", "nonce", "nonce-end", "ct", "ct-end", "tag"]
)
def test_flipped_byte(index: int) -> None:
    blob = bytearray(seal_private_key(TEST1_SEED, MASTER, TEST1_KEY_ID))
    blob[index] ^= 0x01
    with pytest.raises(VerificationError):
        open_private_key(bytes(blob), MASTER, TEST1_KEY_ID)


@pytest.mark.parametrize("cut", [b"", b"\x01", "truncated", "extended"])
def test_malformed_blob(cut: object) -> None:
    blob = seal_private_key(TEST1_SEED, MASTER, TEST1_KEY_ID)
    if cut == "truncated":
        bad = blob[:-1]
    elif cut == "extended":
        bad = blob + b"\x00"
    else:
        assert isinstance(cut, bytes)
        bad = cut
    with pytest.raises(VerificationError):
        open_private_key(bad, MASTER, TEST1_KEY_ID)


def test_blob_is_bound_to_its_key_id() -> None:
    key_a, key_b = Signer.generate(), Signer.generate()
    blob_a = seal_private_key(key_a.private_raw(), MASTER, key_a.key_id)
    with pytest.raises(VerificationError):
        open_private_key(blob_a, MASTER, key_b.key_id)
    assert open_private_key(blob_a, MASTER, key_a.key_id) == key_a.private_raw()


@pytest.mark.parametrize("size", [0, 16, 31, 33])
def test_master_key_must_be_32_bytes(size: int) -> None:
    with pytest.raises(ConfigurationError):
        seal_private_key(TEST1_SEED, bytes(size), TEST1_KEY_ID)
    with pytest.raises(ConfigurationError):
        open_private_key(bytes(61), bytes(size), TEST1_KEY_ID)


def test_seal_needs_a_32_byte_seed() -> None:
    with pytest.raises(InvalidInput):
        seal_private_key(bytes(31), MASTER, TEST1_KEY_ID)


# --- client key file -------------------------------------------------------------------------


def test_key_file_round_trip() -> None:
    signer = Signer.from_raw(TEST1_SEED)
    text = dump_key_file(signer)
    assert json.loads(text) == {
        "type": "ed25519",
        "key_id": TEST1_KEY_ID,
        "public_key": base64.b64encode(TEST1_PUBLIC).decode(),
        "private_key": base64.b64encode(TEST1_SEED).decode(),
    }
    loaded = load_key_file(text)
    assert loaded.private_raw() == TEST1_SEED
    assert loaded.key_id == TEST1_KEY_ID


def _key_file(**changes: object) -> str:
    document: dict[str, object] = json.loads(dump_key_file(Signer.from_raw(TEST1_SEED)))
    for name, value in changes.items():
        if value is None:
            del document[name]
        else:
            document[name] = value
    return json.dumps(document)


OTHER = Signer.generate()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(_key_file(key_id=OTHER.key_id), "key_id", id="mismatched-key-id"),
        pytest.param(
            _key_file(public_key=base64.b64encode(OTHER.public_key_raw).decode()),
            "public_key",
            id="mismatched-public-key",
        ),
        pytest.param(_key_file(type="rsa"), "type", id="wrong-type"),
        pytest.param(_key_file(private_key=None), "fields", id="missing-field"),
        pytest.param(_key_file(comment="x"), "fields", id="unknown-field"),
        pytest.param(_key_file(private_key="not base64!"), "private_key", id="bad-base64"),
        pytest.param(_key_file(private_key=7), "private_key", id="private-key-not-string"),
        pytest.param(
            _key_file(private_key=base64.b64encode(bytes(31)).decode()),
            "32 bytes",
            id="short-seed",
        ),
        pytest.param("[]", "object", id="not-an-object"),
        pytest.param("{", "JSON", id="not-json"),
    ],
)
def test_load_key_file_rejects(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        load_key_file(text)
