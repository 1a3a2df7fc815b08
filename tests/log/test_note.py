"""Tests for registry.log.note: signed notes, checkpoints and cosignatures.

Interoperability is pinned by tests/vectors/signed-note/vectors.json (the C2SP example, Go's
sumdb note example reproduced byte for byte, a real sum.golang.org checkpoint) and by key
strings published by other implementations.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.errors import InvalidInput, VerificationError
from registry.log.note import (
    MAX_SIGNATURES,
    Checkpoint,
    CosignatureSigner,
    CosignatureVerifier,
    NoteSigner,
    NoteVerifier,
    add_signature_lines,
    add_signatures,
    cosignature_message,
    cosignature_vkey,
    key_hash,
    open_checkpoint,
    open_cosignature,
    open_note,
    parse_cosignature_vkey,
    parse_vkey,
    sign_checkpoint,
    sign_note,
    verify_cosignature,
    vkey,
)

EM = "\u2014"
ROOT = hashlib.sha256(b"root").digest()


@pytest.fixture(scope="module")
def vectors(log_vectors: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((log_vectors / "signed-note" / "vectors.json").read_text())
    return data


def fixed_signer(name: str = "registry.example/log") -> NoteSigner:
    return NoteSigner(name, Ed25519PrivateKey.from_private_bytes(bytes(range(32))))


def fixed_witness(name: str = "witness.example/w1", seed: int = 7) -> CosignatureSigner:
    return CosignatureSigner(name, Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32))


def replace_signature_char(note: str) -> str:
    """Change one base64 character in the middle of the first signature (still canonical)."""
    head, sep, tail = note.partition(f"\n\n{EM} ")
    name, space, b64 = tail.partition(" ")
    i = 20
    swapped = "B" if b64[i] != "B" else "C"
    return head + sep + name + space + b64[:i] + swapped + b64[i + 1 :]


# --- Vectors -----------------------------------------------------------------------------------


def test_c2sp_example_verifies(vectors: dict[str, Any]) -> None:
    v = vectors["c2sp_signed_note_example"]
    verifier = parse_vkey(v["vkey"])
    note = open_note(v["note"], [verifier])
    assert note.text == "This is an example message.\n"
    assert [s.name for s in note.signatures] == ["example.com/foo"]
    assert note.signatures[0].line == v["note"].split("\n\n", 1)[1]
    assert note.unverified_signatures == ()
    assert verifier.to_vkey() == v["vkey"]


def test_go_example_signs_byte_for_byte(vectors: dict[str, Any]) -> None:
    v = vectors["go_sumdb_note_example"]
    signer = NoteSigner.from_skey(v["skey"])  # its base64 contains '+'
    assert sign_note(v["text"], [signer]) == v["note"]
    assert signer.to_skey() == v["skey"]
    assert signer.to_vkey() == v["vkey"]
    assert signer.verifier() == parse_vkey(v["vkey"])
    note = open_note(v["note"], [parse_vkey(v["vkey"])])
    assert note.text == v["text"]
    # Bytes in, same result: HTTP bodies need not be decoded by the caller.
    assert open_note(v["note"].encode(), [parse_vkey(v["vkey"])]) == note


def test_sum_golang_org_checkpoint(vectors: dict[str, Any]) -> None:
    v = vectors["sum_golang_org_checkpoint"]
    checkpoint, note = open_checkpoint(v["note"], [parse_vkey(v["vkey"])])
    assert checkpoint.origin == "go.sum database tree"
    assert checkpoint.size == 65664258
    assert checkpoint.root_hash == base64.b64decode("WVVNVD2qx+fTq31zkj6UAqxT5X6HvGphGM+o8Thnbsg=")
    assert checkpoint.extensions == ()
    assert checkpoint.to_text() == note.text
    assert note.signatures[0].name == "sum.golang.org"


@pytest.mark.parametrize("which", ["c2sp_signed_note_example", "sum_golang_org_checkpoint"])
def test_tampered_vectors_fail(vectors: dict[str, Any], which: str) -> None:
    v = vectors[which]
    verifier = parse_vkey(v["vkey"])
    tampered_text = v["note"].replace("e", "E", 1)
    with pytest.raises(VerificationError):
        open_note(tampered_text, [verifier])
    with pytest.raises(VerificationError):
        open_note(replace_signature_char(v["note"]), [verifier])


def test_wrong_key_fails(vectors: dict[str, Any]) -> None:
    v = vectors["go_sumdb_note_example"]
    impostor = NoteSigner.generate("PeterNeumann").verifier()  # same name, other key
    with pytest.raises(VerificationError, match="not signed by any known key"):
        open_note(v["note"], [impostor])
    with pytest.raises(VerificationError):
        open_note(v["note"], [])


def test_known_key_with_bad_signature_rejects_even_if_another_is_good(
    vectors: dict[str, Any],
) -> None:
    v = vectors["go_sumdb_note_example"]
    good = v["note"]
    bad_line = replace_signature_char(good).split("\n\n", 1)[1]
    # A valid line followed by a forged line of the same key: Go skips the repeat, the
    # spec says every signature of a known key MUST be verified.
    with pytest.raises(VerificationError):
        open_note(good + bad_line, [parse_vkey(v["vkey"])])


# --- Verifier and signer keys --------------------------------------------------------------------


def test_vkey_round_trip_and_key_hash() -> None:
    signer = fixed_signer()
    text = vkey(signer.name, signer.public_key)
    verifier = parse_vkey(text)
    assert (
        verifier
        == signer.verifier()
        == NoteVerifier.from_public_key(signer.name, signer.public_key)
    )
    expected = hashlib.sha256(signer.name.encode() + b"\n\x01" + signer.public_key).digest()[:4]
    assert verifier.key_hash == expected == key_hash(signer.name, 1, signer.public_key)


def test_published_vkeys_parse() -> None:
    # From transparency-dev/formats tests: a type 0x01 key whose base64 contains '+', and a
    # real witness's type 0x04 key, which pins the cosignature key hash (0x04 in the hash).
    parse_vkey("TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6")
    witness = parse_cosignature_vkey(
        "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2"
    )
    assert witness.key_hash.hex() == "da77ade7"


@pytest.mark.parametrize(
    "bad",
    [
        "example.com/foo+530d903a",  # two parts
        "example.com/foo+530d903b+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",  # hash
        "example.com/bar+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",  # name
        "example.com/foo+530d903+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",  # 7 hex
        "example.com/foo+530d903g+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",  # not hex
        "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2",  # base64
        "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U0=",  # 32 bytes
        " example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",  # space
        "+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",  # empty name
        "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2",  # type 0x04
    ],
)
def test_bad_vkeys_are_refused(bad: str) -> None:
    with pytest.raises(InvalidInput):
        parse_vkey(bad)


def test_cosignature_vkey_refuses_note_keys(vectors: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput):
        parse_cosignature_vkey(vectors["c2sp_signed_note_example"]["vkey"])


@pytest.mark.parametrize(
    "bad",
    [
        "PRIVATE+KEY+PeterNeumann+c74f20a3",
        "PRIVATE+KEX+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
        "PRIVATE+KEY+PeterNeumann+c74f20a4+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
        "PRIVATE+KEY+PeterNeumanX+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AoEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
    ],
)
def test_bad_skeys_are_refused(bad: str) -> None:
    with pytest.raises(InvalidInput):
        NoteSigner.from_skey(bad)


@pytest.mark.parametrize("name", ["", "a b", "a+b", "a\u00a0b", "a\nb", "a\tb"])
def test_invalid_key_names(name: str) -> None:
    with pytest.raises(InvalidInput):
        NoteSigner(name, Ed25519PrivateKey.generate())
    with pytest.raises(InvalidInput):
        vkey(name, fixed_signer().public_key)


def test_signer_repr_hides_the_private_key() -> None:
    assert "private" not in repr(fixed_signer()).lower()


# --- Signing and opening -------------------------------------------------------------------------


def test_multiple_signers_and_unknown_signatures() -> None:
    a, b = fixed_signer("a.example/log"), NoteSigner.generate("b.example/log")
    signed = sign_note("hello\n\nworld\n", [a, b])  # the text may contain blank lines
    assert signed.startswith("hello\n\nworld\n\n" + EM + " a.example/log ")
    note = open_note(signed, [a.verifier()])
    assert note.text == "hello\n\nworld\n"
    assert [s.name for s in note.signatures] == ["a.example/log"]
    assert [s.name for s in note.unverified_signatures] == ["b.example/log"]
    assert note.unverified_signatures[0].line in signed
    both = open_note(signed, [b.verifier(), a.verifier()])
    assert {s.name for s in both.signatures} == {"a.example/log", "b.example/log"}


@pytest.mark.parametrize("text", ["no newline", "", "tab\there\n", "nul\x00\n", "cr\r\n"])
def test_sign_refuses_bad_text(text: str) -> None:
    with pytest.raises(InvalidInput):
        sign_note(text, [fixed_signer()])


def test_sign_needs_a_signer() -> None:
    with pytest.raises(InvalidInput):
        sign_note("text\n", [])


def malformed_notes() -> list[str]:
    s = fixed_signer()
    good = sign_note("text\n", [s])
    line = good.split("\n\n", 1)[1]
    name, b64 = line[2:-1].split(" ")
    raw = base64.b64decode(b64)
    return [
        good[:-1],  # no final newline
        good.replace("\n\n", "\n"),  # no blank line
        "text\n\n",  # no signatures
        good.replace(EM, "-"),  # ASCII dash
        good.replace(EM + " ", EM),  # no space after the dash
        good.replace(b64, b64.rstrip("=")),  # unpadded base64
        good.replace(b64, b64[:-2] + "x="),  # non-canonical / invalid base64
        good.replace(name, "bad+name"),
        good.replace(b64, base64.b64encode(raw[:4]).decode()),  # only a key hash
        good + "trailing garbage\n",
        good.replace("text", "te\x01xt"),  # control character
        good + line * MAX_SIGNATURES,  # too many signatures
    ]


@pytest.mark.parametrize("index", range(len(malformed_notes())))
def test_malformed_notes_fail(index: int) -> None:
    with pytest.raises(VerificationError):
        open_note(malformed_notes()[index], [fixed_signer().verifier()])


def test_invalid_utf8_fails() -> None:
    good = sign_note("text\n", [fixed_signer()]).encode()
    with pytest.raises(VerificationError):
        open_note(good.replace(b"text", b"t\xffxt"), [fixed_signer().verifier()])


def test_signature_limit() -> None:
    signers = [NoteSigner.generate(f"k{i}.example") for i in range(MAX_SIGNATURES)]
    note = sign_note("text\n", signers)
    assert len(open_note(note, [signers[-1].verifier()]).unverified_signatures) == 99
    with pytest.raises(VerificationError):
        add_signatures(note, [fixed_signer()])


def test_repeated_signatures_are_listed_once() -> None:
    s = fixed_signer()
    note = sign_note("text\n", [s, s])
    opened = open_note(note, [s.verifier()])
    assert len(opened.signatures) == 1


class CollidingVerifier:
    """Claims another key's name and key hash (possible: the hash is only 32 bits)."""

    signature_type = 0x01

    def __init__(self, other: NoteVerifier) -> None:
        self.name, self.key_hash = other.name, other.key_hash

    def verify(self, text: str, signature: bytes) -> None:
        raise VerificationError("never")


