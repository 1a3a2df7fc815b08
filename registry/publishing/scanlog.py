"""Scans counted from the web server's log: the published pages never reach Python.

deploy/nginx.conf writes one line per consumer-page request it answers, in the format
``registry_scans``::

    <unix time with ms> <status> <method> <request URI>

(no address, no user agent: nothing about the viewer). The publisher's leader reads the new
lines about once a second and counts each ``GET`` answered 200 or 304 as a scan of its code in
the process's ``ScanCounter``, which the worker's flusher adds to ``scan_counts`` like the
dynamic path's scans; the overlay's live count reads those.

Accuracy: every page view nginx answers is counted once, within about two seconds (nginx's
log buffer flushes each second, then one read and one flush), a page reloaded counts again
(as on the dynamic path), the page's own fetch of the document does not count. The read
position is kept in ``scanlog.pos`` next to the publisher's state after each read; a crash
between a read and the counter's flush loses at most that second's counts, and a restart
never counts a line twice. A rotated log (a new inode) is read from its start; a truncated one
from the new end. Views a CDN answers from its cache never reach nginx: count them from the
CDN's logs the same way (docs/scaling.md).
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from registry.codes import normalize_code
from registry.endorsements.scans import ScanCounter
from registry.errors import InvalidInput
from registry.models import Endorsement
from registry.publishing.targets import atomic_write

logger = logging.getLogger(__name__)

MAX_READ = 16 * 1024 * 1024
"""Bytes read per call at most (a backlog is worked through over several calls)."""


def parse_scan_line(line: str) -> tuple[float, str] | None:
    """``(unix time, code)`` of a counted scan line, or None (another status, method, path)."""
    parts = line.split()
    if len(parts) != 4:
        return None
    moment, status, method, uri = parts
    if method != "GET" or status not in ("200", "304"):
        return None
    pieces = uri.split("?", 1)[0].split("/")
    if pieces[:2] == ["", "e"] or pieces[:2] == ["", "E"]:
        code = pieces[2] if len(pieces) == 3 else ""
    elif pieces[:4] == ["", "api", "v1", "verify"] and len(pieces) == 5:
        code = pieces[4]
    else:
        return None
    try:
        return float(moment), normalize_code(code)
    except (ValueError, InvalidInput):
        return None


class ScanLogReader:
    """Counts the scans of the web server's scan log into a ScanCounter."""

    def __init__(
        self,
        path: Path,
        counter: ScanCounter,
        factory: sessionmaker[Session],
        position_file: Path | None = None,
    ) -> None:
        self.path = Path(path)
        self.counter = counter
        self.factory = factory
        self.position_file = position_file or self.path.with_name(self.path.name + ".pos")
        self._ids: dict[str, uuid.UUID | None] = {}
        self.inode, self.offset = self._load_position()
        self.counted = 0

    def _load_position(self) -> tuple[int, int]:
        try:
            raw = json.loads(self.position_file.read_text())
            return int(raw["inode"]), int(raw["offset"])
        except (OSError, ValueError, KeyError, TypeError):
            try:  # first start: count from now, not the log's whole past
                stat = self.path.stat()
                return stat.st_ino, stat.st_size
            except OSError:
                return 0, 0

    def read(self) -> int:
        """Count the complete lines written since the last read; returns scans counted."""
        try:
            stat = self.path.stat()
        except OSError:
            return 0
        if stat.st_ino != self.inode:  # rotated: the new file from its start
            self.inode, self.offset = stat.st_ino, 0
        elif stat.st_size < self.offset:  # truncated in place
            self.offset = stat.st_size
        if stat.st_size == self.offset:
            return 0
        with self.path.open("rb") as log:
            log.seek(self.offset)
            chunk = log.read(MAX_READ)
        end = chunk.rfind(b"\n")
        if end < 0:
            return 0  # a line still being written
        chunk = chunk[: end + 1]
        scans = [
            s for s in map(parse_scan_line, chunk.decode("utf-8", "replace").splitlines()) if s
        ]
        counted = 0
        for moment, code in scans:
            endorsement_id = self._id(code)
            if endorsement_id is not None:
                self.counter.record(endorsement_id, datetime.fromtimestamp(moment, UTC))
                counted += 1
        self.offset += len(chunk)
        atomic_write(
            self.position_file, json.dumps({"inode": self.inode, "offset": self.offset}).encode()
        )
        self.counted += counted
        return counted

    def _id(self, code: str) -> uuid.UUID | None:
        if code not in self._ids:
            with self.factory() as session:
                self._ids[code] = session.scalar(
                    select(Endorsement.id).where(Endorsement.code == code)
                )
            if len(self._ids) > 100_000:
                self._ids.clear()
        return self._ids[code]


__all__ = ["ScanLogReader", "parse_scan_line"]
