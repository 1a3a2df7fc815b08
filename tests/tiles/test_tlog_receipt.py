"""Offline receipts: GET /api/v1/records/{id}/tlog-proof and the pure C2SP tlog-proof verifier.

A receipt must verify with nothing but the log's vkey (and the leaf, or the record payload),
and every tampered variant must raise ``VerificationError``.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from registry.crypto.jcs import canonicalize
from registry.errors import VerificationError
from registry.log.note import NoteSigner, parse_vkey
from registry.log.receipt import (
    TLOG_PROOF_HEADER,
    format_tlog_proof,
    parse_tlog_proof,
    verify_record_tlog_proof,
    verify_tlog_proof,
)
from tests.tiles.conftest import Grown

VECTORS = Path(__file__).parent / "vectors"
PROBLEM_JSON = "application/problem+json"


def _record(grown: Grown, index: int) -> dict[str, Any]:
    response = grown.client.get(f"/api/v1/records/{index}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def _receipt(grown: Grown, record_id: str | int) -> str:
    response = grown.client.get(f"/api/v1/records/{record_id}/tlog-proof")
    assert response.status_code == 200, f"receipt of {record_id}: {response.text[:300]}"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    return str(response.text)


def _flip_hash_line(text: str, which: int) -> str:
    lines = text.split("\n")
    hash_lines = [
        i
        for i, line in enumerate(lines[: lines.index("")])
        if i > 0 and not line.startswith(("extra ", "index "))
    ]
    at = hash_lines[which]
    flipped = bytearray(base64.b64decode(lines[at]))
    flipped[7] ^= 0x01
    lines[at] = base64.b64encode(bytes(flipped)).decode()
    return "\n".join(lines)


# --- over HTTP --------------------------------------------------------------------------------


def test_receipts_verify_offline_with_only_the_vkey(grown: Grown) -> None:
    vkey = grown.client.get("/log/vkey").text.strip()
    verifiers = [parse_vkey(vkey)]
    origin = grown.checkpoint.origin
    for index in (0, 1, 37, 255, 256, grown.size - 1):
        record = _record(grown, index)
        leaf = base64.b64decode(record["leaf"])
        by_index = _receipt(grown, index)
        by_digest = _receipt(grown, record["digest"])
        assert by_index == by_digest, f"receipt of {index} differs by index and by digest"
        assert _receipt(grown, record["digest"].upper()) == by_index

        verify_tlog_proof(by_index, leaf, verifiers, origin=origin)
        payload = canonicalize(record["record"])
        assert hashlib.sha256(payload).hexdigest() == record["digest"]
        verify_record_tlog_proof(by_index, payload, verifiers, origin=origin)

        proof = parse_tlog_proof(by_index)
        assert proof.index == index and proof.extra == leaf
        assert proof.checkpoint_note == grown.note, "not against the latest checkpoint"
        served = grown.client.get(
            "/log/proof/inclusion", params={"index": index, "tree_size": grown.size}
        ).json()["hashes"]
        assert [base64.b64encode(h).decode() for h in proof.hashes] == served


def test_tampered_receipts_fail(grown: Grown) -> None:
    verifiers = [grown.verifier]
    index = 100
    record = _record(grown, index)
    leaf = base64.b64decode(record["leaf"])
    text = _receipt(grown, index)
    with pytest.raises(VerificationError, match="does not match"):
        verify_tlog_proof(_flip_hash_line(text, 0), leaf, verifiers)
    with pytest.raises(VerificationError, match="does not match"):
        verify_tlog_proof(_flip_hash_line(text, -1), leaf, verifiers)
    with pytest.raises(VerificationError):
        verify_tlog_proof(text, _record(grown, index + 1)["leaf"].encode(), verifiers)
    with pytest.raises(VerificationError):
        verify_tlog_proof(text.replace(f"index {index}\n", f"index {index + 1}\n"), leaf, verifiers)
    with pytest.raises(VerificationError, match="not signed by any known key"):
        verify_tlog_proof(text, leaf, [NoteSigner.generate(grown.checkpoint.origin).verifier()])
    with pytest.raises(VerificationError, match="expected"):
        verify_tlog_proof(text, leaf, verifiers, origin="other.example/log")
    # The extra line is not trusted: a leaf for another payload is refused.
    other = canonicalize(_record(grown, index + 1)["record"])
    with pytest.raises(VerificationError, match="another payload"):
        verify_record_tlog_proof(text, other, verifiers)


def test_receipt_route_errors_and_neighbours(grown: Grown) -> None:
    for missing in (str(grown.size + 5), "ab" * 32):
        response = grown.client.get(f"/api/v1/records/{missing}/tlog-proof")
        assert response.status_code == 404, response.text
        assert response.headers["content-type"].startswith(PROBLEM_JSON)
    # The single-segment record route is untouched.
    plain = grown.client.get("/api/v1/records/3")
    assert plain.status_code == 200 and plain.json()["index"] == 3
    disposition = grown.client.get("/api/v1/records/3/tlog-proof").headers["content-disposition"]
    assert disposition.endswith('.tlog-proof"')


# --- the pure verifier on kept files ------------------------------------------------------------


def _mth(leaves: list[bytes]) -> bytes:
    """RFC 6962 §2.1, recursively and independently of registry.log.merkle."""
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return hashlib.sha256(b"\x01" + _mth(leaves[:k]) + _mth(leaves[k:])).digest()


def test_the_good_vector_verifies() -> None:
    verifier = parse_vkey((VECTORS / "log.vkey").read_text().strip())
    leaf = (VECTORS / "leaf-6.bin").read_bytes()
    text = (VECTORS / "good.tlog-proof").read_text()
    verify_tlog_proof(text, leaf, [verifier], origin="example.org/guarantee-registry/log")
    leaves = [
        json.dumps({"kind": "storage", "n": i, "v": 1}, separators=(",", ":")).encode()
        for i in range(13)
    ]
    root_line = text.split("\n\n")[1].split("\n")[2]
    assert base64.b64decode(root_line) == _mth(leaves), "the vector's root is not the 13 leaves'"
    assert parse_tlog_proof(text).extra == leaf


@pytest.mark.parametrize("name", sorted(p.name for p in VECTORS.glob("bad-*.tlog-proof")))
def test_bad_vectors_fail(name: str) -> None:
    verifier = parse_vkey((VECTORS / "log.vkey").read_text().strip())
    leaf = (VECTORS / "leaf-6.bin").read_bytes()
    with pytest.raises(VerificationError):
        verify_tlog_proof((VECTORS / name).read_text(), leaf, [verifier])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no empty line"),
        ("c2sp.org/tlog-proof@v2\nindex 0\n\nnote\n", "first line"),
        (f"{TLOG_PROOF_HEADER}\n\nnote\n", "index"),
        (f"{TLOG_PROOF_HEADER}\nindex -1\n\nnote\n", "decimal"),
        (f"{TLOG_PROOF_HEADER}\nindex 1\nAAAA\n\nnote\n", "32 bytes"),
        (f"{TLOG_PROOF_HEADER}\nindex 1\nnot base64!\n\nnote\n", "base64"),
        (f"{TLOG_PROOF_HEADER}\nextra @@\nindex 1\n\nnote\n", "extra"),
        (f"{TLOG_PROOF_HEADER}\nindex 1\nextra AA==\n\nnote\n", "base64"),
        (f"{TLOG_PROOF_HEADER}\nindex 1\n\n", "checkpoint is missing"),
    ],
)
def test_malformed_receipts_are_refused(text: str, message: str) -> None:
    with pytest.raises(VerificationError, match=message):
        parse_tlog_proof(text)


def test_format_round_trips_without_extra_and_without_hashes() -> None:
    note = "log.example\n1\n" + base64.b64encode(bytes(32)).decode() + "\n\n— log.example AAAA\n"
    text = format_tlog_proof(0, [], note)
    assert text == f"{TLOG_PROOF_HEADER}\nindex 0\n\n{note}"
    parsed = parse_tlog_proof(text)
    assert (parsed.index, parsed.hashes, parsed.extra) == (0, (), None)
    assert parsed.checkpoint_note == note
