"""Compressed GS1 Digital Link URIs (GS1 Digital Link standard 1.1 and later, "URI
compression"): ``https://example.org/{payload}``, the AIs and values of a Digital Link
packed into bits and written in the URI-safe base64 alphabet, so that a small QR code can
carry them. Only decompression: the registry prints uncompressed URIs on its labels.

The payload is a sequence of elements, read from the most significant bit:

- an AI, its digits as 4-bit nibbles (the first two give the AI's length, table P), then
  its value; or a 2-nibble code of table Opt standing for a sequence of AIs (``0B`` is
  (01) then (10)), then each of their values; or the nibble ``F``, a key=value parameter
  that is no AI (7-bit key length, the key in 6-bit base64 characters, then its value);
- a value, component by component as table F gives them: fixed-length digits as one binary
  number of ``ceil(n·log2 10)`` bits; variable-length digits as a length field of
  ``ceil(log2 max)`` bits then such a number; characters as a 3-bit encoding (0 digits,
  1 lower-case hex, 2 upper-case hex, 3 URI-safe base64, 4 7-bit ASCII), a length field
  when the length varies, then the characters;
- at the end, at most 8 bits of zero padding.

The tables are GS1's reference implementation's (``data/gs1-dl-compression-tables.json``,
from gs1/GS1DigitalLinkCompressionPrototype, Apache-2.0, its licence beside it). Digits
decode to exactly the number of digits encoded, leading zeros kept (that implementation
drops them when it decodes a numeric lot such as ``0123``).

A decompressed payload becomes the uncompressed path and query it stands for, and that is
parsed and validated like any Digital Link (``registry.digital_link``): a payload that does
not decompress, or decompresses to an invalid Digital Link, raises ``InvalidInput``.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

from registry.digital_link import DigitalLink, parse_digital_link, percent_decode
from registry.errors import InvalidInput
from registry.gs1_syntax import AI_TABLE, ai_label

_TABLES: dict[str, Any] = json.loads(
    (Path(__file__).with_name("data") / "gs1-dl-compression-tables.json").read_text(
        encoding="utf-8"
    )
)
TABLE_P: dict[str, int] = _TABLES["tableP"]
"""An AI's length (2, 3 or 4 digits) by its first two digits."""
TABLE_F: dict[str, list[dict[str, str]]] = _TABLES["tableF"]
"""Each AI's value as compression encodes it: components ``E`` N (digits) or X
(characters) with ``L`` a fixed length or ``M`` a maximum one."""
TABLE_OPT: dict[str, list[str]] = _TABLES["tableOpt"]
"""Two hex digits that stand for a sequence of AIs."""
BASE64 = _TABLES["safeBase64Alphabet"]
HEX = _TABLES["hexAlphabet"]

PAYLOAD = re.compile(r"^[A-Za-z0-9_-]+$")
"""The characters of a compressed payload."""
_KEY_FLAG = 0xF


def _value_bits(digits: int) -> int:
    # As the reference implementation computes it, floating point included.
    return math.ceil(digits * math.log(10) / math.log(2) + 0.01)


def _length_bits(maximum: int) -> int:
    return math.ceil(math.log(maximum) / math.log(2) + 0.01)


class _Bits:
    """The payload's bits, read from the left; reading past the end is a refusal."""

    def __init__(self, payload: str) -> None:
        self.bits = "".join(format(BASE64.index(c), "06b") for c in payload)
        self.cursor = 0

    @property
    def left(self) -> int:
        return len(self.bits) - self.cursor

    def take(self, count: int, what: str) -> int:
        if count > self.left:
            raise InvalidInput(f"compressed Digital Link: the payload ends inside {what}")
        chunk = self.bits[self.cursor : self.cursor + count]
        self.cursor += count
        return int(chunk, 2) if chunk else 0


