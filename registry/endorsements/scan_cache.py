"""The scan path's cache: verification documents prepared once, served from memory.

When an official's livestream shows the QR code, hundreds of thousands of viewers scan within
seconds, almost all of them the same code. Building an endorsement's verification document
(records, inclusion proofs, keys, lineage) takes tens of milliseconds and dozens of queries;
serving prepared bytes from memory runs at the web framework's own limit
(an ORM read and a pydantic response per request measured about 6x slower). So each worker
process keeps, per endorsement code, a ``ScanEntry``: the document, its serialized JSON (and
gzip) per status, and whatever rendered HTML the pages add, with an ETag each.

The status is the only part that moves with the clock (``registry.status.endorsement_status``
from the validity window and the revoked/recalled flags): it is computed per request, with no
database round trip, and picks the prepared bytes of that status.

Everything else that changes what a viewer must see is a new log record (a revocation, a
recall, a key revocation or rotation, a correction), so one ``ScanWatcher`` thread per process
polls the log size about twice a second (one primary-key read of ``log_state``); when the log
grew, one more query names the kinds of the new records. A status-relevant kind drops every
entry (simple and safe: rebuilding the few hot codes costs milliseconds); a new endorsement
drops the remembered unknown codes. Other growth (another step of some batch) leaves entries
valid; an entry that is read and older than ``refresh_seconds`` is rebuilt in the watcher
thread so that new steps and a newer checkpoint show within a minute, while viewers keep
getting the previous bytes.

A change therefore reaches this process within ``poll_seconds`` (plus a build); with an HTTP
``max-age`` of one second for CDNs and browsers, every viewer sees it within 2 s.

The cache is trusted only while its watcher is alive: when the last successful poll is older
than ``trust_seconds`` (database unreachable, watcher not started), lookups miss and every
request builds from the database, so a stale entry cannot outlive a broken watcher.

Builds are single-flight per code (a burst of the same new code builds once) and generation
checked: a build that started before an invalidation is returned to its caller but not kept.
Unknown codes are remembered for ``missing_seconds`` (bounded), so a flood of well-formed
bogus codes costs one query each per period, not one per request.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session, sessionmaker

from registry.background import WokenThread
from registry.context import RegistryContext
from registry.endorsements import published as published_endorsements
from registry.endorsements.verify import build_document
from registry.errors import NotFound
from registry.models import CheckpointCosignature, LogState, Record
from registry.records.schema import Kind
from registry.status import Status, endorsement_status
from registry.transparency import witnessing
from registry.transparency.log import LOG_STATE_ID

logger = logging.getLogger(__name__)

INVALIDATING_KINDS = frozenset(
    {
        Kind.RECALL.value,
        Kind.CORRECTION.value,
        Kind.KEY_REVOCATION.value,
        Kind.KEY_ROTATION.value,
        Kind.ENDORSEMENT_REVOCATION.value,
        Kind.LOG_RENAME.value,  # every cached document names the log
        Kind.WITNESS_POLICY.value,  # and carries the witness policy
    }
)
"""Record kinds whose arrival can change a cached document's status or signatures' meaning."""
NEW_CODE_KINDS = frozenset({Kind.ENDORSEMENT.value})
"""Record kinds whose arrival makes a remembered unknown code known."""

POLL_SECONDS = 0.5
"""Seconds between two polls of the log by the watcher."""
REFRESH_SECONDS = 60.0
"""Age after which an entry that was read is rebuilt in the background."""
TRUST_SECONDS = 5.0
"""How old the last successful poll may be for the cache to be served from."""
MISSING_SECONDS = 30.0
"""How long an unknown code is remembered as unknown."""
GZIP_LEVEL = 6
"""The gzip level of prepared responses."""
WEIGHT_FACTOR = 8
"""A document's Python objects, its JSON, gzip and a few rendered pages, over its JSON size."""


@dataclass(frozen=True)
class Encoded:
    """Prepared response bytes: identity and gzip, and one (weak) ETag for both.

    Weak, because the two encodings are the same representation (RFC 9110 §8.8.1): a client
    or CDN revalidating either gets a 304 with ``If-None-Match`` (weak comparison, §13.1.2).
    """

    body: bytes
    gzipped: bytes
    etag: str

    @classmethod
    def of(cls, body: bytes) -> Encoded:
        """Prepare ``body``: gzip it (deterministically, mtime 0) and tag it with its SHA-256."""
        tag = hashlib.sha256(body).hexdigest()[:32]
        return cls(body, gzip.compress(body, GZIP_LEVEL, mtime=0), f'W/"{tag}"')

    def matches(self, if_none_match: str) -> bool:
        """``If-None-Match`` (weak comparison): ``*`` or any listed tag equal to ours."""
        if not if_none_match:
            return False
        if if_none_match.strip() == "*":
            return True
        ours = self.etag.removeprefix("W/")
        return any(t.strip().removeprefix("W/") == ours for t in if_none_match.split(","))


