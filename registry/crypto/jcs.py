"""RFC 8785 JSON Canonicalization Scheme (JCS), implemented here rather than delegated.

Signed records are hashed and signed over their canonical bytes, so this module is the single
definition of "the same record" for the whole registry. Two deliberate restrictions on top
of RFC 8785:

* Python integers must lie in ±(2**53 - 1). RFC 8785 §3.2.2.3 serializes every number as an
  IEEE 754 double; a larger int would silently change value, so we refuse it instead.
* Containers may nest at most ``MAX_DEPTH`` levels, so hostile input fails with a
  ``CanonicalizationError`` rather than a ``RecursionError``.

A fast path hands plain values (no floats, ASCII keys, in-range ints) to ``orjson``, whose
output for exactly those values is proved identical to JCS by ``tests/crypto/test_jcs.py``.
"""

from __future__ import annotations

import json
import math
import re

import orjson

from registry.errors import CanonicalizationError

__all__ = ["MAX_DEPTH", "MAX_SAFE_INTEGER", "canonicalize", "parse_canonical"]

MAX_SAFE_INTEGER = 2**53 - 1
"""Largest integer an IEEE 754 double holds exactly (ECMAScript ``Number.MAX_SAFE_INTEGER``)."""

MAX_DEPTH = 128
"""Deepest container nesting accepted; far beyond any record, well below recursion limits."""