def _digits(bits: _Bits, count: int, what: str) -> str:
    # No digits still take _value_bits(0) = 1 bit, as the reference implementation writes.
    number = bits.take(_value_bits(count), what)
    text = str(number).zfill(count) if count or number else ""
    if len(text) > count:
        raise InvalidInput(f"compressed Digital Link: {what} has more than {count} digits")
    return text


def _characters(bits: _Bits, encoding: int, count: int, what: str) -> str:
    if encoding == 0:
        return _digits(bits, count, what)
    if encoding in (1, 2):
        text = "".join(HEX[bits.take(4, what)] for _ in range(count))
        return text.lower() if encoding == 1 else text
    if encoding == 3:
        return "".join(BASE64[bits.take(6, what)] for _ in range(count))
    if encoding == 4:
        codes = [bits.take(7, what) for _ in range(count)]
        if any(code < 0x20 or code == 0x7F for code in codes):
            raise InvalidInput(f"compressed Digital Link: {what} holds a control character")
        return "".join(map(chr, codes))
    raise InvalidInput(f"compressed Digital Link: {what} has encoding {encoding}, not 0-4")


def _value(bits: _Bits, ai: str) -> str:
    label = ai_label(ai)
    components = TABLE_F.get(ai)
    if components is None or any("L" not in c and "M" not in c for c in components):
        raise InvalidInput(
            f"compressed Digital Link: {label} has no compressed form (GS1's table F)", ai=ai
        )
    value = ""
    for component in components:
        if component["E"] == "N" and "L" in component:
            value += _digits(bits, int(component["L"]), label)
        elif component["E"] == "N":
            count = bits.take(_length_bits(int(component["M"])), label)
            if count > int(component["M"]):
                raise InvalidInput(f"compressed Digital Link: {label} is too long", ai=ai)
            value += _digits(bits, count, label)
        else:
            encoding = bits.take(3, label)
            if "L" in component:
                count = int(component["L"])
            else:
                count = bits.take(_length_bits(int(component["M"])), label)
                if count > int(component["M"]):
                    raise InvalidInput(f"compressed Digital Link: {label} is too long", ai=ai)
            value += _characters(bits, encoding, count, label)
    return value


class NotCompressedLink(InvalidInput):
    """The segment does not begin as a compressed Digital Link does (its first header is no
    AI, no optimisation code and no parameter): it is some other path, not a malformed
    Digital Link, so the site answers its ordinary 404."""