def test_duplicate_and_ambiguous_verifiers() -> None:
    s = fixed_signer()
    note = sign_note("t\n", [s])
    assert open_note(note, [s.verifier(), s.verifier()]).text == "t\n"
    with pytest.raises(InvalidInput):
        open_note(note, [s.verifier(), CollidingVerifier(s.verifier())])


@settings(max_examples=50, deadline=None)
@given(
    st.text(
        alphabet=st.one_of(st.characters(blacklist_categories=["Cs", "Cc"]), st.just("\n")),
        max_size=200,
    )
)
def test_sign_open_round_trip(body: str) -> None:
    s = fixed_signer()
    text = body + "\n"
    note = open_note(sign_note(text, [s]), [s.verifier()])
    assert note.text == text


# --- Checkpoints ---------------------------------------------------------------------------------


def test_checkpoint_text_and_round_trip() -> None:
    cp = Checkpoint("registry.example/log", 42, ROOT, ("ext one",))
    root_b64 = base64.b64encode(ROOT).decode()
    assert cp.to_text() == f"registry.example/log\n42\n{root_b64}\next one\n"
    assert Checkpoint.parse(cp.to_text()) == cp
    signer = fixed_signer("registry.example/log")
    parsed, note = open_checkpoint(sign_checkpoint(cp, signer), [signer.verifier()])
    assert parsed == cp
    assert note.text == cp.to_text()


