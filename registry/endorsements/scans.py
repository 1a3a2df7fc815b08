"""Scan counting without a database write per scan.

Each verification increments an in-process counter; a background flush (about once a
second) adds the counts to ``scan_counts`` per endorsement per hour. No IP address or viewer
identifier is ever stored. Reported totals include what has not been flushed yet.

A total is the stored sum plus this process's pending counts. A flush keeps its counts
pending until its transaction has committed, and it commits and drops them while holding
``ScanCounter.settling``, which a reader holds across its two reads, so a scan is never
missed or counted twice while a flush is under way.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Collection
from datetime import datetime

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from registry.background import WokenThread
from registry.models import ScanCount, utcnow

logger = logging.getLogger(__name__)


def _hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


class ScanCounter:
    """Scans counted in memory per endorsement and hour until a flush adds them to the
    ``scan_counts`` table."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # guards _pending; held for microseconds
        self._pending: Counter[tuple[uuid.UUID, datetime]] = Counter()
        # Held by a flush across its commit and the removal of what it committed, and by a
        # reader across its stored and pending reads: the two always agree.
        self.settling = threading.Lock()
        self._flushing = threading.Lock()  # one flush at a time, or a batch is added twice

    def record(self, endorsement_id: uuid.UUID, when: datetime | None = None) -> None:
        """Count one scan of ``endorsement_id`` in the hour of ``when`` (now by default)."""
        with self._lock:
            self._pending[(endorsement_id, _hour(when or utcnow()))] += 1

    def pending(self, endorsement_id: uuid.UUID) -> int:
        """The scans of ``endorsement_id`` counted but not yet flushed."""
        return sum(self.pending_by_hour(endorsement_id).values())

    def pending_by_hour(self, endorsement_id: uuid.UUID) -> Counter[datetime]:
        """The unflushed scans of ``endorsement_id``, by hour."""
        with self._lock:
            return Counter(
                {hour: n for (eid, hour), n in self._pending.items() if eid == endorsement_id}
            )

    def flush(self, factory: Callable[[], Session]) -> int:
        """Add the pending counts to the database in one transaction; returns scans flushed.

        The counts stay pending (and in every total) until the commit has succeeded; if
        anything fails they stay for the next flush. Scans recorded meanwhile are kept."""
        with self._flushing:
            return self._flush(factory)

    def _flush(self, factory: Callable[[], Session]) -> int:
        with self._lock:
            batch = +self._pending
        if not batch:
            return 0
        with factory() as session:
            for (endorsement_id, hour), count in batch.items():
                updated = session.execute(
                    update(ScanCount)
                    .where(ScanCount.endorsement_id == endorsement_id, ScanCount.hour == hour)
                    .values(count=ScanCount.count + count)
                )
                if updated.rowcount == 0:  # type: ignore[attr-defined]
                    session.execute(
                        insert(ScanCount).values(
                            endorsement_id=endorsement_id, hour=hour, count=count
                        )
                    )
            # Commit (which never waits for a reader) and settle in one step.
            with self.settling:
                session.commit()
                with self._lock:
                    self._pending.subtract(batch)
                    self._pending = +self._pending  # drop what reached zero
        return sum(batch.values())


def total_scans(session: Session, counter: ScanCounter | None, endorsement_id: uuid.UUID) -> int:
    """Stored plus pending scans. The stored sum must be read in a fresh statement snapshot
    (PostgreSQL's READ COMMITTED does this; on SQLite, a read-only request's transaction
    takes its snapshot at its first read, so a flush committed between that read and this
    one is not seen: an undercount of at most one flush, for that request only)."""

    def stored() -> int:
        return int(
            session.scalar(
                select(func.coalesce(func.sum(ScanCount.count), 0)).where(
                    ScanCount.endorsement_id == endorsement_id
                )
            )
            or 0
        )

    if counter is None:
        return stored()
    with counter.settling:
        return stored() + counter.pending(endorsement_id)


def totals_of(
    session: Session, counter: ScanCounter | None, endorsement_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, int]:
    """``total_scans`` of each of ``endorsement_ids`` in one grouped query (read alike)."""
    ids = list(endorsement_ids)
    if not ids:
        return {}

    def stored() -> dict[uuid.UUID, int]:
        rows = session.execute(
            select(ScanCount.endorsement_id, func.sum(ScanCount.count))
            .where(ScanCount.endorsement_id.in_(ids))
            .group_by(ScanCount.endorsement_id)
        )
        found = {endorsement_id: int(total or 0) for endorsement_id, total in rows}
        return {endorsement_id: found.get(endorsement_id, 0) for endorsement_id in ids}

    if counter is None:
        return stored()
    with counter.settling:
        totals = stored()
        return {eid: total + counter.pending(eid) for eid, total in totals.items()}


def scans_by_hour(
    session: Session, counter: ScanCounter | None, endorsement_id: uuid.UUID
) -> list[tuple[datetime, int]]:
    """Scans per hour, oldest first, pending ones included (read like ``total_scans``)."""

    def stored() -> Counter[datetime]:
        rows = session.execute(
            select(ScanCount.hour, ScanCount.count).where(
                ScanCount.endorsement_id == endorsement_id
            )
        )
        return Counter({hour: int(count) for hour, count in rows})

    if counter is None:
        hours = stored()
    else:
        with counter.settling:
            hours = stored() + counter.pending_by_hour(endorsement_id)
    return sorted(hours.items())


class ScanFlusher:
    """Flushes a ScanCounter into the database about once a second, in a daemon thread."""

    def __init__(
        self, counter: ScanCounter, factory: Callable[[], Session], interval: float = 1.0
    ) -> None:
        self.counter = counter
        self.factory = factory
        self.interval = interval
        self._thread = WokenThread(
            "scan-flusher",
            lambda: self.counter.flush(self.factory),
            interval,
            log=logger,
            failure="scan counts not flushed yet; will retry",  # they stay pending
        )

    def start(self) -> None:
        """Start the background thread that flushes every ``interval`` seconds."""
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread, then flush what is still pending."""
        self._thread.stop()
        self.flush_now()

    def flush_now(self) -> None:
        """Flush now; on failure the counts stay pending and a warning is logged."""
        self._thread.step_now()
