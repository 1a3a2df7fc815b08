"""RFC 8785 canonicalization: shared vectors, rfc8785 as an oracle, the orjson fast path."""

from __future__ import annotations

import contextlib
import enum
import json
import math
import struct
from decimal import Decimal
from pathlib import Path

import orjson
import pytest
import rfc8785
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from registry.crypto import jcs
from registry.crypto.jcs import MAX_DEPTH, MAX_SAFE_INTEGER, canonicalize, parse_canonical
from registry.errors import CanonicalizationError

# --- shared vectors ---------------------------------------------------------------------------


def test_vector(vectors_dir: Path, jcs_vector_name: str) -> None:
    source = (vectors_dir / "jcs" / "input" / jcs_vector_name).read_bytes()
    expected = (vectors_dir / "jcs" / "output" / jcs_vector_name).read_bytes()
    value = json.loads(source)

    assert canonicalize(value) == expected
    # The expected output is itself canonical, and parses back to the same value.
    assert parse_canonical(expected) == value


# RFC 8785 Appendix B: IEEE 754 bit patterns and their ES6 serialization. Independent of
# Python's repr, so this checks our ES6 layout rules, not just agreement with rfc8785.
APPENDIX_B = [
    ("0000000000000000", "0"),
    ("8000000000000000", "0"),
    ("0000000000000001", "5e-324"),
    ("8000000000000001", "-5e-324"),
    ("7fefffffffffffff", "1.7976931348623157e+308"),
    ("ffefffffffffffff", "-1.7976931348623157e+308"),
    ("4340000000000000", "9007199254740992"),
    ("c340000000000000", "-9007199254740992"),
    ("4430000000000000", "295147905179352830000"),
    ("44b52d02c7e14af5", "9.999999999999997e+22"),
    ("44b52d02c7e14af6", "1e+23"),
    ("44b52d02c7e14af7", "1.0000000000000001e+23"),
    ("444b1ae4d6e2ef4e", "999999999999999700000"),
    ("444b1ae4d6e2ef4f", "999999999999999900000"),
    ("444b1ae4d6e2ef50", "1e+21"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
    ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("41b3de4355555553", "333333333.3333332"),
    ("41b3de4355555554", "333333333.33333325"),
    ("41b3de4355555555", "333333333.3333333"),
    ("41b3de4355555556", "333333333.3333334"),
    ("41b3de4355555557", "333333333.33333343"),
    ("becbf647612f3696", "-0.0000033333333333333333"),
    ("43143ff3c1cb0959", "1424953923781206.2"),
]


@pytest.mark.parametrize(("bits", "expected"), APPENDIX_B, ids=[row[0] for row in APPENDIX_B])
def test_rfc8785_appendix_b_numbers(bits: str, expected: str) -> None:
    (value,) = struct.unpack(">d", bytes.fromhex(bits))
    assert canonicalize(value) == expected.encode("ascii")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1e21, b"1e+21"),
        (1e20, b"100000000000000000000"),
        (1e-6, b"0.000001"),
        (1e-7, b"1e-7"),
        (-1.5e-7, b"-1.5e-7"),
        (123.0, b"123"),
        (0.1, b"0.1"),
        (-0.0, b"0"),
        (2.0**53, b"9007199254740992"),  # floats are exempt from the integer range
    ],
)
def test_es6_exponent_rules(value: float, expected: bytes) -> None:
    assert canonicalize(value) == expected


# --- rfc8785 as an oracle --------------------------------------------------------------------

safe_ints = st.integers(min_value=-MAX_SAFE_INTEGER, max_value=MAX_SAFE_INTEGER)
# st.text() never draws surrogates (category Cs), so every string is valid I-JSON.
scalars = st.none() | st.booleans() | safe_ints | st.text()


def oracle(value: object) -> bytes:
    """The rfc8785 package: a test oracle only, never used by registry code."""
    return rfc8785.dumps(value)  # type: ignore[arg-type]  # hypothesis builds JSON values


def json_values(
    keys: st.SearchStrategy[str], leaves: st.SearchStrategy[object]
) -> st.SearchStrategy[object]:
    return st.recursive(
        leaves,
        lambda children: (
            st.lists(children, max_size=5) | st.dictionaries(keys, children, max_size=5)
        ),
        max_leaves=30,
    )


@settings(max_examples=500, deadline=None)
@given(json_values(st.text(), scalars))
def test_matches_rfc8785_without_floats(value: object) -> None:
    assert canonicalize(value) == oracle(value)


@settings(max_examples=500, deadline=None)
@given(json_values(st.text(alphabet=st.characters(max_codepoint=0x7F)), scalars))
def test_fast_path_matches_rfc8785_and_general_path(value: object) -> None:
    """The orjson branch itself, not just canonicalize(), agrees with JCS."""
    assert jcs._is_plain(value, 0)
    expected = oracle(value)
    assert orjson.dumps(value, option=orjson.OPT_SORT_KEYS) == expected
    assert jcs._canonicalize_general(value) == expected