@pytest.mark.parametrize(
    "size_line", ["01", "+1", "-1", " 1", "1 ", "1.0", "0x10", "\u0661", "", "9223372036854775808"]
)
def test_checkpoint_size_is_strict(size_line: str) -> None:
    root = base64.b64encode(ROOT).decode()
    with pytest.raises(VerificationError):
        Checkpoint.parse(f"origin\n{size_line}\n{root}\n")


def test_checkpoint_accepts_zero_and_max() -> None:
    root = base64.b64encode(ROOT).decode()
    assert Checkpoint.parse(f"o\n0\n{root}\n").size == 0
    assert Checkpoint.parse(f"o\n9223372036854775807\n{root}\n").size == 2**63 - 1


@pytest.mark.parametrize(
    "text",
    [
        "origin\n1\n" + base64.b64encode(ROOT).decode(),  # no final newline
        "\n1\n" + base64.b64encode(ROOT).decode() + "\n",  # empty origin
        "origin\n1\n" + base64.b64encode(ROOT[:31]).decode() + "\n",  # 31-byte root
        "origin\n1\n" + base64.b64encode(ROOT).decode().rstrip("=") + "\n",  # unpadded
        "origin\n1\n" + base64.b64encode(ROOT).decode() + "\n\n",  # empty extension
        "origin\n1\n",  # no root
    ],
)
def test_checkpoint_parse_rejects(text: str) -> None:
    with pytest.raises(VerificationError):
        Checkpoint.parse(text)


