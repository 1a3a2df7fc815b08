"""Problem reports from viewers ("report a problem" on the consumer page).

A report is anonymous: it names an endorsement, a category, what went wrong and, if the
viewer wants an answer, a contact. It is visible to those who can act on it: the cooperative
that asked for the endorsement, the members of the endorsing authority (the officials who
vouched) and the registry's admins.

A viewer whose phone verified the endorsement may attach the guarantee bundle it verified
(docs/verification.md, "The guarantee bundle"): it is checked on receipt as
``registry verify-bundle`` checks it, against this registry's log key and for this
endorsement, at most ``BUNDLE_MAX`` bytes, and kept beside the report
(``ReportBundle``) for those who read the report to download and verify again.

Abuse is limited per client, in memory: ``RateLimiter`` keys its windows by a salted hash of
the client address, with a salt drawn per process, so no address is ever stored, logged or
recoverable from what is kept.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import threading
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import or_, select, tuple_
from sqlalchemy.orm import Session

from registry.audit.bundle import verify_bundle
from registry.endorsements.published import get_endorsement
from registry.errors import InvalidInput, NotFound, RateLimited, VerificationError
from registry.log.note import parse_vkey
from registry.models import (
    Account,
    Endorsement,
    EndorsementRequest,
    ProblemReport,
    ReportBundle,
    ReportCategory,
    Role,
)

TEXT_MIN = 5
"""The fewest characters a report's text may have."""
TEXT_MAX = 2000
"""The most characters a report's text may have."""
CONTACT_MAX = 200
"""The most characters a report's contact may have."""

# Control characters other than tab and newline: never useful in a report, and a way to
# garble the screens that show them.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


BUNDLE_MAX = 1024 * 1024
"""The most bytes a report's attached bundle may have, as compact JSON: room for about 400
records (the demo's bundles are 38-72 KB for 15-29 records, about 2.5 KB a record;
docs/verification.md, "A problem report carries it")."""


REPORT_PATHS = re.compile(r"/[eE]/[^/]+/report|/api/v1/endorsements/[^/]+/reports")
"""The paths that take a report, so a bundle, in their body: their body limit is the setting
``max_report_body_bytes`` (3 MiB + 64 KiB: a bundle at its limit percent-encoded by the
page's form, each byte at most three, and the report), not ``max_body_bytes``."""


@dataclass(frozen=True)
class AttachedBundle:
    """A bundle that verified on receipt: its compact JSON and the tree size it proves."""

    text: str
    checkpoint_size: int


def _bundle_problem(detail: str) -> InvalidInput:
    return InvalidInput(detail, field="bundle", errors=[{"path": "bundle", "message": detail}])


def validate_bundle(value: Any, code: str, log_public_key: bytes) -> AttachedBundle:
    """Check a bundle attached to a report on endorsement ``code`` (the parsed JSON, or its
    text): at most ``BUNDLE_MAX`` bytes, a bundle that ``verify_bundle`` verifies, of this
    registry's log (``log_public_key``, whatever name the log had then) and of this
    endorsement. ``InvalidInput`` (``field="bundle"``) naming what is wrong."""
    if isinstance(value, str):
        if len(value.encode("utf-8")) > BUNDLE_MAX:
            raise _bundle_problem(f"bundle: larger than {BUNDLE_MAX} bytes")
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            raise _bundle_problem("bundle: not JSON") from None
    try:
        text = orjson.dumps(value).decode("utf-8")
    except (TypeError, orjson.JSONEncodeError):
        raise _bundle_problem("bundle: not JSON") from None
    if len(text.encode("utf-8")) > BUNDLE_MAX:
        raise _bundle_problem(f"bundle: larger than {BUNDLE_MAX} bytes")
    try:
        summary = verify_bundle(value)
    except VerificationError as exc:
        raise _bundle_problem(exc.detail) from None
    try:
        verifier = parse_vkey(value["log"]["vkey"])
    except InvalidInput as exc:  # verify_bundle parsed it already: unreachable in practice
        raise _bundle_problem(f"bundle: log.vkey: {exc.detail}") from None
    if verifier.public_key != log_public_key:
        raise _bundle_problem("bundle: it is not of this registry's log (another log key)")
    if summary.code != code:
        raise _bundle_problem(f"bundle: it is the bundle of endorsement {summary.code}, not {code}")
    return AttachedBundle(text, summary.size)


@dataclass(frozen=True)
class ReportInput:
    """A report as the viewer typed it, cleaned: see ``validate_report``."""

    category: ReportCategory
    text: str
    contact: str | None


def validate_report(category: str | None, text: str | None, contact: str | None) -> ReportInput:
    """Check a report; raise ``InvalidInput`` naming the first bad field (``field=``) and
    listing every problem in ``errors`` (so a form can mark all of them at once)."""
    problems: list[dict[str, str]] = []
    try:
        chosen = ReportCategory((category or "").strip())
    except ValueError:
        chosen = ReportCategory.OTHER
        allowed = ", ".join(c.value for c in ReportCategory)
        problems.append({"path": "category", "message": f"choose one of {allowed}"})
    cleaned = _CONTROL.sub("", (text or "").replace("\r\n", "\n")).strip()
    if len(cleaned) < TEXT_MIN:
        problems.append({"path": "text", "message": f"say what happened ({TEXT_MIN}+ chars)"})
    elif len(cleaned) > TEXT_MAX:
        problems.append({"path": "text", "message": f"at most {TEXT_MAX} characters"})
    reach = _CONTROL.sub("", (contact or "").replace("\n", " ")).strip() or None
    if reach is not None and len(reach) > CONTACT_MAX:
        problems.append({"path": "contact", "message": f"at most {CONTACT_MAX} characters"})
    if problems:
        first = problems[0]
        raise InvalidInput(
            f"{first['path']}: {first['message']}", field=first["path"], errors=problems
        )
    return ReportInput(chosen, cleaned, reach)


