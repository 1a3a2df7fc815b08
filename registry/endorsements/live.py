"""What the OBS overlay shows live: the status and scan count of the endorsements being watched.

A streamer's overlay must turn red within 2 s of a revocation or a recall ("扫码页立即显示"),
and its scan counter should move as viewers scan. Each worker process keeps one ``LiveBoard``:
the codes that at least one live client (``GET /api/v1/endorsements/{code}/events``) is
watching, and one daemon thread that every ``poll_seconds`` reads, for all of them at once,

- each code's status from the scan cache (``registry.endorsements.scan_cache``: memory; its
  own watcher drops the cached documents within half a second of a revocation, a recall or a
  key revocation reaching the log, and right away when the change was committed through this
  process), computed from the clock like every other status;
- every watched code's scan total in one grouped query (stored counts plus this process's
  pending ones, ``registry.endorsements.scans.totals_of``): scans move without any log record,
  so the log size alone cannot tell.

When a code's status or count changed, every client of that code is notified; nothing is read
per client, so a thousand overlays of one code cost what one does.

How soon a change shows: a revocation committed through this process, at the board's next
step (at most ``poll_seconds``; the commit also wakes the board); through another process,
that process's watcher poll plus this board's step (about 1 s). A scan counted by this
process, at the next step; by another, after that process's flush (about 1 s) plus a step.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from registry.background import WokenThread
from registry.context import RegistryContext
from registry.endorsements.scan_cache import ScanCache, ScanEntry
from registry.endorsements.scans import ScanCounter, totals_of
from registry.errors import NotFound

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.5
"""Seconds between two reads of the watched codes' statuses and counts."""
STREAM_SECONDS = 30.0
"""How long one live stream lasts before the server ends it and the client reconnects: it
bounds what a stuck connection or a proxy can hold, and how long a stream keeps a shutting
down server waiting."""
HEARTBEAT_SECONDS = 10.0
"""Seconds between heartbeats on an idle stream, so clients and proxies see it alive."""
RETRY_MILLISECONDS = 1000
"""How long a client waits before reconnecting (the event stream's ``retry`` field)."""

Listener = Callable[[], None]
"""Called, in the board's thread, when a watched code's state changed (must not block)."""


@dataclass(frozen=True)
class LiveState:
    """What the overlay shows of one endorsement: its status value and its scan total."""

    code: str
    status: str
    scans: int

    def as_json(self) -> dict[str, Any]:
        """The state as the event stream sends it."""
        return {"code": self.code, "status": self.status, "scans": self.scans}


@dataclass(eq=False)
class _Watch:
    code: str
    endorsement_id: uuid.UUID
    state: LiveState
    listeners: list[Listener] = field(default_factory=list)


class LiveSubscription:
    """One client's view of a watched code, from ``LiveBoard.subscribe`` until ``close``."""

    def __init__(self, board: LiveBoard, watch: _Watch, listener: Listener) -> None:
        self._board = board
        self._watch = watch
        self._listener = listener
        self._closed = False

    @property
    def state(self) -> LiveState:
        """The code's state as the board last read it."""
        return self._watch.state

    @property
    def ended(self) -> bool:
        """Whether this subscription or its board was closed (the stream should end)."""
        return self._closed or self._board.stopped

    def close(self) -> None:
        """Stop listening; the board stops reading the code when nobody listens any more."""
        if not self._closed:
            self._closed = True
            self._board._unsubscribe(self._watch, self._listener)


