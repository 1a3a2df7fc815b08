"""Which endorsement requests and endorsements an account may see, and the lists pages and
the API show.

One rule for requests (docs/security.md): an administrator sees every request; anyone else
sees the requests of their own organization (as requester) and those addressed to it (as
the reviewing authority). The API answers 403 for another's request, the back office "not
found"; both ask ``may_see_request``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from registry.errors import NotFound
from registry.models import (
    Account,
    Endorsement,
    EndorsementBatch,
    EndorsementRequest,
    EndorsementSigner,
    Organization,
    OrgKind,
    RequestStatus,
    Role,
)

OPEN_REQUESTS = (RequestStatus.PENDING, RequestStatus.PARTIALLY_APPROVED)
"""The request states an official still has to decide."""


def may_see_request(account: Account, request: EndorsementRequest) -> bool:
    """Whether ``account`` may see ``request``: admin, requester or reviewing authority."""
    return account.role is Role.ADMIN or account.organization_id in (
        request.organization_id,
        request.authority_id,
    )


def _visible_requests(account: Account) -> ColumnElement[bool] | None:
    """The SQL form of ``may_see_request`` (None: no restriction)."""
    if account.role is Role.ADMIN:
        return None
    return or_(
        EndorsementRequest.organization_id == account.organization_id,
        EndorsementRequest.authority_id == account.organization_id,
    )


def requests_visible_to(
    session: Session,
    account: Account,
    statuses: Iterable[RequestStatus] | None = None,
    limit: int = 200,
) -> list[EndorsementRequest]:
    """The requests ``account`` may see, newest first, optionally only in ``statuses``: a
    producer's own requests, an authority's review queue, everything for an admin."""
    query = select(EndorsementRequest).order_by(EndorsementRequest.created_at.desc()).limit(limit)
    condition = _visible_requests(account)
    if condition is not None:
        query = query.where(condition)
    if statuses is not None:
        query = query.where(EndorsementRequest.status.in_(list(statuses)))
    return list(session.scalars(query))


def visible_request(session: Session, account: Account, request_id: str) -> EndorsementRequest:
    """The request with this id if ``account`` may see it; NotFound otherwise (also for an
    id that is not a UUID)."""
    try:
        found = session.get(EndorsementRequest, uuid.UUID(request_id))
    except ValueError:
        found = None
    if found is None or not may_see_request(account, found):
        raise NotFound(f"no endorsement request {request_id}")
    return found


def endorsements_for(
    session: Session, account: Account, org: Organization, limit: int = 200
) -> list[Endorsement]:
    """Endorsements ``account`` (of ``org``) may list: an authority's own, a producer's
    (through its requests), everything for an admin; newest first."""
    query = select(Endorsement).order_by(Endorsement.record_index.desc()).limit(limit)
    if account.role is Role.ADMIN:
        return list(session.scalars(query))
    if org.kind is OrgKind.AUTHORITY:
        return list(session.scalars(query.where(Endorsement.authority_id == org.id)))
    mine = select(EndorsementRequest.id).where(EndorsementRequest.organization_id == org.id)
    return list(session.scalars(query.where(Endorsement.request_id.in_(mine))))


def can_see_endorsement(session: Session, account: Account, endorsement: Endorsement) -> bool:
    """Whether ``account`` may open an endorsement's page: admin, the endorsing authority,
    or the organization that requested it."""
    if account.role is Role.ADMIN or endorsement.authority_id == account.organization_id:
        return True
    if endorsement.request_id is None:
        return False
    request = session.get(EndorsementRequest, endorsement.request_id)
    return request is not None and request.organization_id == account.organization_id


def request_of(session: Session, endorsement: Endorsement) -> EndorsementRequest | None:
    """The request an endorsement answered, if it came from one."""
    if endorsement.request_id is None:
        return None
    return session.get(EndorsementRequest, endorsement.request_id)


def signers_of(session: Session, endorsement: Endorsement) -> list[Account]:
    """The officials who signed an endorsement."""
    return list(
        session.scalars(
            select(Account)
            .join(EndorsementSigner, EndorsementSigner.account_id == Account.id)
            .where(EndorsementSigner.endorsement_id == endorsement.id)
        )
    )


def endorsements_of_batch(session: Session, batch_id: uuid.UUID) -> list[Endorsement]:
    """Endorsements covering a batch, oldest first."""
    return list(
        session.scalars(
            select(Endorsement)
            .join(EndorsementBatch, EndorsementBatch.endorsement_id == Endorsement.id)
            .where(EndorsementBatch.batch_id == batch_id)
            .order_by(Endorsement.record_index)
        )
    )


def officials_for(session: Session, org: Organization) -> list[tuple[Account, Organization]]:
    """Active officials whose authority covers the organization's region (all of them, if
    none does), each with their authority."""
    rows = session.execute(
        select(Account, Organization)
        .join(Organization, Organization.id == Account.organization_id)
        .where(Account.role == Role.OFFICIAL, Account.disabled_at.is_(None))
        .order_by(Organization.name_zh, Account.username)
    ).all()
    pairs = [(a, o) for a, o in rows]
    covering = [
        (a, o) for a, o in pairs if o.jurisdiction and org.region_code.startswith(o.jurisdiction)
    ]
    return covering or pairs


ENDORSEMENTS_LISTED_MAX = 500
"""How many endorsements the API's list returns at most (the newest)."""


def latest_endorsements(session: Session, authority_id: uuid.UUID | None) -> list[Endorsement]:
    """The newest endorsements, by record index descending, at most
    ``ENDORSEMENTS_LISTED_MAX`` of them (not paginated: older ones are not listed), of one
    authority when ``authority_id`` is given."""
    query = (
        select(Endorsement).order_by(Endorsement.record_index.desc()).limit(ENDORSEMENTS_LISTED_MAX)
    )
    if authority_id is not None:
        query = query.where(Endorsement.authority_id == authority_id)
    return list(session.scalars(query))
