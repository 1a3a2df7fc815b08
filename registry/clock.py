"""The one clock constant the registry shares: the time zone its users read.

Records carry their own offsets (RFC 3339); pages, certificates and exports show times in
China Standard Time, UTC+08:00, which has had no daylight saving since 1991.
"""

from __future__ import annotations

from datetime import timedelta, timezone

CHINA_TZ = timezone(timedelta(hours=8), "CST")
"""China Standard Time (UTC+08:00), the zone shown on every page, certificate and export."""
