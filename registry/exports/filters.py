"""The event-time filter of the exports: ``since`` and ``until``, a date or an RFC 3339
time, both ends inclusive. A bare date is a day in China Standard Time, where the records
are made (``registry.clock.CHINA_TZ``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from registry.clock import CHINA_TZ
from registry.errors import InvalidInput

FILTER_ZONE = CHINA_TZ
"""The zone of a bare date in a filter: China Standard Time (UTC+08:00)."""


@dataclass(frozen=True)
class TimeRange:
    """Event times ``since <= t < before`` (either end open)."""

    since: datetime | None = None
    before: datetime | None = None

    def __contains__(self, moment: datetime) -> bool:
        return (self.since is None or moment >= self.since) and (
            self.before is None or moment < self.before
        )


def time_range(since: str | None, until: str | None) -> TimeRange:
    """Parse filter bounds: an RFC 3339 time (with offset) or a date, both ends inclusive.

    A date means that whole day in China Standard Time (UTC+08:00)."""
    return TimeRange(_bound(since, "since", end=False), _bound(until, "until", end=True))


def _bound(text: str | None, name: str, *, end: bool) -> datetime | None:
    if text is None or not text.strip():
        return None
    text = text.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            start = datetime.combine(day, time(0), FILTER_ZONE)
            return start + timedelta(days=1) if end else start
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(
            f"{name} must be a date (2026-06-01) or a time with an offset "
            f"(2026-06-01T08:00:00+08:00), not {text!r}"
        ) from None
    if moment.tzinfo is None:
        raise InvalidInput(f"{name} needs an offset, e.g. {text}+08:00")
    return moment + timedelta(microseconds=1) if end else moment