@pytest.mark.parametrize(
    "fields",
    [
        ("", 1, ROOT, ()),
        ("o\nx", 1, ROOT, ()),
        ("o", -1, ROOT, ()),
        ("o", 2**63, ROOT, ()),
        ("o", 1, ROOT[:9], ()),
        ("o", 1, ROOT, ("",)),
        ("o", 1, ROOT, ("a\nb",)),
    ],
)
def test_checkpoint_constructor_rejects(fields: tuple[Any, ...]) -> None:
    with pytest.raises(InvalidInput):
        Checkpoint(*fields)


def test_open_checkpoint_rejects_a_signed_non_checkpoint() -> None:
    s = fixed_signer()
    with pytest.raises(VerificationError):
        open_checkpoint(sign_note("just text\n", [s]), [s.verifier()])


# --- Cosignatures --------------------------------------------------------------------------------


def test_cosignature_round_trip() -> None:
    cp = Checkpoint("registry.example/log", 1234, ROOT)
    witness = fixed_witness()
    line = witness.cosign(cp.to_text(), 1_700_000_000)
    assert line.startswith(f"{EM} witness.example/w1 ") and line.endswith("\n")
    blob = base64.b64decode(line.split(" ")[2])
    assert len(blob) == 4 + 8 + 64
    assert blob[:4] == witness.key_hash == key_hash(witness.name, 0x04, witness.public_key)
    assert int.from_bytes(blob[4:12], "big") == 1_700_000_000
    cosig = open_cosignature(cp.to_text(), line, witness.verifier())
    assert cosig.timestamp == 1_700_000_000 and cosig.name == witness.name
    verify_cosignature(cp.to_text(), line, witness.verifier())
    # The signed message is exactly what tlog-cosignature §Ed25519 signed message shows.
    message = cosignature_message(cp.to_text(), 1_700_000_000)
    assert message == b"cosignature/v1\ntime 1700000000\n" + cp.to_text().encode()
    witness.private_key.public_key().verify(blob[12:], message)


def test_cosignature_vkey_round_trip() -> None:
    witness = fixed_witness()
    text = cosignature_vkey(witness.name, witness.public_key)
    assert text == witness.to_vkey()
    assert base64.b64decode(text.split("+", 2)[2])[0] == 0x04
    assert parse_cosignature_vkey(text) == witness.verifier()
    assert witness.verifier() == CosignatureVerifier.from_public_key(
        witness.name, witness.public_key
    )


