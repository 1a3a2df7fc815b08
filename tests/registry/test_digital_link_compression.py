"""Decompression of compressed GS1 Digital Link URIs against payloads made by GS1's
reference implementation (``tests/vectors/gs1-dl-compression/``), and the refusal of
payloads that are not one."""

from __future__ import annotations

import json
import random
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from registry.digital_link import parse_digital_link
from registry.digital_link_compression import (
    BASE64,
    decompress_payload,
    parse_any_digital_link,
)
from registry.errors import InvalidInput

VECTORS = json.loads(
    (Path(__file__).parents[1] / "vectors" / "gs1-dl-compression" / "vectors.json").read_text()
)


def _bits(bits: str) -> str:
    """A payload from bits, zero-padded to whole base64 characters."""
    bits += "0" * (-len(bits) % 6)
    return "".join(BASE64[int(bits[i : i + 6], 2)] for i in range(0, len(bits), 6))


def test_the_vectors_are_all_there():
    assert len(VECTORS) == 34
    assert sum(1 for v in VECTORS if v["compressed"].count("/") == 3) == 3  # partially


@pytest.mark.parametrize("vector", VECTORS, ids=[v["compressed"] for v in VECTORS])
def test_a_payload_decompresses_to_its_uncompressed_form(vector: dict[str, str]):
    compressed = urlsplit(vector["compressed"])
    plain = urlsplit(vector["uncompressed"])
    link = parse_any_digital_link(compressed.path, compressed.query)
    expected = parse_digital_link(plain.path, plain.query)
    assert link.path == expected.path
    # the encoder writes an optimised group (01 with 3103) before the rest
    assert sorted(link.attributes) == sorted(expected.attributes)
    assert link.parameters == expected.parameters


def test_gs1_s_own_example_with_parameters():
    """The example in the reference implementation's source: a lot with + and &, an
    expiry time, and two parameters that are no AI (``expdt`` is 7003's old short name)."""
    elements, parameters = decompress_payload(
        "AQnYUc1gmiERBhQ0ytiyZuAGOLc1TXhXsaXbQKHFuaprwUmrBX6g"
    )
    assert elements == [("01", "05412345000013"), ("10", "ABC&+123"), ("7003", "1903061658")]
    assert parameters == [("expdt", "1903061658"), ("k1", "v1")]


def test_leading_zeros_of_a_numeric_lot_are_kept():
    elements, _ = decompress_payload("CxFKk4XBoBQDreaKg")
    assert elements == [("01", "09506000134352"), ("10", "0123456789")]


@pytest.mark.parametrize(
    ("payload", "fault"),
    [
        ("A", "holds no AI"),
        ("ARHKVAdp", "ends inside (01) GTIN"),
        ("ARHKVAdpQh", "not zero"),
        ("a+b", "only URI-safe base64"),
        (_bits("0101" + "0000" + "0" * 8), "no GS1 AI begins with 50"),
        (_bits("0010" + "0011" + "1010"), "is no AI"),  # 23A…
        (_bits("1110" + "1110" + "0" * 8), "neither an AI nor a code"),  # EE
        (_bits("0001" + "0000" + "101" + "00001" + "1" * 7), "encoding 5"),  # (10), enc 5
        (_bits("0001" + "0000" + "100" + "00001" + "0000001"), "control character"),
        (_bits("0001" + "0000" + "000" + "11111" + "1" * 70), "too long"),  # 31 > 20
        (_bits("00000001" + "1" * 47), "more than 14 digits"),
        (
            _bits("0" * 8 + format(6141411234567890, "060b") + "0" * 8 + format(1, "060b")),
            "appears twice",
        ),
        (_bits("0001" + "0000" + "000" + "00001" + "0001"), "no GS1 primary key"),
        (_bits("0111" + "0000" + "0100" + "0001" + "0001"), "no compressed form"),  # 7041
    ],
)
def test_a_malformed_payload_is_refused(payload: str, fault: str):
    with pytest.raises(InvalidInput) as refused:
        parse_any_digital_link(f"/{payload}")
    assert fault in refused.value.detail


def test_random_payloads_raise_only_invalid_input():
    """Whatever the bits, a refusal, never another exception (a 500)."""
    rng = random.Random(20)
    payloads = [v["compressed"].rsplit("/", 1)[1] for v in VECTORS]
    decompressed = 0
    for i in range(5000):
        if i % 2:
            payload = "".join(rng.choice(BASE64) for _ in range(rng.randint(1, 60)))
        else:
            chars = list(rng.choice(payloads))
            chars[rng.randrange(len(chars))] = rng.choice(BASE64)
            payload = "".join(chars)
        try:
            parse_any_digital_link(f"/{payload}")
            decompressed += 1
        except InvalidInput:
            pass
    assert 0 < decompressed < 2500
