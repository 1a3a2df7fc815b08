"""Field types of the record format (v1): the constrained strings records are made of.

Decimals are strings (docs/records.md, "Bytes that get signed"): at most 15 integer digits
and 6 decimals, so they survive RFC 8785 canonicalization unchanged; times are RFC 3339 with
an offset; a batch reference is ``"<product id>:<lot>"`` with a lowercase UUID and a GS1
lot (AI 10).

Two rules keep what a record says storable and believable everywhere (docs/records.md,
"Field types"): text holds no control characters but tab, line feed and carriage return
(PostgreSQL cannot store NUL in text, and the others only hide what a page shows); dates and
times lie within the years ``YEAR_MIN``..``YEAR_MAX``.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints

from registry.errors import InvalidInput
from registry.gs1 import validate_lot

_DECIMAL_RE = re.compile(r"^-?(0|[1-9][0-9]{0,14})(\.[0-9]{1,6})?$")
_TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$")
_DIGEST_RE = re.compile(r"^[0-9a-f]{64}$")
# What str(uuid.UUID(x)) gives back: lowercase hex, hyphenated 8-4-4-4-12.
_LOWERCASE_UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# C0 controls but tab, LF and CR, and DEL: nothing a person writes, NUL unstorable in PostgreSQL.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

YEAR_MIN = 1900
"""The earliest year a record's date or time may name (nothing farmed was recorded before)."""
YEAR_MAX = 2200
"""The latest year a record's date or time may name (best-before dates reach years ahead)."""


def control_character(value: str) -> str | None:
    """The first character of ``value`` that text may not hold, as ``U+XXXX``, or None.

    Refused: the C0 controls (U+0000..U+001F) except tab, line feed and carriage return,
    and DEL (U+007F)."""
    found = _CONTROL_RE.search(value)
    return f"U+{ord(found.group()):04X}" if found else None


def check_text(value: str, field: str) -> str:
    """``value`` if it holds no control character (``control_character``); ``InvalidInput``
    naming ``field`` otherwise. For names and text that are not record fields (products,
    organizations, accounts)."""
    found = control_character(value)
    if found is not None:
        raise InvalidInput(f"{field} contains the control character {found}", field=field)
    return value


def _plain_text(value: str) -> str:
    found = control_character(value)
    if found is not None:
        raise ValueError(f"contains the control character {found}")
    return value


def _in_window(year: int) -> None:
    if not YEAR_MIN <= year <= YEAR_MAX:
        raise ValueError(f"the year must be within {YEAR_MIN}..{YEAR_MAX}")


def _decimal(value: str) -> str:
    if not _DECIMAL_RE.match(value):
        raise ValueError("must be a decimal string like '12.5' (at most 15 digits, 6 decimals)")
    return value


def _positive(value: str) -> str:
    if Decimal(value) <= 0:
        raise ValueError("must be greater than zero")
    return value


def _timestamp(value: str) -> str:
    if not _TIME_RE.match(value):
        raise ValueError("must be an RFC 3339 time with an offset, e.g. 2026-09-20T08:00:00+08:00")
    _in_window(datetime.fromisoformat(value).year)  # rejects 2026-02-30 and the like
    return value


def _date(value: str) -> str:
    parsed = date.fromisoformat(value)
    if len(value) != 10:
        raise ValueError("must be a date YYYY-MM-DD")
    _in_window(parsed.year)
    return value


def _batch_ref(value: str) -> str:
    product, sep, lot = value.partition(":")
    if not sep:
        raise ValueError("must be '<product id>:<lot>'")
    if not _LOWERCASE_UUID_RE.fullmatch(product):
        raise ValueError("product id must be a lowercase UUID")
    try:
        validate_lot(lot)
    except InvalidInput as exc:  # so the schema's error names the field it is in
        raise ValueError(exc.detail) from None
    return value


def is_batch_ref(value: object) -> bool:
    """Whether ``value`` is a well-formed batch reference ``"<product id>:<lot>"``."""
    if not isinstance(value, str):
        return False
    try:
        _batch_ref(value)
    except ValueError:
        return False
    return True


def latitude(value: str) -> str:
    """Validate a WGS 84 latitude given as a decimal string."""
    if not -90 <= Decimal(_decimal(value)) <= 90:
        raise ValueError("latitude must be within -90..90")
    return value


def longitude(value: str) -> str:
    """Validate a WGS 84 longitude given as a decimal string."""
    if not -180 <= Decimal(_decimal(value)) <= 180:
        raise ValueError("longitude must be within -180..180")
    return value


Text = Annotated[str, StringConstraints(min_length=1, max_length=500), AfterValidator(_plain_text)]
"""Free text, 1 to 500 characters, no control characters but tab, LF and CR."""
ShortText = Annotated[
    str, StringConstraints(min_length=1, max_length=100), AfterValidator(_plain_text)
]
"""A name or number, 1 to 100 characters, no control characters but tab, LF and CR."""
DecimalStr = Annotated[str, AfterValidator(_decimal)]
"""A decimal string: at most 15 integer digits and 6 decimals."""
Quantity = Annotated[str, AfterValidator(_decimal), AfterValidator(_positive)]
"""A decimal string greater than zero."""
Measure = Annotated[str, AfterValidator(_decimal)]
"""A measured value or limit, as a decimal string."""
Timestamp = Annotated[str, AfterValidator(_timestamp)]
"""An RFC 3339 date-time with an offset (RFC 3339 §5.6), in the years 1900..2200."""
DateStr = Annotated[str, AfterValidator(_date)]
"""A calendar date ``YYYY-MM-DD``, in the years 1900..2200."""
BatchRef = Annotated[str, AfterValidator(_batch_ref)]
"""A batch reference ``"<lowercase product UUID>:<GS1 lot>"``."""
Digest = Annotated[str, StringConstraints(pattern=_DIGEST_RE.pattern)]
"""A lowercase hex SHA-256 digest (of a record payload)."""
KeyId = Digest
"""A key id: lowercase hex SHA-256 of the raw public key (docs/records.md)."""
RegionCode = Annotated[str, StringConstraints(pattern=r"^[1-8][0-9]{5}$")]
"""A GB/T 2260 six-digit administrative region code."""
Uuid = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"),
]
"""A lowercase hyphenated UUID, as ``str(uuid.UUID(...))`` writes it."""
Unit = Annotated[str, StringConstraints(min_length=1, max_length=16), AfterValidator(_plain_text)]
"""A unit of measure (kg, box, ...), 1 to 16 characters."""


Phone = Annotated[str, StringConstraints(pattern=r"^\+?[0-9][0-9 ()-]{4,22}[0-9]$")]
"""A telephone number as printed: digits, spaces, hyphens, parentheses, a leading ``+``
(``0476-4321234``, ``+86 138 0000 0000``), 6 to 24 characters."""


class StrictModel(BaseModel):
    """Base of every record part: unknown fields refused, no coercion, immutable."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
