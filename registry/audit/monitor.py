"""The server checks its own database in the background and says so in ``/healthz``.

After start-up a thread of each server process runs ``selfcheck.SelfCheck`` over the whole
log (without delaying start-up or requests: it sleeps after each page as long as the page
took, so it takes at most about half of one CPU), then follows new entries every
``interval`` seconds and starts over from index 0 every ``full_interval`` seconds, since
an old record can be altered at any time (docs/audit.md, "The registry checks itself").

Its verdict, ``IntegrityStatus``, is ``checking`` until the first pass ends, then ``ok``
or ``failed`` (naming the first bad log index and what is wrong). A failure is logged as
an error and re-checked from scratch every ``interval``, so a repaired database reads
``ok`` again without a restart.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from registry.audit.selfcheck import SelfCheck
from registry.errors import VerificationError
from registry.log.note import NoteVerifier
from registry.settings import Settings

log = logging.getLogger("registry.integrity")

PAUSE = 1.0
"""After each page the check sleeps this many times as long as the page took."""


class IntegrityState(StrEnum):
    """Where the background check stands."""

    CHECKING = "checking"
    OK = "ok"
    FAILED = "failed"
    OFF = "off"


@dataclass(frozen=True)
class IntegrityStatus:
    """The background check's verdict as ``/healthz`` reports it: ``checked`` records of a
    log of ``size`` so far; when failed, the first bad ``failed_index`` (``None`` when the
    checkpoint itself is to blame) and the ``detail`` of what is wrong."""

    state: IntegrityState
    checked: int = 0
    size: int = 0
    failed_index: int | None = None
    detail: str | None = None

    @property
    def failed(self) -> bool:
        """Whether the database failed its check."""
        return self.state is IntegrityState.FAILED

    def to_json(self) -> dict[str, Any]:
        """``{"state", "checked", "size"}`` and, when failed, ``failed_index`` and ``detail``."""
        body: dict[str, Any] = {"state": self.state.value, "checked": self.checked}
        body["size"] = self.size
        if self.failed:
            body["failed_index"] = self.failed_index
            body["detail"] = self.detail
        return body


OFF = IntegrityStatus(IntegrityState.OFF)
"""The status when the background check is switched off (``REGISTRY_INTEGRITY_CHECK``)."""


class IntegrityMonitor:
    """The background check of one server process; ``status`` is its latest verdict."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        log_key: NoteVerifier,
        *,
        interval: float = 30.0,
        full_interval: float = 6 * 3600.0,
        pause: float = PAUSE,
    ) -> None:
        self._factory = factory
        self._log_key = log_key
        self._interval = interval
        self._full_interval = full_interval
        self._pause = pause
        self._status = IntegrityStatus(IntegrityState.CHECKING)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="integrity-check", daemon=True)

    @property
    def status(self) -> IntegrityStatus:
        """The latest verdict (``checking`` before the first pass ends)."""
        with self._lock:
            return self._status

    def _set(self, **changes: Any) -> None:
        with self._lock:
            self._status = replace(self._status, **changes)

    def start(self) -> None:
        """Start checking in the background."""
        self._thread.start()

    def stop(self) -> None:
        """Stop after the current page."""
        self._stopping.set()
        self._thread.join(timeout=30)

    def check_now(self) -> None:
        """One pass of the check, from scratch, in the caller's thread (tests, tools)."""
        self._pass(SelfCheck(self._log_key, workers=0))

    def _run(self) -> None:
        _lower_priority()
        while not self._stopping.is_set():
            check = SelfCheck(self._log_key, workers=0)
            started = time.monotonic()
            while not self._stopping.is_set():
                if not self._pass(check):
                    break  # failed: start over, from index 0, after the interval
                if time.monotonic() - started >= self._full_interval:
                    break
                self._stopping.wait(self._interval)
            else:
                return
            self._stopping.wait(self._interval if self.status.failed else 0)

    def _pass(self, check: SelfCheck) -> bool:
        """Run ``check`` on to the latest checkpoint; False when the database failed it."""
        progress = {"checked": check.checked}

        def advance(amount: int) -> None:
            progress["checked"] += amount
            if self._stopping.is_set():
                raise _Stopped
            if self.status.state is IntegrityState.CHECKING:
                self._set(checked=progress["checked"])

        def on_size(size: int) -> None:
            if self.status.state is IntegrityState.CHECKING:
                self._set(size=size)

        try:
            result = check.run(self._factory, advance, on_size=on_size, pause=self._pause)
        except _Stopped:
            return True
        except VerificationError as exc:
            index = exc.extra.get("index")
            if not self.status.failed or self.status.failed_index != index:
                where = "" if index is None else f" at log index {index}"
                log.error("integrity check FAILED%s: %s", where, exc.detail)
            self._set(
                state=IntegrityState.FAILED,
                checked=progress["checked"],
                failed_index=index,
                detail=exc.detail,
            )
            return False
        except SQLAlchemyError as exc:  # the database is busy or away: try again later
            log.warning("integrity check could not read the database: %s", exc)
            return True
        if self.status.failed:
            log.warning("integrity check: the database verifies again")
        self._set(
            state=IntegrityState.OK,
            checked=result.size,
            size=result.size,
            failed_index=None,
            detail=None,
        )
        return True


class _Stopped(Exception):
    """The server is stopping: the pass ends where it is."""


def _lower_priority() -> None:
    """Linux: raise this thread's nice value, so requests' threads get the CPU first."""
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)


def monitor_from_settings(
    settings: Settings, factory: sessionmaker[Session], log_key: NoteVerifier
) -> IntegrityMonitor | None:
    """The process's monitor as ``REGISTRY_INTEGRITY_*`` configure it (``None`` when off)."""
    if not settings.integrity_check:
        return None
    return IntegrityMonitor(
        factory,
        log_key,
        interval=settings.integrity_interval,
        full_interval=settings.integrity_full_interval,
    )


def integrity_status(monitor: IntegrityMonitor | None) -> IntegrityStatus:
    """The verdict of a process's monitor; ``off`` when there is none."""
    return OFF if monitor is None else monitor.status