class LiveBoard:
    """The live states of the watched codes of one process, read by one thread.

    ``cache`` gives statuses (and resolves codes), ``factory`` sessions for the count query,
    ``counter`` this process's pending scans, ``context`` the registry context (its clock).
    """

    def __init__(
        self,
        cache: ScanCache,
        factory: sessionmaker[Session],
        counter: ScanCounter,
        context: Callable[[], RegistryContext],
        *,
        poll_seconds: float = POLL_SECONDS,
        stream_seconds: float = STREAM_SECONDS,
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
    ) -> None:
        self.cache = cache
        self.factory = factory
        self.counter = counter
        self.context = context
        self.poll_seconds = poll_seconds
        self.stream_seconds = stream_seconds
        self.heartbeat_seconds = heartbeat_seconds
        self._lock = threading.Lock()
        self._watches: dict[str, _Watch] = {}
        self._thread = WokenThread(
            "live-board",
            self.step,
            poll_seconds,
            log=logger,
            # the next step retries; the clients keep the last state
            failure="the live board could not read the watched codes",
        )
        # counters, for tests and metrics
        self.steps = 0
        self.count_queries = 0
        self.subscriptions = 0

    # --- clients --------------------------------------------------------------------------

    def subscribe(self, code: str, listener: Listener) -> LiveSubscription:
        """Watch normalized ``code`` and call ``listener`` on every change of its state.
        Blocking (it may build the code's scan entry and read its count): call it from a
        worker thread. NotFound if there is no such endorsement."""
        entry = self.cache.load(code)
        with self._lock:
            watch = self._watches.get(entry.code)
            if watch is not None:
                watch.listeners.append(listener)
                self.subscriptions += 1
                return LiveSubscription(self, watch, listener)
        state = self._read([entry])[entry.code]  # outside the lock: a query
        with self._lock:
            watch = self._watches.get(entry.code)
            if watch is None:
                watch = _Watch(entry.code, entry.endorsement_id, state)
                self._watches[entry.code] = watch
            watch.listeners.append(listener)
            self.subscriptions += 1
        return LiveSubscription(self, watch, listener)

    def watched(self) -> list[str]:
        """The codes somebody is watching."""
        with self._lock:
            return sorted(self._watches)

    def _unsubscribe(self, watch: _Watch, listener: Listener) -> None:
        with self._lock:
            if listener in watch.listeners:
                watch.listeners.remove(listener)
            if not watch.listeners and self._watches.get(watch.code) is watch:
                del self._watches[watch.code]

    # --- reading --------------------------------------------------------------------------

    def _read(self, entries: list[ScanEntry]) -> dict[str, LiveState]:
        now = self.context().clock()
        with self.factory() as session, session.begin():
            totals = totals_of(session, self.counter, [e.endorsement_id for e in entries])
        self.count_queries += 1
        return {
            e.code: LiveState(e.code, e.status(now).value, totals[e.endorsement_id])
            for e in entries
        }

    def step(self) -> int:
        """Read every watched code's state once; notify the listeners of those that changed.
        Returns how many changed. Raises on database errors (the thread logs them)."""
        with self._lock:
            watches = list(self._watches.values())
        entries: list[ScanEntry] = []
        for watch in watches:
            try:
                entries.append(self.cache.load(watch.code))  # memory, or a rebuild
            except NotFound:  # only after a restore: nothing to show any more
                continue
        self.steps += 1
        if not entries:
            return 0
        states = self._read(entries)
        changed = 0
        for watch in watches:
            state = states.get(watch.code)
            if state is None or state == watch.state:
                continue
            watch.state = state
            changed += 1
            with self._lock:
                listeners = list(watch.listeners)
            for listener in listeners:
                _call(listener)
        return changed

    # --- the thread -----------------------------------------------------------------------

    @property
    def stopped(self) -> bool:
        """Whether the board was stopped (its streams end)."""
        return self._thread.stopped

    def start(self) -> None:
        """Start the board's thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and wake every listener, whose streams then end."""
        self._thread.stop()
        with self._lock:
            listeners = [listener for w in self._watches.values() for listener in w.listeners]
        for listener in listeners:
            _call(listener)

    def wake(self) -> None:
        """Read now rather than at the next interval."""
        self._thread.wake()

    def wake_on_commits(self, factory: sessionmaker[Session]) -> None:
        """Read right after every commit of a session from ``factory`` (this process's
        writes): a revocation through this process reaches its overlays at once."""

        @event.listens_for(factory, "after_commit")
        def _committed(session: Session) -> None:
            if self._watches:
                self._thread.wake()


def _call(listener: Listener) -> None:
    try:
        listener()
    except Exception:  # a listener whose stream is gone (its loop closed) must not stop others
        logger.debug("a live listener failed", exc_info=True)