# RFC 8785 §3.2.2.2: only '"', '\' and U+0000..U+001F are escaped; five of the controls have
# short forms, the rest use lowercase \u00xx. Everything else is emitted literally.
_ESCAPES: dict[int, str] = {cp: f"\\u{cp:04x}" for cp in range(0x20)}
_ESCAPES.update(
    {
        0x08: "\\b",
        0x09: "\\t",
        0x0A: "\\n",
        0x0C: "\\f",
        0x0D: "\\r",
        0x22: '\\"',
        0x5C: "\\\\",
    }
)

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class _Refused(CanonicalizationError):
    """Internal: a value deep inside the tree is not canonicalizable.

    Container encoders append their path segment while the exception unwinds, so the
    successful path never pays for building paths. ``canonicalize`` turns it into a plain
    ``CanonicalizationError`` naming the path; it derives from that class only so that every
    exception of the domain shares the ``RegistryError`` base.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.segments: list[str] = []


def canonicalize(value: object) -> bytes:
    """Return the RFC 8785 canonical UTF-8 bytes of ``value``.

    Accepts dict (str keys), list, tuple, str, bool, None, int and float. Raises
    ``CanonicalizationError`` naming the JSONPath of the offending value (e.g.
    ``$.inputs[2].quantity``) for anything else.
    """
    if _is_plain(value, 0):
        try:
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        except orjson.JSONEncodeError:
            # orjson refuses lone surrogates; the general path reports where they are.
            pass
    return _canonicalize_general(value)


def parse_canonical(data: bytes) -> object:
    """Parse JSON ``data`` and insist it is already in RFC 8785 canonical form.

    Used on received payloads: the bytes that were signed must be the only encoding of the
    value. Duplicate keys, insignificant whitespace, unsorted keys, non-shortest numbers
    (``1.0``, ``1e2``) and ``NaN`` all raise ``CanonicalizationError``. Floats that are
    already in ES6 form (``1.5``, ``1e+30``) are accepted, as RFC 8785 §3.2.2.3 allows them.

    Records (no floats, ASCII keys) take a fast path: ``orjson`` parses, and the value is
    accepted when its fast-path serialization gives back ``data`` byte for byte, which a
    duplicate key, whitespace or a non-canonical number cannot. Anything else, and every
    refusal, goes through the strict parser, which names what is wrong.
    """
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        pass
    else:
        if _is_plain(value, 0) and orjson.dumps(value, option=orjson.OPT_SORT_KEYS) == data:
            return value
    return _parse_canonical_strict(data)


def _parse_canonical_strict(data: bytes) -> object:
    try:
        value = json.loads(
            data,
            object_pairs_hook=_reject_duplicate_keys,
            parse_constant=_reject_constant,
        )
    except CanonicalizationError:
        raise
    except (ValueError, RecursionError) as exc:
        # ValueError covers JSONDecodeError, invalid UTF-8 and over-long integer literals.
        raise CanonicalizationError(f"not valid JSON: {exc}") from None
    if canonicalize(value) != data:
        raise CanonicalizationError("payload is not in RFC 8785 canonical form")
    return value


# --- fast path -------------------------------------------------------------------------------


def _is_plain(value: object, depth: int) -> bool:
    """True if ``orjson`` with sorted keys is known to produce JCS output for ``value``.

    Exact types only: subclasses (enums, OrderedDict...) take the general path, where their
    meaning is decided by our code rather than orjson's. Keys must be ASCII because orjson
    sorts by code point while JCS sorts by UTF-16 code unit (RFC 8785 §3.2.3); the two orders
    disagree between a key with a U+E000..U+FFFF character and one with an astral character.
    """
    # Explicit loops rather than all(<generator>): this walk is most of the fast path's cost.
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    if type(value) is int:
        return -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER
    if depth >= MAX_DEPTH:
        return False
    if type(value) is dict:
        for key, item in value.items():
            if type(key) is not str or not key.isascii():
                return False
            kind = type(item)
            if kind is str or kind is bool or item is None:
                continue
            if not _is_plain(item, depth + 1):
                return False
        return True
    if type(value) is list or type(value) is tuple:
        for item in value:
            kind = type(item)
            if kind is str or kind is bool or item is None:
                continue
            if not _is_plain(item, depth + 1):
                return False
        return True
    return False


# --- general path ----------------------------------------------------------------------------


def _canonicalize_general(value: object) -> bytes:
    """The full RFC 8785 serializer, with the JSONPath of any refused value in the error."""
    out: list[bytes] = []
    try:
        _encode(value, 0, out)
    except _Refused as refused:
        path = "$" + "".join(reversed(refused.segments))
        raise CanonicalizationError(f"{refused.reason} at {path}", path=path) from None
    return b"".join(out)


def _encode(value: object, depth: int, out: list[bytes]) -> None:
    # bool before int: bool is an int subclass but a JSON literal.
    if value is None:
        out.append(b"null")
    elif value is True:
        out.append(b"true")
    elif value is False:
        out.append(b"false")
    elif isinstance(value, str):
        out.append(_encode_string(value))
    elif isinstance(value, int):
        out.append(_encode_int(value).encode("ascii"))
    elif isinstance(value, float):
        out.append(_encode_float(value).encode("ascii"))
    elif isinstance(value, dict):
        _check_depth(depth)
        _encode_object(value, depth, out)
    elif isinstance(value, list | tuple):
        _check_depth(depth)
        _encode_array(value, depth, out)
    else:
        raise _Refused(f"{type(value).__name__} is not a JSON type")


def _check_depth(depth: int) -> None:
    if depth >= MAX_DEPTH:
        raise _Refused(f"containers nested deeper than {MAX_DEPTH}")


def _encode_object(value: dict[object, object], depth: int, out: list[bytes]) -> None:
    """RFC 8785 §3.2.3: members sorted by the UTF-16 code units of their (unescaped) names."""
    members: list[tuple[bytes, str, bytes, object]] = []
    for key, item in value.items():
        if not isinstance(key, str):
            raise _Refused(f"object key {key!r} ({type(key).__name__}) is not a string")
        try:
            encoded_key = _encode_string(key)
        except _Refused as refused:
            refused.segments.append(_member_segment(key))
            raise
        # Big-endian UTF-16 bytes compare exactly like the sequence of code units.
        members.append((str.encode(key, "utf-16-be"), key, encoded_key, item))
    members.sort(key=lambda member: member[0])

    out.append(b"{")
    for index, (_, key, encoded_key, item) in enumerate(members):
        if index:
            out.append(b",")
        out.append(encoded_key)
        out.append(b":")
        try:
            _encode(item, depth + 1, out)
        except _Refused as refused:
            refused.segments.append(_member_segment(key))
            raise
    out.append(b"}")


def _encode_array(value: list[object] | tuple[object, ...], depth: int, out: list[bytes]) -> None:
    out.append(b"[")
    for index, item in enumerate(value):
        if index:
            out.append(b",")
        try:
            _encode(item, depth + 1, out)
        except _Refused as refused:
            refused.segments.append(f"[{index}]")
            raise
    out.append(b"]")


def _member_segment(key: str) -> str:
    if _IDENTIFIER.match(key):
        return f".{key}"
    # json.dumps keeps the path printable ASCII, escaping even lone surrogates.
    return f"[{json.dumps(key)}]"


def _encode_string(value: str) -> bytes:
    """RFC 8785 §3.2.2.2 string serialization, as UTF-8 (§3.2.4)."""
    try:
        return ('"' + str.translate(value, _ESCAPES) + '"').encode("utf-8")
    except UnicodeEncodeError:
        # Only lone surrogates fail strict UTF-8 encoding; I-JSON (RFC 7493) forbids them.
        raise _Refused("string contains a lone surrogate") from None


def _encode_int(value: int) -> str:
    if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
        raise _Refused(f"integer {value} is outside ±(2**53 - 1)")
    # int.__repr__ so that int subclasses (IntEnum) serialize as their number.
    return int.__repr__(value)


def _encode_float(value: float) -> str:
    """ES6 Number.prototype.toString (ECMA-262 7.1.12.1), as required by RFC 8785 §3.2.2.3."""
    if math.isnan(value) or math.isinf(value):
        raise _Refused(f"{value!r} has no JSON representation")
    if value == 0:
        return "0"  # ES6 prints -0 as "0"
    sign = "-" if value < 0 else ""
    digits, point = _shortest_digits(abs(value))
    return sign + _es6_layout(digits, point)


def _shortest_digits(value: float) -> tuple[str, int]:
    """Shortest round-trip decimal digits of a positive finite float, and the decimal point.

    Returns ``(digits, n)`` with ``value == 0.<digits> * 10**n`` and no leading or trailing
    zeros in ``digits``: ES6's ``k`` is ``len(digits)`` and its ``n`` is ``n``. ``repr`` is
    the source because Python's float repr is the shortest string that round-trips, ties
    broken to the closest value, exactly the choice ES6 §7.1.12.1 step 5 prescribes.
    """
    mantissa, _, exponent = float.__repr__(value).partition("e")
    whole, _, fraction = mantissa.partition(".")
    raw = whole + fraction
    point = len(whole) + (int(exponent) if exponent else 0)
    digits = raw.lstrip("0")
    point -= len(raw) - len(digits)
    return digits.rstrip("0"), point


def _es6_layout(digits: str, n: int) -> str:
    """ECMA-262 7.1.12.1 steps 6-10: fixed notation for 1e-6 <= x < 1e21, else exponent."""
    k = len(digits)
    if k <= n <= 21:
        return digits + "0" * (n - k)
    if 0 < n <= 21:
        return digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return "0." + "0" * -n + digits
    exponent = n - 1
    mantissa = digits if k == 1 else digits[0] + "." + digits[1:]
    return f"{mantissa}e{'+' if exponent >= 0 else '-'}{abs(exponent)}"


# --- parse hooks -----------------------------------------------------------------------------


def _reject_duplicate_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    """object_pairs_hook: RFC 8785 §3.1 requires I-JSON, which forbids duplicate names."""
    result: dict[str, object] = {}
    for key, item in pairs:
        if key in result:
            raise CanonicalizationError(f"duplicate object key {key!r}")
        result[key] = item
    return result


def _reject_constant(name: str) -> object:
    """parse_constant: NaN and ±Infinity are not JSON numbers (RFC 8785 §3.2.2.3)."""
    raise CanonicalizationError(f"{name} is not a JSON number")
