"""Numbers and times between registry records (RFC 3339, decimal strings) and EPCIS 2.0.

EPCIS 2.0 JSON writes quantities and sensor values as JSON numbers and times as
``eventTime`` plus ``eventTimeZoneOffset``; records (docs/records.md, "Common fields") keep
decimal strings and RFC 3339 times with their own offsets.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation


def number(text: str) -> int | float:
    """A decimal string as a JSON number (the schema's ``decimal`` is a number). Integers
    stay exact; a fraction becomes the nearest double, exact for up to 15 significant
    digits."""
    value = Decimal(text)
    if value == value.to_integral_value() and abs(value) < 2**53:
        return int(value)
    return float(value)


def decimal_text(value: object) -> str:
    """A JSON number (or numeric string) as a registry decimal string."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError("must be a number")
    try:
        parsed = Decimal(repr(value) if isinstance(value, float) else str(value))
    except InvalidOperation:
        raise ValueError("must be a number") from None
    if not parsed.is_finite():
        raise ValueError("must be a finite number")
    text = format(parsed, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def offset_of(timestamp: str) -> str:
    """``eventTimeZoneOffset`` of an RFC 3339 time: ``+08:00`` (``Z`` is ``+00:00``)."""
    moment = datetime.fromisoformat(timestamp)
    delta = moment.utcoffset() or timedelta(0)
    minutes = int(delta.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    minutes = abs(minutes)
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def utc_text(moment: datetime) -> str:
    """A moment in UTC to the millisecond with a ``Z``, as ``recordTime`` and
    ``creationDate`` are written."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def record_time(event_time: str, offset: str | None) -> str:
    """The record's time: ``eventTime`` shown in ``eventTimeZoneOffset`` (both EPCIS
    fields), to the microsecond at most, with its offset (RFC 3339)."""
    moment = datetime.fromisoformat(event_time.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError("eventTime needs an offset")
    if offset:
        sign = -1 if offset.startswith("-") else 1
        hours, _, minutes = offset[1:].partition(":")
        zone = timezone(sign * timedelta(hours=int(hours), minutes=int(minutes or 0)))
        moment = moment.astimezone(zone)
    spec = "microseconds" if moment.microsecond else "seconds"
    return moment.isoformat(timespec=spec).replace("+00:00", "Z")


def local_date(timestamp: str) -> date:
    """The calendar date of a record time, as written (its own offset)."""
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).date()
