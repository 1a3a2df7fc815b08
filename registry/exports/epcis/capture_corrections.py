"""Captured error declarations (EPCIS 2.0 §7.4.1.3) as corrections (docs/records.md).

An error declaration repeats the event it declares wrong, with ``errorDeclaration``
(``declarationTime``, ``reason``, ``correctiveEventIDs``). The CBV 2.0 event hash leaves
``errorDeclaration`` out, so the declaration's hash is the declared event's: that, or its
``eventID`` (a captured event's, or this registry's own record URL as an export writes it),
finds the record it corrects. Nothing is edited: the correction references that record by
digest and says why; the corrective events are captured as events of their own.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.exports.epcis.document import EventProblem
from registry.exports.epcis.values import record_time
from registry.models import CapturedEvent, Record


def _own_digest(base_url: str, event_id: str | None) -> str | None:
    """The digest in this registry's record URL (``{base}/api/v1/records/{digest}``)."""
    if event_id is None:
        return None
    own, theirs = urlsplit(base_url), urlsplit(event_id)
    prefix = own.path.rstrip("/") + "/api/v1/records/"
    if (theirs.scheme, theirs.netloc) != (own.scheme, own.netloc):
        return None
    if not theirs.path.startswith(prefix):
        return None
    digest = theirs.path[len(prefix) :]
    return digest if len(digest) == 64 else None


def declared_record(
    session: Session, base_url: str, event: dict[str, Any], event_hash: str
) -> Record | None:
    """The record the declared event became, by event hash, eventID or record URL."""
    row = session.get(CapturedEvent, event_hash)
    event_id = event.get("eventID") if isinstance(event.get("eventID"), str) else None
    if row is None and event_id is not None:
        row = session.scalars(
            select(CapturedEvent).where(CapturedEvent.event_id == event_id)
        ).first()
    if row is not None:
        return session.get(Record, row.record_index)
    digest = _own_digest(base_url, event_id)
    if digest is not None:
        return session.scalars(select(Record).where(Record.digest == digest)).first()
    return None


def correction_draft(
    session: Session, base_url: str, event: dict[str, Any], event_hash: str
) -> tuple[dict[str, Any], Record | None]:
    """The correction an error declaration says, and an earlier correction of the same
    record by the same declaration (to answer a repeat idempotently). Raises EventProblem."""
    declaration = event["errorDeclaration"]
    problems: list[tuple[str, str]] = []
    if not isinstance(declaration, dict):
        raise EventProblem([("errorDeclaration", "must be an object")])
    corrected = declared_record(session, base_url, event, event_hash)
    if corrected is None or corrected.payload is None:
        raise EventProblem(
            [
                (
                    "errorDeclaration",
                    "declares wrong an event this registry has not captured (no record has "
                    "its event hash, eventID or record URL)",
                )
            ]
        )
    when = declaration.get("declarationTime")
    draft: dict[str, Any] = {"kind": "correction", "corrects": corrected.digest}
    try:
        draft["time"] = record_time(str(when), None)
    except ValueError as exc:
        problems.append(("errorDeclaration.declarationTime", f"required, RFC 3339 ({exc})"))
    reason = declaration.get("reason")
    text = next(
        (v for k, v in declaration.items() if k.endswith(":reason") and isinstance(v, str)), None
    )
    draft["reason"] = text or f"EPCIS error declaration: {reason or 'no reason given'}"
    details: dict[str, Any] = {}
    if isinstance(reason, str):
        details["reason"] = reason
    corrective = declaration.get("correctiveEventIDs")
    if corrective is not None:
        if not isinstance(corrective, list) or not all(isinstance(c, str) for c in corrective):
            problems.append(("errorDeclaration.correctiveEventIDs", "must be a list of eventIDs"))
        else:
            details["corrective_event_ids"] = corrective
    if details:
        draft["corrected"] = details
    draft["batches"] = list(json.loads(corrected.payload).get("batches", []))
    if problems:
        raise EventProblem(problems)
    earlier = session.scalars(
        select(Record).where(Record.kind == "correction", Record.corrects == corrected.digest)
    ).all()
    for record in earlier:
        if record.payload is not None and json.loads(record.payload).get("corrected") == draft.get(
            "corrected"
        ):
            return draft, record
    return draft, None
