"""Scan counting without a database write per scan.

Each verification increments an in-process counter; a background flush (about once a
second) adds the counts to ``scan_counts`` per endorsement per hour. No IP address or viewer
identifier is ever stored. Reported totals include what has not been flushed yet.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from registry.models import ScanCount, utcnow

logger = logging.getLogger(__name__)


def _hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


class ScanCounter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: Counter[tuple[uuid.UUID, datetime]] = Counter()

    def record(self, endorsement_id: uuid.UUID, when: datetime | None = None) -> None:
        with self._lock:
            self._pending[(endorsement_id, _hour(when or utcnow()))] += 1

    def pending(self, endorsement_id: uuid.UUID) -> int:
        with self._lock:
            return sum(n for (eid, _), n in self._pending.items() if eid == endorsement_id)

    def flush(self, session: Session) -> int:
        """Move pending counts into the database (caller commits). Returns scans flushed."""
        with self._lock:
            batch, self._pending = self._pending, Counter()
        try:
            for (endorsement_id, hour), count in batch.items():
                updated = session.execute(
                    update(ScanCount)
                    .where(ScanCount.endorsement_id == endorsement_id, ScanCount.hour == hour)
                    .values(count=ScanCount.count + count)
                )
                if updated.rowcount == 0:  # type: ignore[attr-defined]
                    session.add(ScanCount(endorsement_id=endorsement_id, hour=hour, count=count))
            session.flush()
        except Exception:
            with self._lock:  # keep the counts for the next flush
                self._pending.update(batch)
            raise
        return sum(batch.values())


def total_scans(session: Session, counter: ScanCounter | None, endorsement_id: uuid.UUID) -> int:
    stored = session.scalar(
        select(func.coalesce(func.sum(ScanCount.count), 0)).where(
            ScanCount.endorsement_id == endorsement_id
        )
    )
    return int(stored or 0) + (counter.pending(endorsement_id) if counter else 0)


def scans_by_hour(session: Session, endorsement_id: uuid.UUID) -> list[tuple[datetime, int]]:
    rows = session.execute(
        select(ScanCount.hour, ScanCount.count)
        .where(ScanCount.endorsement_id == endorsement_id)
        .order_by(ScanCount.hour)
    )
    return [(hour, int(count)) for hour, count in rows]


class ScanFlusher:
    """Flushes a ScanCounter into the database about once a second, in a daemon thread."""

    def __init__(self, counter: ScanCounter, factory: Any, interval: float = 1.0) -> None:
        self.counter = counter
        self.factory = factory
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="scan-flusher", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.flush_now()

    def flush_now(self) -> None:
        try:
            with self.factory() as session, session.begin():
                self.counter.flush(session)
        except Exception:  # counts stay pending and are retried next time
            logger.warning("scan counts not flushed yet; will retry", exc_info=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.flush_now()
