"""The loop shared by the background threads of a server process that run one step now and
then: every ``interval`` seconds, or at once when woken (e.g. by a commit of this process)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable


class WokenThread:
    """Runs ``step`` in a daemon thread named ``name``, every ``interval`` seconds or soon
    after ``wake()``; a wake during a step runs the next step right after it.

    What ``step`` raises is logged on ``log`` as the warning ``failure``, and the thread goes
    on (the next step retries). ``at_start``: the first step runs as soon as the thread
    starts, else after the first interval. ``stop`` waits at most ``join_timeout`` seconds
    for the step being run; ``start`` after ``stop`` runs a new thread.
    """

    def __init__(
        self,
        name: str,
        step: Callable[[], object],
        interval: float,
        *,
        log: logging.Logger,
        failure: str,
        at_start: bool = False,
        join_timeout: float = 5.0,
    ) -> None:
        self.name = name
        self.step = step
        self.interval = interval
        self.log = log
        self.failure = failure
        self.at_start = at_start
        self.join_timeout = join_timeout
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def stopped(self) -> bool:
        """Whether ``stop`` was called (and ``start`` not since)."""
        return self._stop.is_set()

    def start(self) -> None:
        """Start the thread, unless it runs."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop after the step being run, waiting at most ``join_timeout`` seconds."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=self.join_timeout)
            self._thread = None

    def wake(self) -> None:
        """Step now rather than at the next interval."""
        self._wake.set()

    def step_now(self) -> None:
        """One step in the caller's thread, its failure logged as in the thread."""
        try:
            self.step()
        except Exception:  # the thread must outlive any surprise, e.g. a locked database
            self.log.warning(self.failure, exc_info=True)

    def _run(self) -> None:
        if self.at_start:
            self._wake.clear()
        else:
            self._wait()
        while not self._stop.is_set():
            self.step_now()
            self._wait()

    def _wait(self) -> None:
        self._wake.wait(self.interval)
        self._wake.clear()  # before the step: a wake during the step runs another one