finite_floats = st.floats(allow_nan=False, allow_infinity=False)
any_bit_pattern = st.integers(min_value=0, max_value=2**64 - 1).map(
    lambda bits: struct.unpack(">d", bits.to_bytes(8, "big"))[0]
)


def _rfc8785_or_skip(value: object) -> bytes:
    try:
        return oracle(value)
    except (rfc8785.CanonicalizationError, ValueError):
        # The oracle refuses some values; those cases say nothing about us.
        assume(False)
        raise AssertionError("unreachable") from None


@settings(max_examples=1000, deadline=None)
@given(finite_floats | any_bit_pattern.filter(math.isfinite))
def test_floats_match_rfc8785(value: float) -> None:
    assert canonicalize(value) == _rfc8785_or_skip(value)


@settings(max_examples=300, deadline=None)
@given(json_values(st.text(), scalars | finite_floats))
def test_nested_values_with_floats_match_rfc8785(value: object) -> None:
    assert canonicalize(value) == _rfc8785_or_skip(value)


# --- where orjson and JCS could differ -------------------------------------------------------


def test_orjson_string_escaping_equals_jcs_for_every_code_point() -> None:
    """Exhaustive: U+007F, U+2028/U+2029, controls, '<' '>' '&' '/' all match JCS.

    Escaping is per character, so comparing 4,096-character chunks covers each code point.
    """
    code_points = [cp for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF]
    for start in range(0, len(code_points), 4096):
        chunk = "".join(map(chr, code_points[start : start + 4096]))
        assert orjson.dumps(chunk) == jcs._canonicalize_general(chunk), hex(code_points[start])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("\x7f", b'"\x7f"'),
        ("\u2028\u2029", b'"\xe2\x80\xa8\xe2\x80\xa9"'),
        ("\x00\x1f", b'"\\u0000\\u001f"'),
        ("\b\t\n\f\r", b'"\\b\\t\\n\\f\\r"'),
        ('"\\/', b'"\\"\\\\/"'),
        ("</script>&", b'"</script>&"'),
    ],
)
def test_string_escapes(text: str, expected: bytes) -> None:
    assert canonicalize(text) == expected
    assert canonicalize({"k": text}) == b'{"k":' + expected + b"}"


def test_non_ascii_keys_sort_by_utf16_not_by_code_point() -> None:
    """Found while proving the fast path: orjson sorts keys by code point (UTF-8 order).

    U+1F600 is the surrogate pair D83D DE00 in UTF-16, which sorts before U+E000, so JCS
    puts the emoji first while orjson puts it last. Hence only ASCII keys take the fast
    path.
    """
    value = {"\ue000": 1, "\U0001f600": 2}
    expected = b'{"\xf0\x9f\x98\x80":2,"\xee\x80\x80":1}'
    assert rfc8785.dumps(value) == expected
    assert orjson.dumps(value, option=orjson.OPT_SORT_KEYS) != expected
    assert not jcs._is_plain(value, 0)
    assert canonicalize(value) == expected


def test_lone_surrogate_in_fast_path_value_reports_path() -> None:
    # orjson raises on the lone surrogate; the general path must name where it is.
    with pytest.raises(CanonicalizationError, match=r"\$\.inputs\[1\]\.name"):
        canonicalize({"inputs": ["ok", {"name": "bad\ud800"}]})


# --- refused values --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "path"),
    [
        ({"inputs": [0, 1, {"quantity": 2**53}]}, "$.inputs[2].quantity"),
        ({"inputs": [0, 1, {"quantity": -(2**53)}]}, "$.inputs[2].quantity"),
        ([2**64], "$[0]"),
        ({"x": {"y": math.nan}}, "$.x.y"),
        ({"x": [math.inf]}, "$.x[0]"),
        ({"x": [-math.inf]}, "$.x[0]"),
        ({"a": {1: "one"}}, "$.a"),
        ({"a": {None: "none"}}, "$.a"),
        ({"a": {(1, 2): "tuple"}}, "$.a"),
        ({"blob": b"bytes"}, "$.blob"),
        ({"price": Decimal("1.5")}, "$.price"),
        ({"tags": {"a", "b"}}, "$.tags"),
        ({"has space": [object()]}, '$["has space"][0]'),
        ({"k": "\udc00"}, "$.k"),
        ({"\ud800": 1}, '$["\\ud800"]'),
        (2**53, "$"),
    ],
)
def test_refused_values_name_the_path(value: object, path: str) -> None:
    with pytest.raises(CanonicalizationError) as caught:
        canonicalize(value)
    assert f" at {path}" in caught.value.detail
    assert caught.value.extra["path"] == path