def decompress_payload(payload: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The AIs with their values, and the other key=value parameters, of a compressed
    payload, in their order. Raises ``InvalidInput`` for bits that are no such payload."""
    if not PAYLOAD.match(payload):
        raise InvalidInput("compressed Digital Link: only URI-safe base64 characters")
    bits = _Bits(payload)
    elements: list[tuple[str, str]] = []
    parameters: list[tuple[str, str]] = []
    while bits.left > 8:
        h1, h2 = bits.take(4, "an AI"), bits.take(4, "an AI")
        if h1 <= 9 and h2 <= 9:
            prefix = f"{h1}{h2}"
            if prefix not in TABLE_P:
                error = NotCompressedLink if not elements and not parameters else InvalidInput
                raise error(f"compressed Digital Link: no GS1 AI begins with {prefix}")
            ai = prefix
            for _ in range(TABLE_P[prefix] - 2):
                digit = bits.take(4, "an AI")
                if digit > 9:
                    raise InvalidInput(f"compressed Digital Link: AI {ai}{HEX[digit]}… is no AI")
                ai += str(digit)
            elements.append((ai, _value(bits, ai)))
        elif f"{HEX[h1]}{HEX[h2]}" in TABLE_OPT:
            for ai in TABLE_OPT[f"{HEX[h1]}{HEX[h2]}"]:
                elements.append((ai, _value(bits, ai)))
        elif h1 == _KEY_FLAG:
            length = (h2 << 3) | bits.take(3, "a parameter's key")
            if length == 0:
                raise InvalidInput("compressed Digital Link: a parameter with an empty key")
            key = "".join(BASE64[bits.take(6, "a parameter's key")] for _ in range(length))
            encoding = bits.take(3, f"parameter {key!r}")
            count = bits.take(7, f"parameter {key!r}")
            parameters.append((key, _characters(bits, encoding, count, f"parameter {key!r}")))
        else:
            error = NotCompressedLink if not elements and not parameters else InvalidInput
            raise error(
                f"compressed Digital Link: {HEX[h1]}{HEX[h2]} is neither an AI nor a code "
                "of GS1's optimisation table"
            )
    if bits.take(bits.left, "the padding"):
        raise InvalidInput("compressed Digital Link: bits after the last value are not zero")
    if not elements:
        raise InvalidInput("compressed Digital Link: the payload holds no AI")
    return elements, parameters


def _uncompressed(
    elements: list[tuple[str, str]], parameters: list[tuple[str, str]], query: str
) -> tuple[str, str]:
    """The uncompressed path and query (still percent-encoded) that decompressed elements
    stand for: the first primary key with its qualifiers in the path, in the key's order,
    every other AI and parameter in the query, then the URI's own query."""
    seen: set[str] = set()
    for ai, _ in elements:
        if ai in seen:
            raise InvalidInput(f"compressed Digital Link: {ai_label(ai)} appears twice", ai=ai)
        seen.add(ai)
    primary = next((e for e in elements if AI_TABLE.get(e[0]) and AI_TABLE[e[0]].primary_key), None)
    if primary is None:
        found = ", ".join(ai_label(ai) for ai, _ in elements)
        raise InvalidInput(f"compressed Digital Link: no GS1 primary key among {found}")
    spec = AI_TABLE[primary[0]]
    order = [ai for path in spec.qualifier_paths for ai in path]
    qualifiers = sorted(
        (e for e in elements if e[0] in spec.qualifiers), key=lambda e: order.index(e[0])
    )
    path = "".join(f"/{ai}/{quote(value, safe='')}" for ai, value in [primary, *qualifiers])
    rest = [e for e in elements if e is not primary and e not in qualifiers]
    pairs = [f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in (*rest, *parameters)]
    return path, "&".join([*pairs, *([query] if query else [])])


def parse_compressed_digital_link(
    payload: str, query: str = "", primary: tuple[str, str] | None = None
) -> DigitalLink:
    """Decompress a compressed Digital Link's last path segment and parse what it stands
    for with the URI's own query; ``primary`` is the (AI, raw value) of a partially
    compressed URI's uncompressed key (``/01/{gtin}/{payload}``). Raises ``InvalidInput``."""
    elements, parameters = decompress_payload(payload)
    if primary is not None:
        elements.insert(0, (primary[0], percent_decode(primary[1], f"({primary[0]})")))
    path, full_query = _uncompressed(elements, parameters, query)
    return parse_digital_link(path, full_query)


_AI_SEGMENT = re.compile(r"^[0-9]{2,4}$")


def parse_any_digital_link(raw_path: str, query: str = "") -> DigitalLink:
    """A Digital Link path as sent, uncompressed (``/01/{gtin}/10/{lot}``), partially
    compressed (``/01/{gtin}/{payload}``: a key, then one segment that is no AI) or fully
    compressed (``/{payload}``: one segment that is no AI). Raises ``InvalidInput``."""
    segments = raw_path.removeprefix("/").split("/")
    if len(segments) == 1 and segments[0] and not _AI_SEGMENT.match(segments[0]):
        return parse_compressed_digital_link(segments[0], query)
    partial = len(segments) == 3 and _AI_SEGMENT.match(segments[0]) is not None
    if partial and PAYLOAD.match(segments[2]) and not _AI_SEGMENT.match(segments[2]):
        return parse_compressed_digital_link(segments[2], query, (segments[0], segments[1]))
    return parse_digital_link(raw_path, query)
