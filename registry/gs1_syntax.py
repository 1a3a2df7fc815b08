"""GS1 Application Identifier syntax: each AI's format (length, character set, check digit,
dates …), its role in a GS1 Digital Link URI (primary key with its ordered key qualifiers,
or data attribute permitted in the query string), and the rules for which AIs may appear
together (GS1 General Specifications §4.14: invalid pairs and mandatory associations).

Everything comes from the GS1 Barcode Syntax Dictionary
(https://github.com/gs1/gs1-syntax-dictionary, Apache-2.0, ``data/`` beside this module
with its licence), which decomposes the General Specifications' AI definitions into
components. Each entry is ``AIs [FLAGS] SPECIFICATION [ATTRIBUTES…] [# TITLE]``:

- FLAGS: ``?`` the AI may be a Digital Link data attribute (``?17=281231``); ``*`` it has a
  predefined length (no FNC1 separator; irrelevant here).
- SPECIFICATION: components ``T[..]LEN[,linter…]`` with T one of N (digits), X (GS1 AI
  encodable character set 82), Y (set 39), Z (base64url); ``..LEN`` is 1 to LEN
  characters, and only the last component may vary; ``[…]`` an optional component.
- ATTRIBUTES: ``dlpkey[=22,10,21|235]`` a Digital Link primary key with its key
  qualifiers, in the only order they may appear, ``|`` between alternative sequences
  (Digital Link URI Syntax 1.4 §4.6 and §4.7); ``req=01+21,02`` a mandatory association
  (this AI needs (01) with (21), or (02)); ``ex=01,394n`` invalid pairs (this AI may not
  appear with (01) nor any (394n)); ``n`` in a pattern stands for any digit.

Linters check a component's content (§7.9 check digits, §7.12 dates …). The Global Company
Prefix position checks (``gcppos1``/``gcppos2``, which need GS1's prefix list) and the
coupon, IBAN and package-type linters are not applied: those values get their format
check only.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from registry.errors import InvalidInput

CSET82 = "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
"""GS1 AI encodable character set 82 (General Specifications figure 7.11-1), in its order:
the order gives each character its value in the alphanumeric check character pair."""
CSET39 = "#-/0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
"""GS1 AI encodable character set 39 (figure 7.11-2)."""
CSET64 = "-0123456789=ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
"""The file-safe/URI-safe base64 set of AI (8030) (figure 7.11-3)."""
CSET32 = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
"""The 32 characters of an alphanumeric check character pair (§7.9.5)."""

_CHARSETS = {"N": frozenset("0123456789"), "X": frozenset(CSET82), "Y": frozenset(CSET39)}
_CHARSETS["Z"] = frozenset(CSET64)
_CHARSET_NAMES = {
    "N": "digits",
    "X": "characters of GS1 character set 82",
    "Y": "characters of GS1 character set 39",
    "Z": "base64url characters",
}

SYNTAX_DICTIONARY = Path(__file__).with_name("data") / "gs1-syntax-dictionary.txt"
"""The vendored GS1 Barcode Syntax Dictionary (its licence beside it)."""
SYNTAX_DICTIONARY_COMMIT = "ff2eb4bfc8f647aa3244626bdb875165d067a3e6"
"""The dictionary's commit in GS1's repository (2026-07-27), the file as vendored."""


@dataclass(frozen=True)
class Component:
    """One component of an AI's data field: character set, length, optional, linters."""

    charset: str  # N, X, Y or Z
    min_length: int
    max_length: int
    optional: bool
    linters: tuple[str, ...]


@dataclass(frozen=True)
class AiSpec:
    """An Application Identifier: its data field's components, its Digital Link roles and
    its pairing rules (General Specifications §4.14)."""

    ai: str
    components: tuple[Component, ...]
    data_attribute: bool
    primary_key: bool
    qualifier_paths: tuple[tuple[str, ...], ...]  # alternative ordered qualifier sequences
    requires: tuple[tuple[tuple[str, ...], ...], ...] = ()
    """Each ``req=`` attribute: alternative groups, one of which must be present whole;
    a group is AI patterns that must all be there (``req=01+21,02``: (01) with (21), or (02))."""
    excludes: tuple[str, ...] = ()
    """The ``ex=`` patterns: AIs this one may not appear with."""
    title: str = ""

    @property
    def qualifiers(self) -> frozenset[str]:
        """Every AI that may qualify this primary key in a Digital Link path."""
        return frozenset(ai for path in self.qualifier_paths for ai in path)