@pytest.mark.parametrize("value", [MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER, 0])
def test_integer_range_is_inclusive(value: int) -> None:
    assert canonicalize([value]) == f"[{value}]".encode()


def _nested(depth: int) -> object:
    value: object = []
    for _ in range(depth - 1):
        value = [value]
    return value


def test_nesting_limit() -> None:
    assert canonicalize(_nested(MAX_DEPTH)) == b"[" * MAX_DEPTH + b"]" * MAX_DEPTH
    with pytest.raises(CanonicalizationError, match="nested deeper"):
        canonicalize(_nested(MAX_DEPTH + 1))


class Colour(enum.StrEnum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


def test_subclasses_take_the_general_path() -> None:
    value = {Colour.RED: Level.HIGH, "t": (True, None)}
    assert not jcs._is_plain(value, 0)
    assert canonicalize(value) == b'{"red":3,"t":[true,null]}'


# --- parse_canonical -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b'{"a":[true,false,null],"b":"x"}',
        b"1.5",
        b"1e+30",
        b'"\\u001f\\n"',
        b"[-9007199254740991]",
        b"{}",
    ],
)
def test_parse_canonical_accepts_canonical_bytes(data: bytes) -> None:
    assert canonicalize(parse_canonical(data)) == data


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b'{"a": 1}', id="whitespace"),
        pytest.param(b' {"a":1}', id="leading-space"),
        pytest.param(b'{"a":1}\n', id="trailing-newline"),
        pytest.param(b'{"b":1,"a":2}', id="unsorted-keys"),
        pytest.param(b'{"a":1,"a":1}', id="duplicate-keys"),
        pytest.param(b'{"a":{"x":1,"x":2}}', id="nested-duplicate-keys"),
        pytest.param(b"1.0", id="float-1.0"),
        pytest.param(b'{"q":1.0}', id="nested-float-1.0"),
        pytest.param(b"1E+30", id="upper-case-exponent"),
        pytest.param(b"-0", id="negative-zero"),
        pytest.param(b"NaN", id="nan"),
        pytest.param(b"[Infinity]", id="infinity"),
        pytest.param(b'"\\u0041"', id="needless-escape"),
        pytest.param(b'"\\ud800"', id="lone-surrogate"),
        pytest.param(b"9007199254740992", id="integer-out-of-range"),
        pytest.param(b"\xef\xbb\xbf{}", id="utf8-bom"),
        pytest.param(b'"\xff"', id="invalid-utf8"),
        pytest.param(b"{", id="truncated"),
        pytest.param(b"", id="empty"),
        pytest.param(b"[" * 100_000 + b"]" * 100_000, id="deep-nesting"),
    ],
)
def test_parse_canonical_rejects(data: bytes) -> None:
    with pytest.raises(CanonicalizationError):
        parse_canonical(data)


def _strict_outcome(data: bytes) -> tuple[str, object]:
    try:
        return "accepted", jcs._parse_canonical_strict(data)
    except CanonicalizationError:
        return "refused", None


def _outcome(data: bytes) -> tuple[str, object]:
    try:
        return "accepted", parse_canonical(data)
    except CanonicalizationError:
        return "refused", None


big_ints = st.integers(min_value=-(2**70), max_value=2**70)


def _encodings(value: object) -> list[bytes]:
    """The canonical bytes of ``value`` and some near misses."""
    out = [json.dumps(value, ensure_ascii=False).encode(), json.dumps(value).encode()]
    with contextlib.suppress(CanonicalizationError):
        canonical = canonicalize(value)
        out.append(canonical)
        if canonical.startswith(b"{") and len(canonical) > 2:
            first = canonical[1:].split(b",")[0].rstrip(b"}")
            out.append(b"{" + first + b"," + canonical[1:])  # a duplicate first member
    return out


@given(json_values(st.text(), scalars | finite_floats | big_ints))
@settings(max_examples=300)
def test_the_fast_parse_decides_like_the_strict_parse(value: object) -> None:
    """The orjson fast path of ``parse_canonical`` accepts exactly what the strict parser
    accepts, with the same value (big integers and floats included)."""
    for data in _encodings(value):
        fast, strict = _outcome(data), _strict_outcome(data)
        assert fast == strict, data
        if fast[0] == "accepted":
            assert type(fast[1]) is type(strict[1]), data


@pytest.mark.parametrize(
    "data", [b"100000000000000000000", b'{"a":1,"a":1}', b"9007199254740992", rb'{"\u00e9":1}']
)
def test_the_fast_parse_refuses_what_the_strict_parse_refuses(data: bytes) -> None:
    assert _outcome(data) == _strict_outcome(data)