def submit_report(
    session: Session,
    code: str,
    report: ReportInput,
    now: datetime,
    bundle: AttachedBundle | None = None,
) -> ProblemReport:
    """Store a validated report on endorsement ``code`` (``NotFound`` if there is none), with
    the bundle ``validate_bundle`` accepted, if any."""
    endorsement = get_endorsement(session, code)
    organization_id = None
    if endorsement.request_id is not None:
        request = session.get(EndorsementRequest, endorsement.request_id)
        organization_id = request.organization_id if request is not None else None
    row = ProblemReport(
        endorsement_id=endorsement.id,
        organization_id=organization_id,
        authority_id=endorsement.authority_id,
        category=report.category,
        text=report.text,
        contact=report.contact,
        created_at=now,
    )
    session.add(row)
    session.flush()
    if bundle is not None:
        session.add(
            ReportBundle(
                report_id=row.id,
                bundle=bundle.text,
                size=len(bundle.text.encode("utf-8")),
                checkpoint_size=bundle.checkpoint_size,
            )
        )
        session.flush()
    return row


def bundled_reports(session: Session, report_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Which of these reports carry a bundle: report id -> the bundle's size in bytes."""
    if not report_ids:
        return {}
    rows = session.execute(
        select(ReportBundle.report_id, ReportBundle.size).where(
            ReportBundle.report_id.in_(list(report_ids))
        )
    )
    return {report_id: size for report_id, size in rows}


def report_bundle(session: Session, account: Account, report_id: uuid.UUID) -> tuple[str, str]:
    """The bundle attached to a report ``account`` may read, and the endorsement's code;
    ``NotFound`` for a report it may not read or one without a bundle."""
    found = session.execute(
        select(ProblemReport, Endorsement.code)
        .join(Endorsement, Endorsement.id == ProblemReport.endorsement_id)
        .where(ProblemReport.id == report_id)
    ).first()
    if found is None or not _may_read(account, found[0]):
        raise NotFound(f"no report {report_id}")
    attached = session.get(ReportBundle, report_id)
    if attached is None:
        raise NotFound(f"report {report_id} carries no bundle")
    return attached.bundle, found[1]


def _may_read(account: Account, report: ProblemReport) -> bool:
    """The rule of ``list_reports``: the asking cooperative, the authority, admins."""
    return account.role is Role.ADMIN or account.organization_id in (
        report.organization_id,
        report.authority_id,
    )


def list_reports(
    session: Session,
    account: Account,
    *,
    code: str | None = None,
    limit: int = 100,
    after: tuple[datetime, uuid.UUID] | None = None,
) -> list[tuple[ProblemReport, str]]:
    """Reports ``account`` may read, newest first, with their endorsement codes.

    Admins read every report; anyone else those of endorsements their organization asked
    for (the cooperative) or gave (the authority). ``after`` is the (created_at, id) of the
    last report of the previous page."""
    query = (
        select(ProblemReport, Endorsement.code)
        .join(Endorsement, Endorsement.id == ProblemReport.endorsement_id)
        .order_by(ProblemReport.created_at.desc(), ProblemReport.id.desc())
        .limit(limit)
    )
    if account.role is not Role.ADMIN:
        query = query.where(
            or_(
                ProblemReport.organization_id == account.organization_id,
                ProblemReport.authority_id == account.organization_id,
            )
        )
    if code is not None:
        query = query.where(Endorsement.id == get_endorsement(session, code).id)
    if after is not None:
        query = query.where(tuple_(ProblemReport.created_at, ProblemReport.id) < after)
    return [(report, endorsement_code) for report, endorsement_code in session.execute(query)]


class RateLimiter:
    """At most ``limit`` events per ``window`` seconds per client, in memory, thread-safe.

    Clients are keyed by ``SHA-256(salt || address)`` with a random per-process salt: the
    address itself is never kept, and the keys mean nothing outside this process. At most
    ``max_clients`` keys are tracked (least recently seen dropped first), so a flood of
    addresses cannot exhaust memory."""

    def __init__(
        self,
        limit: int = 5,
        window: float = 60.0,
        max_clients: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window = window
        self.max_clients = max_clients
        self._clock = clock
        self._salt = secrets.token_bytes(32)
        self._lock = threading.Lock()
        self._events: OrderedDict[bytes, deque[float]] = OrderedDict()

    def _key(self, client: str) -> bytes:
        return hashlib.sha256(self._salt + client.encode("utf-8", "replace")).digest()

    def hit(self, client: str) -> None:
        """Count one event for ``client``; raise ``RateLimited`` (counting nothing) if it
        already had ``limit`` events in the window."""
        key = self._key(client)
        now = self._clock()
        with self._lock:
            events = self._events.get(key)
            if events is None:
                events = deque()
                self._events[key] = events
            self._events.move_to_end(key)
            while events and events[0] <= now - self.window:
                events.popleft()
            if len(events) >= self.limit:
                retry_after = max(1, int(events[0] + self.window - now + 0.999))
                raise RateLimited(
                    f"too many reports from this connection: try again in {retry_after} s",
                    retry_after=retry_after,
                )
            events.append(now)
            while len(self._events) > self.max_clients:
                self._events.popitem(last=False)