def test_cosignature_tampering_fails() -> None:
    cp = Checkpoint("registry.example/log", 1234, ROOT)
    witness = fixed_witness()
    line = witness.cosign(cp.to_text(), 1_700_000_000)
    blob = bytearray(base64.b64decode(line.split(" ")[2]))
    other_cp = Checkpoint("registry.example/log", 1235, ROOT).to_text()
    with pytest.raises(VerificationError):
        verify_cosignature(other_cp, line, witness.verifier())  # different tree head
    for offset in (4, 11, 12, 75):  # timestamp bytes, then signature bytes
        forged = bytearray(blob)
        forged[offset] ^= 1
        forged_line = f"{EM} {witness.name} {base64.b64encode(bytes(forged)).decode()}\n"
        with pytest.raises(VerificationError):
            verify_cosignature(cp.to_text(), forged_line, witness.verifier())
    with pytest.raises(VerificationError):  # another witness's key
        verify_cosignature(cp.to_text(), line, fixed_witness(seed=8).verifier())
    with pytest.raises(VerificationError):  # same key used as a plain note key: other hash
        open_note(cp.to_text() + "\n" + line, [NoteVerifier.from_public_key(*_pub(witness))])
    with pytest.raises(VerificationError):  # truncated signature
        short = f"{EM} {witness.name} {base64.b64encode(bytes(blob[:-1])).decode()}\n"
        verify_cosignature(cp.to_text(), short, witness.verifier())


def _pub(witness: CosignatureSigner) -> tuple[str, bytes]:
    return witness.name, witness.public_key


def test_cosign_refuses_non_checkpoints_and_bad_timestamps() -> None:
    witness = fixed_witness()
    with pytest.raises(InvalidInput):
        witness.cosign("not a checkpoint\n", 1)
    cp = Checkpoint("o", 1, ROOT).to_text()
    for ts in (-1, 2**63):
        with pytest.raises(InvalidInput):
            witness.cosign(cp, ts)


def test_spec_example_cosignature_layout() -> None:
    """The tlog-cosignature example line: key hash, then the u64 time the spec shows."""
    example = (
        "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n"
        f"{EM} example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5"
        "/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
        f"{EM} witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OW"
        "XEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n"
    )
    someone = NoteSigner.generate("example.com/behind-the-sofa").verifier()
    with pytest.raises(VerificationError):  # no key we know signed it
        open_note(example, [someone])
    signed = fixed_signer("example.com/behind-the-sofa")
    text = example.split("\n\n", 1)[0] + "\n"
    note = open_note(add_signature_lines(example, signed.signature_line(text)), [signed.verifier()])
    witness_sig = next(s for s in note.unverified_signatures if s.name == "witness.example.com/w1")
    assert len(witness_sig.signature) == 8 + 64
    assert int.from_bytes(witness_sig.signature[:8], "big") == 1679315147


def test_witness_cosigns_a_log_checkpoint_end_to_end() -> None:
    log = fixed_signer("registry.example/log")
    w1, w2 = fixed_witness("w1.example/w"), fixed_witness("w2.example/w", seed=9)
    cp = Checkpoint("registry.example/log", 99, ROOT)
    signed = sign_checkpoint(cp, log)
    # The log asks each witness, then appends the returned lines (tlog-witness add-checkpoint).
    responses = [w.cosign(cp.to_text(), 1_700_000_000 + i) for i, w in enumerate((w1, w2))]
    cosigned = add_signature_lines(signed, responses)
    assert cosigned.startswith(signed)
    note = open_note(cosigned, [log.verifier(), w1.verifier(), w2.verifier()])
    assert [s.name for s in note.signatures] == [log.name, w1.name, w2.name]
    assert [s.timestamp for s in note.signatures] == [None, 1_700_000_000, 1_700_000_001]
    # A client trusting only the witnesses still gets the checkpoint.
    checkpoint, _ = open_checkpoint(cosigned, [w2.verifier()])
    assert checkpoint == cp
    # Re-cosigning replaces the witness's earlier line instead of adding a second one.
    again = add_signatures(cosigned, [w1], timestamp=1_800_000_000)
    reopened = open_note(again, [w1.verifier()])
    assert [s.timestamp for s in reopened.signatures] == [1_800_000_000]
    assert again.count(f"{EM} w1.example/w ") == 1
    # add_signatures also takes plain note signers, and needs a time only for witnesses.
    extra = NoteSigner.generate("mirror.example/m")
    assert open_note(add_signatures(signed, [extra]), [extra.verifier()]).text == cp.to_text()
    with pytest.raises(InvalidInput):
        add_signatures(signed, [w1])


def test_add_signature_lines_checks_form() -> None:
    signed = sign_checkpoint(Checkpoint("o", 1, ROOT), fixed_signer())
    for bad in ("", "no newline", f"{EM} name notbase64!\n", "- name AAAAAAA=\n"):
        with pytest.raises(VerificationError):
            add_signature_lines(signed, bad)