@dataclass(eq=False)
class ScanEntry:
    """One endorsement's prepared verification document (``GET /api/v1/verify/{code}``)."""

    code: str
    endorsement_id: uuid.UUID
    document: dict[str, Any]
    valid_from: datetime
    valid_until: datetime
    revoked: bool
    recalled: bool
    tree_size: int  # the checkpoint the document's proofs are against
    cosigned: bool  # whether that checkpoint's note carries cosignatures
    built_at: float  # time.monotonic()
    generation: int
    weight: int = 0
    used: bool = False  # read since it was built (only read entries are refreshed)
    # the document as JSON, by status value
    json: dict[str, Encoded] = field(default_factory=dict)
    # rendered pages by whatever key their renderer chooses (status, language, ...)
    html: dict[Any, Encoded] = field(default_factory=dict)
    # held while rendering into ``html``: a burst of viewers renders each page once
    render_lock: threading.Lock = field(default_factory=threading.Lock)

    def status(self, now: datetime) -> Status:
        """The endorsement's status at ``now`` (``registry.status.endorsement_status``)."""
        return endorsement_status(
            now, self.valid_from, self.valid_until, revoked=self.revoked, recalled=self.recalled
        )

    def document_json(self, status: Status) -> Encoded:
        """The document with ``status`` as JSON (orjson), serialized once per status."""
        found = self.json.get(status.value)
        if found is None:
            found = Encoded.of(orjson.dumps({**self.document, "status": status.value}))
            self.json[status.value] = found  # a racing duplicate is identical: harmless
        return found


def build_entry(
    session: Session, ctx: RegistryContext, code: str, generation: int = 0
) -> ScanEntry:
    """Build the entry of endorsement ``code`` (normalized); NotFound if there is none."""
    endorsement = published_endorsements.get_endorsement(session, code)
    now = ctx.clock()
    document = build_document(session, ctx, endorsement, now)
    entry = ScanEntry(
        code=endorsement.code,
        endorsement_id=endorsement.id,
        document=document,
        valid_from=endorsement.valid_from,
        valid_until=endorsement.valid_until,
        revoked=document["revocation"] is not None,
        recalled=document["recall"] is not None,
        tree_size=int(document["checkpoint"]["size"]),
        cosigned=bool(witnessing.cosignature_lines(session, int(document["checkpoint"]["size"]))),
        built_at=time.monotonic(),
        generation=generation,
    )
    # Serialize the status of now while still off the event loop: the first viewer of a
    # code then gets prepared bytes too.
    encoded = entry.document_json(entry.status(now))
    entry.weight = WEIGHT_FACTOR * len(encoded.body)
    return entry