_COMPONENT = re.compile(r"^(\[)?([NXYZ])(\.\.)?(\d+)(\])?((?:,[a-z0-9]+)*)$")
_FLAGS = frozenset("*!?\"$%&'()+,-./:;<=>@[\\]^_`{|}~")
"""The characters the dictionary allocates to flags (its header)."""


def _component(text: str) -> Component:
    match = _COMPONENT.match(text)
    if match is None:  # pragma: no cover - the vendored file is fixed and tested
        raise ValueError(f"bad component {text!r}")
    bracket, charset, variable, length, _close, linters = match.groups()
    size = int(length)
    return Component(
        charset,
        1 if variable else size,
        size,
        bool(bracket),
        tuple(name for name in linters.split(",") if name),
    )


def parse_syntax_dictionary(lines: Iterable[str]) -> dict[str, AiSpec]:
    """Every AI of a GS1 Barcode Syntax Dictionary text (its ``Syntax:`` header describes
    the entries; an entry for a range such as ``3100-3105`` gives each AI in it)."""
    specs: dict[str, AiSpec] = {}
    for line in lines:
        entry, _, title = line.partition("#")
        tokens = entry.split()
        if not tokens:
            continue
        ais = tokens.pop(0)
        flags = tokens.pop(0) if tokens and set(tokens[0]) <= _FLAGS else ""
        components: list[Component] = []
        paths: tuple[tuple[str, ...], ...] = ()
        primary_key = False
        requires: list[tuple[tuple[str, ...], ...]] = []
        excludes: list[str] = []
        for token in tokens:
            key, equals, value = token.partition("=")
            if key == "dlpkey":
                primary_key = True
                if equals:
                    paths = tuple(tuple(alt.split(",")) for alt in value.split("|"))
            elif key == "req" and equals:
                requires.append(tuple(tuple(group.split("+")) for group in value.split(",")))
            elif key == "ex" and equals:
                excludes.extend(value.split(","))
            elif _COMPONENT.match(token):
                components.append(_component(token))
            else:  # pragma: no cover - an attribute a later dictionary may add
                continue
        first, _, last = ais.partition("-")
        width = len(first)
        for number in range(int(first), int(last or first) + 1):
            ai = str(number).zfill(width)
            specs[ai] = AiSpec(
                ai,
                tuple(components),
                "?" in flags,
                primary_key,
                paths,
                tuple(requires),
                tuple(excludes),
                title.strip(),
            )
    return specs


AI_TABLE: dict[str, AiSpec] = parse_syntax_dictionary(
    SYNTAX_DICTIONARY.read_text(encoding="utf-8").splitlines()
)
"""Every Application Identifier this registry knows, by AI."""

PRIMARY_KEYS: tuple[str, ...] = tuple(a for a, s in AI_TABLE.items() if s.primary_key)
"""The Digital Link primary keys (Digital Link URI Syntax 1.4 §4.5)."""


# --- linters ---------------------------------------------------------------------------------


