"""GS1 Application Identifier syntax: each AI's format (length, character set, check digit,
dates …) and its role in a GS1 Digital Link URI (primary key with its ordered key
qualifiers, or data attribute permitted in the query string).

The table below restates, in this module's own notation, the AI definitions of the GS1
General Specifications (release 26, §3.2) as the GS1 Barcode Syntax Dictionary
(https://github.com/gs1/gs1-syntax-dictionary, Apache-2.0) decomposes them into
components; it was checked against that dictionary at commit ff2eb4bf (2026-07-27). Each
row is ``AI[-AI] FLAGS SPECIFICATION [dlpkey[=QUALIFIERS]]``:

- FLAGS ``q``: the AI may be a Digital Link data attribute (``?17=281231``); ``-``: not.
- SPECIFICATION: components ``T[..]LEN[,linter…]`` with T one of N (digits), X (GS1 AI
  encodable character set 82), Y (set 39), Z (base64url); ``..LEN`` is 1 to LEN
  characters, and only the last component may vary; ``[…]`` an optional component.
- ``dlpkey``: a Digital Link primary key; ``=22,10,21|235`` its key qualifiers, in the only
  order they may appear, with ``|`` between alternative sequences (Digital Link URI
  Syntax 1.4 §4.6 and §4.7).

Linters check a component's content (§7.9 check digits, §7.12 dates …). The Global Company
Prefix position checks (``gcppos1``/``gcppos2``, which need GS1's prefix list) and the
coupon, IBAN and package-type linters are not applied: those values get their format
check only.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

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

# fmt: off
_TABLE = """
00         q  N18,csum                                  dlpkey
01         q  N14,csum                                  dlpkey=22,10,21|235
02         q  N14,csum
03         -  N14,csum
10         q  X..20
11         q  N6,yymmd0
12         q  N6,yymmd0
13         q  N6,yymmd0
15         q  N6,yymmd0
16         q  N6,yymmd0
17         q  N6,yymmd0
20         q  N2
21         -  X..20
22         -  X..20
235        -  X..28
240        q  X..30
241        q  X..30
242        q  N..6
243        q  X..20
250        q  X..30
251        q  X..30
253        q  N13,csum [X..17]                          dlpkey
254        -  X..20
255        q  N13,csum [N..12]                          dlpkey
30         q  N..8
3100-3105  q  N6
3110-3115  q  N6
3120-3125  q  N6
3130-3135  q  N6
3140-3145  q  N6
3150-3155  q  N6
3160-3165  q  N6
3200-3205  q  N6
3210-3215  q  N6
3220-3225  q  N6
3230-3235  q  N6
3240-3245  q  N6
3250-3255  q  N6
3260-3265  q  N6
3270-3275  q  N6
3280-3285  q  N6
3290-3295  q  N6
3300-3305  q  N6
3310-3315  q  N6
3320-3325  q  N6
3330-3335  q  N6
3340-3345  q  N6
3350-3355  q  N6
3360-3365  q  N6
3370-3375  q  N6
3400-3405  q  N6
3410-3415  q  N6
3420-3425  q  N6
3430-3435  q  N6
3440-3445  q  N6
3450-3455  q  N6
3460-3465  q  N6
3470-3475  q  N6
3480-3485  q  N6
3490-3495  q  N6
3500-3505  q  N6
3510-3515  q  N6
3520-3525  q  N6
3530-3535  q  N6
3540-3545  q  N6
3550-3555  q  N6
3560-3565  q  N6
3570-3575  q  N6
3600-3605  q  N6
3610-3615  q  N6
3620-3625  q  N6
3630-3635  q  N6
3640-3645  q  N6
3650-3655  q  N6
3660-3665  q  N6
3670-3675  q  N6
3680-3685  q  N6
3690-3695  q  N6
37         q  N..8
3900-3909  q  N..15
3910-3919  q  N3,iso4217 N..15
3920-3929  q  N..15
3930-3939  q  N3,iso4217 N..15
3940-3943  q  N4
3950-3955  q  N6
400        q  X..30
401        q  X..30                                     dlpkey
402        q  N17,csum                                  dlpkey
403        q  X..30
410        q  N13,csum
411        q  N13,csum
412        q  N13,csum
413        q  N13,csum
414        q  N13,csum                                  dlpkey=254|7040
415        q  N13,csum                                  dlpkey=8020
416        q  N13,csum
417        q  N13,csum                                  dlpkey=7040
420        q  X..20
421        q  N3,iso3166 X..9
422        q  N3,iso3166
423        q  N3,iso3166 [N3],iso3166 [N3],iso3166 [N3],iso3166 [N3],iso3166
424        q  N3,iso3166
425        q  N3,iso3166 [N3],iso3166 [N3],iso3166 [N3],iso3166 [N3],iso3166
426        q  N3,iso3166
427        q  X..3
4300-4301  q  X..35,pcenc
4302       q  X..70,pcenc
4303-4306  q  X..70,pcenc
4307       q  X2,iso3166alpha2
4308       q  X..30
4309       q  N10,latitude N10,longitude
4310-4311  q  X..35,pcenc
4312-4316  q  X..70,pcenc
4317       q  X2,iso3166alpha2
4318       q  X..20
4319       q  X..30
4320       q  X..35,pcenc
4321-4323  q  N1,yesno
4324-4325  q  N6,yymmd0 N4,hhmi
4326       q  N6,yymmdd
4330-4333  q  N6 [X1],hyphen
7001       q  N13
7002       q  X..30
7003       q  N6,yymmdd N4,hhmi
7004       q  N..4
7005       q  X..12
7006       q  N6,yymmdd
7007       q  N6,yymmdd [N6],yymmdd
7008       q  X..3
7009       q  X..10
7010       q  X..2
7011       q  N6,yymmdd [N4],hhmi
7020-7022  q  X..20
7023       q  X..30
7030-7039  q  N3,iso3166999 X..27
7040       -  N1 X1 X1 X1,importeridx
7041       -  X..4
710-717    q  X..20
7230-7239  q  X2 X..28
7240       q  X..20
7241       q  N2,mediatype
7242       q  X..25
7250       q  N8,yyyymmdd
7251       q  N8,yyyymmdd N4,hhmi
7252       q  N1,iso5218
7253-7254  q  X..40,pcenc
7255       q  X..10
7256       q  X..90,pcenc
7257       q  X..70,pcenc
7258       q  X3,posinseqslash
7259       q  X..40,pcenc
8001       q  N4,nonzero N5,nonzero N3,nonzero N1,winding N1
8002       q  X..20
8003       q  N1,zero N13,csum [X..16]                  dlpkey
8004       q  X..30                                     dlpkey=7040
8005       q  N6
8006       q  N14,csum N4,pieceoftotal                  dlpkey=22,10,21
8007       q  X..34
8008       q  N6,yymmdd N2,hh [N2],mi [N2],ss
8009       q  X..50
8010       q  Y..30                                     dlpkey=8011
8011       -  N..12,nozeroprefix
8012       q  X..20
8013       q  X..25,csumalpha                           dlpkey
8014       -  X..25,csumalpha,hasnondigit
8017       q  N18,csum                                  dlpkey=8019
8018       q  N18,csum                                  dlpkey=8019
8019       -  N..10
8020       -  X..25
8026       q  N14,csum N4,pieceoftotal
8030       q  Z..90
8040-8041  -  N15
8042       -  N32
8043       -  N18 [N..2]
8110       q  X..70
8111       q  N4
8112       q  X..70
8200       -  X..70
90         q  X..30
91-99      q  X..90
"""
# fmt: on


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
    """An Application Identifier: its data field's components and its Digital Link roles."""

    ai: str
    components: tuple[Component, ...]
    data_attribute: bool
    primary_key: bool
    qualifier_paths: tuple[tuple[str, ...], ...]  # alternative ordered qualifier sequences

    @property
    def qualifiers(self) -> frozenset[str]:
        """Every AI that may qualify this primary key in a Digital Link path."""
        return frozenset(ai for path in self.qualifier_paths for ai in path)


_COMPONENT = re.compile(r"^(\[)?([NXYZ])(\.\.)?(\d+)(\])?((?:,[a-z0-9]+)*)$")


def _component(text: str) -> Component:
    match = _COMPONENT.match(text)
    if match is None:  # pragma: no cover - the table is fixed and tested
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


def _parse_table(table: str) -> dict[str, AiSpec]:
    specs: dict[str, AiSpec] = {}
    for line in table.strip().splitlines():
        ais, flags, *rest = line.split()
        key = next((part for part in rest if part.startswith("dlpkey")), None)
        components = tuple(_component(part) for part in rest if not part.startswith("dlpkey"))
        paths: tuple[tuple[str, ...], ...] = ()
        if key is not None and "=" in key:
            paths = tuple(tuple(alt.split(",")) for alt in key.split("=", 1)[1].split("|"))
        first, _, last = ais.partition("-")
        width = len(first)
        for number in range(int(first), int(last or first) + 1):
            ai = str(number).zfill(width)
            specs[ai] = AiSpec(ai, components, flags == "q", key is not None, paths)
    return specs


AI_TABLE: dict[str, AiSpec] = _parse_table(_TABLE)
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
