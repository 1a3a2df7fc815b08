"""The worker that runs stored capture jobs (``Prefer: respond-async``), one thread in each
server process: woken when its process stores a job, and looking every ``interval``
seconds for the jobs of other processes and of a process that stopped or died
(``capture_jobs.claim_job`` says why no job is run twice, and none is lost; a job
attempted ``max_attempts`` times without finishing is failed, ``capture_jobs.start_attempt``)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from registry.background import WokenThread
from registry.context import RegistryContext
from registry.db import transaction
from registry.errors import RegistryError
from registry.exports.epcis import capture_jobs
from registry.models import CaptureJobState

logger = logging.getLogger(__name__)


class CaptureWorker:
    """Runs the stored capture jobs of the database, oldest first, in a daemon thread."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        read_factory: sessionmaker[Session],
        ctx: Callable[[], RegistryContext],
        interval: float = 2.0,
        max_attempts: int = 3,
    ) -> None:
        self.factory = factory
        self.read_factory = read_factory
        self.ctx = ctx
        self.interval = interval
        self.max_attempts = max_attempts
        self._thread = WokenThread(
            "capture-worker",
            self.run_pending,
            interval,
            log=logger,
            failure="capture jobs not looked for; will retry",  # the database is away
            at_start=True,
        )

    def start(self) -> None:
        """Start the thread; it first runs what earlier processes left."""
        self._thread.start()

    def stop(self) -> None:
        """Stop after the job being run, if any (a job cut short is run again later, as
        another attempt)."""
        self._thread.stop()

    def wake(self) -> None:
        """A job was stored: look now rather than at the next interval."""
        self._thread.wake()

    def run_pending(self) -> int:
        """Run stored jobs until none is left to claim; returns how many were claimed."""
        ran = 0
        while not self._thread.stopped:
            with self.read_factory() as session:
                if not capture_jobs.has_pending(session):
                    return ran
            if not self._run_one():
                return ran
            ran += 1
        return ran

    def _run_one(self) -> bool:
        """Count an attempt at one job and commit it, then run the job in a transaction of
        its own; False if none could be claimed."""
        job_id: uuid.UUID | None = None
        try:
            with transaction(self.factory) as session:
                job = capture_jobs.start_attempt(session, self.max_attempts)
                if job is None:
                    return False
                job_id, attempt, state = job.id, job.attempts, job.state
            if state is not CaptureJobState.RUNNING:
                logger.error("capture job %s failed: attempted %d times", job_id, attempt)
                return True
            with transaction(self.factory) as session:
                job = capture_jobs.claim_attempt(session, job_id, attempt)
                if job is None:  # another worker claimed it since, and runs it
                    return True
                logger.info(
                    "capture job %s claimed (%d events, attempt %d)",
                    job_id,
                    job.event_count,
                    attempt,
                )
                try:
                    with session.begin_nested():
                        capture_jobs.run_claimed(session, self.ctx(), job)
                except RegistryError as exc:  # e.g. no custodial key: the job fails
                    session.refresh(job)
                    capture_jobs.fail_job(session, job, exc.detail, exc.code)
                logger.info("capture job %s %s", job_id, job.state.value)
        except OperationalError:
            # The database is busy or away: the job stays stored and is tried again.
            logger.warning("capture job not run yet; will retry", exc_info=True)
            return False
        except Exception:
            logger.exception("capture job %s failed", job_id)
            if job_id is None:
                return False
            self._fail_after_error(job_id)
        return True

    def _fail_after_error(self, job_id: uuid.UUID) -> None:
        """A job whose run raised an unexpected error is marked failed, so that it is not
        run again and again; the error is in the log."""
        try:
            with transaction(self.factory) as session:
                job = capture_jobs.claim_job(session, job_id)
                if job is not None:
                    capture_jobs.fail_job(session, job, "the capture could not be completed")
        except Exception:
            logger.warning("capture job %s not marked failed", job_id, exc_info=True)