def gs1_check_digit(body: str) -> str:
    """GS1 General Specifications §7.9.1: the mod-10 check digit of the digits before it
    (weights 3, 1, 3 … from the right), for every fixed-length numeric key."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return str((10 - total % 10) % 10)


_PRIMES = (
    2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83,
    89, 97, 101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167, 173,
)  # fmt: skip


def check_character_pair(body: str) -> str:
    """GS1 General Specifications §7.9.5: the two check characters of an alphanumeric key
    (GMN, MUDI): each character's set-82 value weighted by the primes 2, 3, 5 … from the
    right, summed modulo 1021, written as two characters of set 32."""
    total = sum(CSET82.index(c) * _PRIMES[len(body) - 1 - i] for i, c in enumerate(body)) % 1021
    return CSET32[total >> 5] + CSET32[total & 31]


def _date(text: str, *, century: bool, zero_day: bool) -> str | None:
    year = int(text[:4]) if century else 2000 + int(text[:2])
    month, day = int(text[-4:-2]), int(text[-2:])
    if not 1 <= month <= 12:
        return f"month {text[-4:-2]} is not 01-12"
    if day == 0 and zero_day:
        return None  # day 00: the last day of the month (§7.12)
    try:
        date(year, month, day)
    except ValueError:
        return f"day {text[-2:]} does not exist in {text[:-2]}"
    return None


def _range(low: int, high: int, what: str) -> Callable[[str], str | None]:
    def check(text: str) -> str | None:
        return None if low <= int(text) <= high else f"{what} {text} is not {low}-{high}"

    return check


def _pieces(text: str) -> str | None:
    piece, total = int(text[:2]), int(text[2:])
    if piece == 0 or total == 0 or piece > total:
        return f"piece {text[:2]} of {text[2:]} is not a piece of the total"
    return None


def _percent_encoding(text: str) -> str | None:
    for match in re.finditer("%", text):
        escape = text[match.start() + 1 : match.start() + 3]
        if len(escape) < 2 or not all(c in "0123456789ABCDEFabcdef" for c in escape):
            return "a % is not followed by two hexadecimal digits"
    return None


LINTERS: dict[str, Callable[[str], str | None]] = {
    "csum": lambda t: (
        None
        if gs1_check_digit(t[:-1]) == t[-1]
        else f"check digit {t[-1]}, expected {gs1_check_digit(t[:-1])}"
    ),
    "csumalpha": lambda t: (
        None
        if len(t) >= 2 and check_character_pair(t[:-2]) == t[-2:]
        else f"check characters {t[-2:]!r}, expected {check_character_pair(t[:-2])!r}"
    ),
    "yymmd0": lambda t: _date(t, century=False, zero_day=True),
    "yymmdd": lambda t: _date(t, century=False, zero_day=False),
    "yyyymmdd": lambda t: _date(t, century=True, zero_day=False),
    "yyyymmd0": lambda t: _date(t, century=True, zero_day=True),
    "hhmi": lambda t: None if int(t[:2]) <= 23 and int(t[2:]) <= 59 else f"time {t} is not HHMM",
    "hh": _range(0, 23, "hour"),
    "mi": _range(0, 59, "minute"),
    "ss": _range(0, 59, "second"),
    "iso4217": _range(1, 999, "currency code"),
    "iso3166": _range(1, 999, "country code"),
    "iso3166999": _range(1, 999, "country code"),
    "iso3166alpha2": lambda t: None if re.fullmatch("[A-Z]{2}", t) else f"{t!r} is not A-Z A-Z",
    "yesno": _range(0, 1, "flag"),
    "zero": lambda t: None if t == "0" else f"{t} must be 0",
    "nonzero": lambda t: None if int(t) != 0 else "must not be zero",
    "winding": lambda t: None if t in "019" else f"winding direction {t} is not 0, 1 or 9",
    "iso5218": lambda t: None if t in "0129" else f"sex code {t} is not 0, 1, 2 or 9",
    "mediatype": lambda t: (
        None if 1 <= int(t) <= 10 or 80 <= int(t) <= 99 else f"media type {t} is not assigned"
    ),
    "latitude": _range(0, 1_800_000_000, "latitude"),
    "longitude": _range(0, 3_600_000_000, "longitude"),
    "pieceoftotal": _pieces,
    "pcenc": _percent_encoding,
    "hyphen": lambda t: None if t == "-" else f"{t!r} must be '-'",
    "nozeroprefix": lambda t: None if t == "0" or not t.startswith("0") else "a leading zero",
    "hasnondigit": lambda t: None if not t.isdigit() else "only digits",
    "importeridx": lambda t: None if t in CSET82 and t not in "!\"%&'()*+,./:;<=>?" else "index",
    "posinseqslash": lambda t: (
        None
        if re.fullmatch(r"[1-9]/[1-9]", t) and t[0] <= t[2]
        else f"{t!r} is not a position in a sequence (1/2)"
    ),
}


AI_TITLES = {
    "00": "SSCC",
    "01": "GTIN",
    "10": "lot code",
    "11": "production date",
    "13": "packaging date",
    "15": "best before date",
    "17": "expiry date",
    "21": "serial number",
    "22": "consumer product variant",
    "235": "third-party serial extension",
    "254": "GLN extension",
    "414": "GLN",
    "417": "party GLN",
    "8006": "ITIP",
    "8013": "GMN",
}
"""Words for the AIs a person meets most, so that a refusal says what the value is."""


def ai_label(ai: str) -> str:
    """``(10) lot code``: an AI as a refusal names it."""
    title = AI_TITLES.get(ai)
    return f"({ai}) {title}" if title else f"({ai})"


def validate_ai_value(ai: str, value: str) -> str:
    """Check ``value`` against AI ``ai``'s format: every component's length, character set
    and linters. Returns the value; raises ``InvalidInput`` naming the AI and what is wrong."""
    spec = AI_TABLE.get(ai)
    if spec is None:
        raise InvalidInput(f"({ai}) is not a GS1 Application Identifier", ai=ai)
    rest = value
    if not value:
        raise InvalidInput(f"{ai_label(ai)} is empty", ai=ai)
    for component in spec.components:
        if not rest:
            if component.optional:
                break
            raise InvalidInput(f"{ai_label(ai)} {value!r} is too short", ai=ai)
        piece = rest[: component.max_length]
        if len(piece) < component.min_length:
            raise InvalidInput(
                f"{ai_label(ai)} {value!r} is too short: {component.min_length} "
                f"{_CHARSET_NAMES[component.charset]} expected",
                ai=ai,
            )
        wrong = next((c for c in piece if c not in _CHARSETS[component.charset]), None)
        if wrong is not None:
            raise InvalidInput(
                f"{ai_label(ai)} {value!r}: {wrong!r} is not allowed, only "
                f"{_CHARSET_NAMES[component.charset]}",
                ai=ai,
            )
        for linter in component.linters:
            problem = LINTERS[linter](piece) if linter in LINTERS else None
            if problem is not None:
                raise InvalidInput(f"{ai_label(ai)} {value!r}: {problem}", ai=ai)
        rest = rest[len(piece) :]
    if rest:
        raise InvalidInput(f"{ai_label(ai)} {value!r} is too long", ai=ai)
    return value


# --- pairing rules (General Specifications §4.14) --------------------------------------------


def _matches(pattern: str, ai: str) -> bool:
    """Whether ``ai`` matches a dictionary pattern (``n`` stands for any digit)."""
    return len(pattern) == len(ai) and all(p in ("n", c) for p, c in zip(pattern, ai, strict=True))


def _group_label(group: tuple[str, ...]) -> str:
    return " with ".join(ai_label(pattern) for pattern in group)


def check_ai_exclusions(ais: Iterable[str]) -> None:
    """General Specifications §4.14.1, invalid pairs: no AI present with one that its ``ex=``
    patterns match (an AI is not exclusive of itself even if it matches a pattern). An AI
    the dictionary does not list has no rules of its own. Raises ``InvalidInput``."""
    present = list(dict.fromkeys(ais))
    for ai in present:
        spec = AI_TABLE.get(ai)
        for pattern in spec.excludes if spec else ():
            other = next((o for o in present if o != ai and _matches(pattern, o)), None)
            if other is not None:
                raise InvalidInput(
                    f"{ai_label(ai)} may not appear together with {ai_label(other)} "
                    "(GS1 General Specifications §4.14.1, invalid pairs)",
                    ai=ai,
                    ais=[ai, other],
                )


def check_ai_requisites(ais: Iterable[str]) -> None:
    """General Specifications §4.14.2, mandatory associations: each ``req=`` attribute of
    every AI present is met by one of its groups, every AI of the group present (the AI
    itself does not count). Raises ``InvalidInput`` naming the AI and what it needs."""
    present = list(dict.fromkeys(ais))
    for ai in present:
        spec = AI_TABLE.get(ai)
        others = [o for o in present if o != ai]
        for alternatives in spec.requires if spec else ():
            if any(
                all(any(_matches(p, o) for o in others) for p in group) for group in alternatives
            ):
                continue
            needed = " or ".join(_group_label(group) for group in alternatives)
            raise InvalidInput(
                f"{ai_label(ai)} requires {needed} alongside it "
                "(GS1 General Specifications §4.14.2, mandatory associations)",
                ai=ai,
                requires=["+".join(group) for group in alternatives],
            )


def check_ai_pairings(ais: Iterable[str]) -> None:
    """Check that AIs found together (in one Digital Link: path and query) obey the GS1
    General Specifications §4.14 as the Syntax Dictionary states them: invalid pairs
    (``ex=``) first, then mandatory associations (``req=``). Raises ``InvalidInput``
    naming the AIs."""
    present = list(ais)
    check_ai_exclusions(present)
    check_ai_requisites(present)
