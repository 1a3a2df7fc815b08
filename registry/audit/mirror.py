"""The auditor's local state: mirrored entries, pinned key, last verified checkpoint.

One SQLite file in the state directory (docs/audit.md, "The state directory"): ``entries``
holds the contiguous prefix ``[0, n)`` of the log as served (exact leaf bytes, envelope
JSON), ``meta`` the pinned log key, the registry URL and the last checkpoint verified
(C2SP tlog-checkpoint size and RFC 6962 root hash).
"""

from __future__ import annotations

import base64
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path

from registry.audit.failures import AuditError

STATE_FILE = "audit.sqlite3"
"""The SQLite file in the state directory (docs/audit.md, "The state directory")."""

MirrorRow = tuple[int, bytes, bytes | None]
"""One mirrored entry: log index, leaf bytes, served envelope JSON (``None`` if withheld)."""


class Mirror:
    """The auditor's SQLite file: mirrored entries and what it has verified so far."""

    def __init__(self, directory: Path) -> None:
        try:
            directory.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(directory / STATE_FILE)
            self._db.executescript(
                """
                CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                CREATE TABLE IF NOT EXISTS entries (
                    idx INTEGER PRIMARY KEY, leaf BLOB NOT NULL, envelope BLOB
                );
                """
            )
        except (OSError, sqlite3.Error) as exc:
            raise AuditError(f"cannot use state directory {directory}: {exc}") from None

    def __enter__(self) -> Mirror:
        return self

    def __exit__(self, *exc: object) -> None:
        self._db.close()

    def get(self, key: str) -> str | None:
        """The ``meta`` value of ``key`` (``vkey``, ``url``, ``checkpoint_*``), if set."""
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def put(self, values: dict[str, str]) -> None:
        """Set ``meta`` values, in one transaction."""
        with self._db:
            self._db.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                values.items(),
            )

    def verified(self) -> tuple[int, bytes] | None:
        """Size and root of the last checkpoint this state verified, if any."""
        size, root = self.get("checkpoint_size"), self.get("checkpoint_root")
        if size is None or root is None:
            return None
        return int(size), base64.b64decode(root)

    def size(self) -> int:
        """Mirrored entries: always the contiguous prefix ``[0, size)``."""
        (count,) = self._db.execute("SELECT COUNT(*) FROM entries").fetchone()
        return int(count)

    def append(self, rows: Sequence[MirrorRow]) -> None:
        """Store the next served entries, in one transaction."""
        with self._db:
            self._db.executemany("INSERT INTO entries VALUES (?, ?, ?)", rows)

    def truncate(self, size: int) -> None:
        """Forget the entries from index ``size`` on (they are fetched again next run)."""
        with self._db:
            self._db.execute("DELETE FROM entries WHERE idx >= ?", (size,))

    def leaves(self, end: int) -> Iterator[tuple[int, bytes]]:
        """Index and leaf of each entry in ``[0, end)``, in log order."""
        yield from self._db.execute(
            "SELECT idx, leaf FROM entries WHERE idx < ? ORDER BY idx", (end,)
        )

    def rows(self, start: int, end: int) -> Iterator[MirrorRow]:
        """The mirrored entries ``[start, end)``, in log order."""
        yield from self._db.execute(
            "SELECT idx, leaf, envelope FROM entries WHERE idx >= ? AND idx < ? ORDER BY idx",
            (start, end),
        )