class ScanCache:
    """Scan entries by code for one process: LRU, bounded by count and by estimated bytes.

    ``lookup`` is the hot path (no I/O, safe on an event loop); ``load`` builds on a miss
    (blocking: call it from a worker thread). ``factory`` gives sessions for builds and for
    the watcher (read-only work); ``context`` returns the registry context (it exists only
    once the app has started).
    """

    def __init__(
        self,
        factory: sessionmaker[Session],
        context: Callable[[], RegistryContext],
        *,
        max_entries: int = 1024,
        max_bytes: int = 64 * 1024 * 1024,
        max_missing: int = 10_000,
        poll_seconds: float = POLL_SECONDS,
        refresh_seconds: float = REFRESH_SECONDS,
        trust_seconds: float = TRUST_SECONDS,
        missing_seconds: float = MISSING_SECONDS,
    ) -> None:
        self.factory = factory
        self.context = context
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.max_missing = max_missing
        self.poll_seconds = poll_seconds
        self.refresh_seconds = refresh_seconds
        self.trust_seconds = trust_seconds
        self.missing_seconds = missing_seconds
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, ScanEntry] = OrderedDict()
        self._bytes = 0
        self._missing: OrderedDict[str, float] = OrderedDict()  # code -> expiry (monotonic)
        self._build_locks = [threading.Lock() for _ in range(64)]
        self._poll_lock = threading.Lock()
        self.generation = 0
        self.seen_size = -1  # the log size the watcher last saw; -1 before its first poll
        self.seen_cosigned = -1  # the newest cosigned checkpoint size it saw
        self.last_poll = float("-inf")  # time.monotonic() of the last successful poll
        self._watcher: ScanWatcher | None = None
        # counters, for tests and metrics
        self.builds = 0
        self.invalidations = 0
        self.polls = 0

    # --- the hot path ---------------------------------------------------------------------

    def trusted(self) -> bool:
        """Whether the last successful poll is recent enough for lookups to be served."""
        return time.monotonic() - self.last_poll <= self.trust_seconds

    def lookup(self, code: str) -> ScanEntry | None:
        """The entry of ``code`` (exactly as given) if cached and trustworthy; no I/O."""
        if not self.trusted():
            return None
        with self._lock:
            entry = self._entries.get(code)
            if entry is not None:
                self._entries.move_to_end(code)
                entry.used = True
        return entry

    def known_missing(self, code: str) -> bool:
        """Whether ``code`` was looked up and not found within ``missing_seconds``."""
        if not self.trusted():
            return False
        with self._lock:
            expiry = self._missing.get(code)
            if expiry is None:
                return False
            if expiry < time.monotonic():
                del self._missing[code]
                return False
            return True

    # --- misses ---------------------------------------------------------------------------

    def load(self, code: str) -> ScanEntry:
        """The entry of normalized ``code``, built if needed; NotFound if there is none.
        Blocking (database work): call from a worker thread, never on an event loop."""
        entry = self.lookup(code)
        if entry is not None:
            return entry
        if self.known_missing(code):
            raise NotFound(f"no endorsement {code}")
        # Single flight: concurrent misses of one code wait for the first one's build.
        with self._build_locks[hash(code) % len(self._build_locks)]:
            entry = self.lookup(code)
            if entry is not None:
                return entry
            if self.known_missing(code):
                raise NotFound(f"no endorsement {code}")
            return self._build(code)

    def load_fresh(self, code: str) -> ScanEntry:
        """The entry of normalized ``code`` against the newest checkpoint the watcher has
        seen: rebuilt if the cached one is older (blocking, single flight; at most one build
        per code each time the log grows). For a phone holding a newer checkpoint than a
        published document's (docs/scaling.md, "Published files")."""
        entry = self.load(code)
        if entry.tree_size >= self.seen_size:
            return entry
        with self._build_locks[hash(code) % len(self._build_locks)]:
            entry = self.lookup(code) or entry
            if entry.tree_size >= self.seen_size:
                return entry
            return self._build(code)

    def _build(self, code: str) -> ScanEntry:
        generation = self.generation  # before any read: see _keep
        trusted = self.trusted()
        try:
            with self.factory() as session, session.begin():
                entry = build_entry(session, self.context(), code, generation)
        except NotFound:
            if trusted:
                self._remember_missing(code, generation)
            raise
        self.builds += 1
        entry.used = True
        if trusted:
            self._keep(entry)
        return entry

    def _keep(self, entry: ScanEntry) -> None:
        with self._lock:
            # An invalidation since the build started may have come after the build's reads:
            # the entry could predate the change, so it is served once and not kept.
            if entry.generation != self.generation:
                return
            old = self._entries.pop(entry.code, None)
            if old is not None:
                self._bytes -= old.weight
            self._entries[entry.code] = entry
            self._bytes += entry.weight
            while self._entries and (
                len(self._entries) > self.max_entries or self._bytes > self.max_bytes
            ):
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= evicted.weight

    def _remember_missing(self, code: str, generation: int) -> None:
        with self._lock:
            if generation != self.generation:
                return
            self._missing[code] = time.monotonic() + self.missing_seconds
            self._missing.move_to_end(code)
            while len(self._missing) > self.max_missing:
                self._missing.popitem(last=False)

    # --- invalidation -----------------------------------------------------------------------

    def invalidate(self, *, entries: bool = True, missing: bool = True) -> None:
        """Drop every entry and/or every remembered unknown code."""
        with self._lock:
            self.generation += 1
            self.invalidations += 1
            if entries:
                self._entries.clear()
                self._bytes = 0
            if missing:
                self._missing.clear()

    def poll(self) -> None:
        """One watcher step: read the log size; if it grew, the kinds of the new records,
        and invalidate accordingly. Raises on database errors (the watcher logs them)."""
        with self._poll_lock:
            self._poll()

    def _poll(self) -> None:
        with self.factory() as session, session.begin():
            size = session.scalar(select(LogState.size).where(LogState.id == LOG_STATE_ID))
            size = int(size or 0)
            kinds: set[str] = set()
            if 0 <= self.seen_size < size:
                kinds = set(
                    session.scalars(
                        select(Record.kind)
                        .where(Record.log_index >= self.seen_size)
                        .group_by(Record.kind)
                    )
                )
            newest_cosigned = session.scalar(select(func.max(CheckpointCosignature.size)))
            cosigned = -1 if newest_cosigned is None else int(newest_cosigned)
        if self.seen_size < 0 or size < self.seen_size:
            # First poll, or the log shrank (a restore): nothing cached can be trusted.
            self.invalidate()
        elif kinds & INVALIDATING_KINDS:
            self.invalidate()
        elif kinds & NEW_CODE_KINDS:
            self.invalidate(entries=False)
        if cosigned > self.seen_cosigned >= 0:
            self._drop_uncosigned(cosigned)
        self.seen_cosigned = max(self.seen_cosigned, cosigned, 0)
        self.seen_size = size
        self.last_poll = time.monotonic()
        self.polls += 1

    def _drop_uncosigned(self, cosigned_size: int) -> None:
        """Witnesses cosigned a checkpoint of ``cosigned_size``: drop the entries whose proofs
        are against an uncosigned checkpoint no larger, so the next viewer gets a document
        whose checkpoint carries the cosignatures (else the phone fails at "witnessed")."""
        with self._lock:
            stale = [
                code
                for code, e in self._entries.items()
                if not e.cosigned and e.tree_size <= cosigned_size
            ]
            if stale:
                self.generation += 1
                self.invalidations += 1
            for code in stale:
                dropped = self._entries.pop(code)
                self._bytes -= dropped.weight

    def refresh_stale(self, limit: int = 4) -> int:
        """Rebuild up to ``limit`` entries that are read, older than ``refresh_seconds``
        and older than the log (new steps, newer checkpoint); the old bytes are served
        meanwhile. Returns how many were rebuilt."""
        now = time.monotonic()
        with self._lock:
            stale = [
                e.code
                for e in self._entries.values()
                if e.used
                and now - e.built_at > self.refresh_seconds
                and e.tree_size < self.seen_size
            ][:limit]
        for code in stale:
            with self._build_locks[hash(code) % len(self._build_locks)]:
                try:
                    self._build(code)
                except NotFound:  # cannot happen short of a restore; then it is dropped
                    with self._lock:
                        dropped = self._entries.pop(code, None)
                        if dropped is not None:
                            self._bytes -= dropped.weight
        return len(stale)

    # --- the watcher ------------------------------------------------------------------------

    def start(self) -> None:
        """Start this process's watcher thread (after a first, synchronous poll)."""
        if self._watcher is None:
            self._watcher = ScanWatcher(self)
            self._watcher.start()

    def stop(self) -> None:
        """Stop the watcher thread, if it runs."""
        if self._watcher is not None:
            self._watcher.stop()
            self._watcher = None

    def wake(self) -> None:
        """Ask the watcher to poll now."""
        if self._watcher is not None:
            self._watcher.wake()

    def watch_commits(self, factory: sessionmaker[Session]) -> None:
        """Poll right after every commit of a session from ``factory`` (this process's
        writes), in the committing thread: whoever revoked, recalled or endorsed through
        this process sees the change on their next request (read-your-writes), without
        waiting for the watcher. Other processes see it at their next poll."""

        @event.listens_for(factory, "after_commit")
        def _committed(session: Session) -> None:
            if self._watcher is None:  # not started: nothing is cached
                return
            try:
                self.poll()
            except Exception:  # the watcher's next poll retries
                logger.warning("scan cache could not poll after a commit", exc_info=True)


class ScanWatcher:
    """The daemon thread that polls the log for a ScanCache (one per worker process)."""

    def __init__(self, cache: ScanCache) -> None:
        self.cache = cache
        self._thread = WokenThread(
            "scan-watcher",
            self._step,
            cache.poll_seconds,
            log=logger,
            # the cache stops being trusted after trust_seconds; retried
            failure="scan cache watcher could not poll the log",
        )

    def start(self) -> None:
        """Poll once (so the cache is trusted from the first request), then start."""
        self._thread.step_now()  # so the cache is trusted from the first request
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and wait for it (at most 5 seconds)."""
        self._thread.stop()

    def wake(self) -> None:
        """Poll now rather than at the next interval."""
        self._thread.wake()

    def _step(self) -> None:
        self.cache.poll()
        self.cache.refresh_stale()
