"""What an EPCIS export is given: batches, organizations and logged records, as plain data.

The database side (``registry.exports.loading``) builds these; the mapping in ``export``
and ``event_bodies`` never sees a session.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any


@dataclass(frozen=True)
class BatchInfo:
    """A batch as the export names it: its class identifier and master data (EPCIS 2.0.1
    §7.5, CBV 2.0 §10)."""

    ref: str  # "<product id>:<lot>", as records name it
    product_id: uuid.UUID
    lot: str
    code: str
    unit: str
    gtin: str | None
    product_zh: str
    product_en: str
    best_before: date | None = None


@dataclass(frozen=True)
class OrgInfo:
    """An organization as the export locates it: ``bizLocation`` and location master data."""

    id: uuid.UUID
    name_zh: str
    name_en: str
    region: str
    gln: str | None = None


@dataclass(frozen=True)
class LoggedRecord:
    """A signed record as logged: its payload (decoded) and where it sits in the log."""

    log_index: int
    digest: str
    logged_at: datetime
    kind: str
    document: dict[str, Any]
    org: OrgInfo | None
