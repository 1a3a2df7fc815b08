"""Capture jobs: the EPCIS 2.0 capture interface (EPCIS 2.0.1 §12.3, the REST binding's
``/capture`` and ``/capture/{captureID}``) on top of ``capture_service``.

Every capture is a job whose status URL tells how it went: ``running`` while it is being
captured, then ``done`` (with the capture report) or ``failed`` (with every event's
problems). A job is captured within its request, or after the answer when the client
asks to be answered at once (``Prefer: respond-async``, RFC 7240): then the answer is
202 with the status URL, and the job runs in a transaction of its own.

Error behaviour (the ``GS1-EPCIS-Capture-Error-Behaviour`` header): ``rollback`` (also
``atomic``, the default) captures all events or none; ``proceed`` keeps the events that
were accepted. The limits a client must keep to are stated in the API (``limits``).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.context import RegistryContext
from registry.errors import InvalidInput, NotFound
from registry.exports.epcis.capture_service import MAX_EVENTS, capture
from registry.models import Account, CaptureJob, CaptureJobState, utcnow

BEHAVIOURS = {"rollback": True, "atomic": True, "proceed": False}
"""Error behaviours (header values) → whether the capture is all or nothing."""


def limits(max_body_bytes: int) -> dict[str, str]:
    """The capture limits, as the headers EPCIS 2.0 clients read them from."""
    return {
        "GS1-EPCIS-Capture-Limit": str(MAX_EVENTS),
        "GS1-EPCIS-Capture-File-Size-Limit": str(max_body_bytes),
        "GS1-EPCIS-Capture-Error-Behaviour": "rollback, proceed",
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


def open_job(session: Session, account: Account, document: object, atomic: bool) -> CaptureJob:
    """A new job, ``running``, for ``account``'s organization."""
    body = document.get("epcisBody") if isinstance(document, dict) else None
    events = body.get("eventList") if isinstance(body, dict) else None
    job = CaptureJob(
        organization_id=account.organization_id,
        state=CaptureJobState.RUNNING,
        error_behaviour="rollback" if atomic else "proceed",
        event_count=len(events) if isinstance(events, list) else 0,
        report={},
    )
    session.add(job)
    session.flush()
    return job


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
