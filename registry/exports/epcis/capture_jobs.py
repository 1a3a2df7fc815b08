"""Capture jobs: the EPCIS 2.0 capture interface (EPCIS 2.0.1 §12.3, the REST binding's
``/capture`` and ``/capture/{captureID}``) on top of ``capture_service``.

Every capture is a job whose status URL tells how it went: ``running`` while it is being
captured, then ``done`` (with the capture report) or ``failed`` (with every event's
problems). A job is captured within its request, or after the answer when the client
asks to be answered at once (``Prefer: respond-async``, RFC 7240): then the answer is
202 with the status URL, and the job is stored with its document and account, so that a
worker of any server process runs it (``start_attempt``, ``claim_attempt``,
``run_claimed``; the thread is ``capture_worker``), after a restart too. The document is
dropped once the job is done or failed; the report stays. A job whose run never finishes
(its process dies in it) is failed after ``max_attempts`` (``start_attempt``).

Error behaviour (the ``GS1-EPCIS-Capture-Error-Behaviour`` header): ``rollback`` (also
``atomic``, the default) captures all events or none; ``proceed`` keeps the events that
were accepted. The limits a client must keep to are stated in the API (``limits``).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from registry.context import RegistryContext
from registry.errors import InvalidInput, NotFound
from registry.exports.epcis.capture_service import MAX_EVENTS, capture
from registry.exports.epcis.vocabulary import NS, PREFIX
from registry.models import Account, CaptureJob, CaptureJobState, utcnow

BEHAVIOURS = {"rollback": True, "atomic": True, "proceed": False}
"""Error behaviours (header values) → whether the capture is all or nothing."""


def limits(max_capture_bytes: int) -> dict[str, str]:
    """The capture limits, as the headers EPCIS 2.0 clients read them from (EPCIS 2.0.1
    §12.3: ``GS1-EPCIS-Capture-Limit`` events, ``GS1-EPCIS-Capture-File-Size-Limit``
    bytes of body)."""
    return {
        "GS1-EPCIS-Capture-Limit": str(MAX_EVENTS),
        "GS1-EPCIS-Capture-File-Size-Limit": str(max_capture_bytes),
        "GS1-EPCIS-Capture-Error-Behaviour": "rollback, proceed",
    }


EPCIS_VERSIONS = ("2.0.0", "2.0.1")
"""The EPCIS versions whose capture documents this registry takes (``schemaVersion`` "2.0"
and the 2.0 JSON-LD context; the schema checked is 2.0.1's): ``GS1-EPCIS-Min``/``-Max``."""

CBV_VERSION = "2.0.0"
"""The CBV whose vocabulary and event hash (``ver=CBV2.0``) capture uses."""


def interface_headers(max_capture_bytes: int, allow: str) -> dict[str, str]:
    """What ``OPTIONS`` answers on the capture paths (EPCIS 2.0.1 §12, the REST binding's
    server settings): the methods, the EPCIS and CBV versions spoken, the registry's
    extension namespace (``GS1-Extensions``, prefix=namespace) and the capture limits."""
    return {
        "Allow": allow,
        "GS1-EPCIS-Version": EPCIS_VERSIONS[-1],
        "GS1-EPCIS-Min": EPCIS_VERSIONS[0],
        "GS1-EPCIS-Max": EPCIS_VERSIONS[-1],
        "GS1-CBV-Version": CBV_VERSION,
        "GS1-CBV-Min": CBV_VERSION,
        "GS1-CBV-Max": CBV_VERSION,
        "GS1-Extensions": f"{PREFIX}={NS}",
        **limits(max_capture_bytes),
    }


def atomic_of(behaviour: str | None, default: bool) -> bool:
    """Whether a capture is all or nothing, from its error behaviour header (if any)."""
    if behaviour is None:
        return default
    try:
        return BEHAVIOURS[behaviour.strip().lower()]
    except KeyError:
        raise InvalidInput(
            f"GS1-EPCIS-Capture-Error-Behaviour {behaviour!r} is not rollback or proceed",
            errors=[
                {"path": "GS1-EPCIS-Capture-Error-Behaviour", "message": "rollback or proceed"}
            ],
        ) from None


def open_job(
    session: Session, account: Account, document: object, atomic: bool, *, stored: bool = False
) -> CaptureJob:
    """A new job, ``running``, for ``account``'s organization; ``stored``: with its document
    and account, for a worker to run once it is committed (an asynchronous capture).

    A document of more than ``MAX_EVENTS`` events is refused here, before it is stored."""
    body = document.get("epcisBody") if isinstance(document, dict) else None
    events = body.get("eventList") if isinstance(body, dict) else None
    if isinstance(events, list) and len(events) > MAX_EVENTS:
        raise InvalidInput(
            f"{len(events)} events: at most {MAX_EVENTS} per capture (GS1-EPCIS-Capture-Limit)",
            errors=[{"path": "epcisBody.eventList", "message": f"at most {MAX_EVENTS} events"}],
        )
    job = CaptureJob(
        organization_id=account.organization_id,
        state=CaptureJobState.RUNNING,
        error_behaviour="rollback" if atomic else "proceed",
        event_count=len(events) if isinstance(events, list) else 0,
        report={},
        account_id=account.id if stored else None,
        document=document if stored else None,
    )
    session.add(job)
    session.flush()
    return job


def _pending() -> Select[CaptureJob]:
    return (
        select(CaptureJob)
        .where(CaptureJob.state == CaptureJobState.RUNNING, CaptureJob.document.is_not(None))
        .order_by(CaptureJob.created_at)
    )


def has_pending(session: Session) -> bool:
    """Whether a stored job waits to be run (a read: it takes no lock)."""
    return session.scalars(_pending().with_only_columns(CaptureJob.id).limit(1)).first() is not None


def claim_job(session: Session, job_id: uuid.UUID | None = None) -> CaptureJob | None:
    """The oldest stored job (or job ``job_id``, if still stored) no other worker is
    running, now this transaction's, or None.

    The claim is the transaction's lock on the job, so it ends with the transaction: the
    job is run and marked done (its document dropped) in that same transaction, and if its
    process dies first the claim goes with it and the job waits, intact, for the next
    worker. No lease to expire, and no job left ``running`` with nobody running it.
    PostgreSQL: the row is locked ``FOR UPDATE SKIP LOCKED`` (another worker skips it, and
    the state is checked again once locked). SQLite: every write transaction of the
    registry begins IMMEDIATE (``registry.db``), so only one worker at a time reads here,
    and it reads the last commit."""
    query = _pending() if job_id is None else _pending().where(CaptureJob.id == job_id)
    return session.scalars(query.limit(1).with_for_update(skip_locked=True)).first()


def start_attempt(session: Session, max_attempts: int) -> CaptureJob | None:
    """The oldest stored job no other worker is running, with one more attempt counted,
    or None. The caller commits this before the run (``claim_attempt``), so that a run
    that kills its process (out of memory, say) still counts, and a job that never
    finishes is not run forever: one attempted ``max_attempts`` times is marked failed
    here instead, its document dropped (the job is returned ``failed``, not to be run)."""
    job = claim_job(session)
    if job is None:
        return None
    if job.attempts >= max_attempts:
        detail = f"the capture was attempted {job.attempts} times without finishing"
        fail_job(session, job, detail, "capture-not-finished")
        return job
    job.attempts += 1
    session.flush()
    return job


def claim_attempt(session: Session, job_id: uuid.UUID, attempt: int) -> CaptureJob | None:
    """Job ``job_id``, now this transaction's to run (``claim_job``), if it is still
    stored and still at the ``attempt`` that ``start_attempt`` counted; None if another
    worker has claimed it since (that worker runs it) or it is no longer stored."""
    job = claim_job(session, job_id)
    if job is None or job.attempts != attempt:
        return None
    return job


def run_claimed(session: Session, ctx: RegistryContext, job: CaptureJob) -> None:
    """Run a job ``claim_job`` returned, as the account that submitted it; its document
    is dropped whatever the outcome (a refusal is the job's ``failed`` state)."""
    account = session.get(Account, job.account_id) if job.account_id is not None else None
    if account is None:
        fail_job(session, job, "the account that submitted this capture no longer exists")
        return
    run_job(session, ctx, account, job, job.document)
    job.document = None
    session.flush()


def fail_job(session: Session, job: CaptureJob, detail: str, code: str = "capture-failed") -> None:
    """Mark ``job`` failed with ``detail`` and drop its document."""
    job.state = CaptureJobState.FAILED
    job.report = {"detail": detail, "code": code}
    job.finished_at = utcnow()
    job.document = None
    session.flush()


def run_job(
    session: Session, ctx: RegistryContext, account: Account, job: CaptureJob, document: object
) -> InvalidInput | None:
    """Capture ``document`` as ``job`` (in a savepoint, so a refused capture writes nothing
    but the job's ``failed`` state). Returns the refusal, if it was refused."""
    atomic = job.error_behaviour == "rollback"
    try:
        with session.begin_nested():
            result = capture(session, ctx, account, document, atomic=atomic)
    except InvalidInput as exc:
        job.state = CaptureJobState.FAILED
        job.report = {"detail": exc.detail, **exc.extra}
        job.finished_at = utcnow()
        session.flush()
        return exc
    job.state = CaptureJobState.DONE
    job.report = result.report()
    job.finished_at = utcnow()
    session.flush()
    return None


def get_job(session: Session, account: Account, capture_id: str) -> CaptureJob:
    """A job of ``account``'s organization; NotFound for any other (or no such id)."""
    try:
        job_id = uuid.UUID(capture_id)
    except ValueError:
        raise NotFound(f"no capture {capture_id}") from None
    job = session.get(CaptureJob, job_id)
    if job is None or job.organization_id != account.organization_id:
        raise NotFound(f"no capture {capture_id}")
    return job


def list_jobs(session: Session, account: Account, limit: int = 100) -> list[CaptureJob]:
    """The organization's latest jobs, newest first."""
    return list(
        session.scalars(
            select(CaptureJob)
            .where(CaptureJob.organization_id == account.organization_id)
            .order_by(CaptureJob.created_at.desc())
            .limit(limit)
        )
    )


def job_json(job: CaptureJob, url: str) -> dict[str, Any]:
    """A job as its status URL answers (the fields of the EPCIS 2.0 REST binding's capture
    job, and the registry's ``status`` and report)."""
    report = job.report or {}
    return {
        "captureID": str(job.id),
        "url": url,
        "status": job.state.value,
        "running": job.state is CaptureJobState.RUNNING,
        "success": job.state is CaptureJobState.DONE,
        "captureErrorBehaviour": job.error_behaviour,
        "createdAt": job.created_at.isoformat(),
        "finishedAt": job.finished_at.isoformat() if job.finished_at else None,
        "events": job.event_count,
        "report": report if job.state is CaptureJobState.DONE else None,
        "errors": report.get("errors", []) if job.state is CaptureJobState.FAILED else [],
        "detail": report.get("detail") if job.state is CaptureJobState.FAILED else None,
    }
