"""Endorsement requests: a cooperative or processor asks an official of an authority to
endorse named batches of one product on a livestream (docs/records.md, "Endorsements").
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry import policy
from registry.catalog import batches as batch_service
from registry.context import RegistryContext
from registry.errors import Forbidden, InvalidInput, NotFound
from registry.models import (
    Account,
    Batch,
    EndorsementRequest,
    Organization,
    OrgKind,
    RequestStatus,
    Role,
)
from registry.records.evidence import gather_evidence
from registry.records.schema import Claim, Stream, parse_stream

DEFAULT_VALIDITY_AFTER_STREAM = timedelta(days=7)
"""How long an endorsement stays valid after its stream ends, unless the request says."""


@dataclass(frozen=True)
class _Validity:
    """The checked quantity, unit and validity window of a request."""

    unit: str
    valid_from: datetime
    valid_until: datetime


def request_endorsement(
    session: Session,
    ctx: RegistryContext,
    account: Account,
    *,
    batches: Sequence[str],
    official: str,
    stream: dict[str, Any],
    claims: Sequence[str],
    quantity: str,
    unit: str | None = None,
    valid_from: datetime | None = None,
    valid_until: datetime | None = None,
) -> EndorsementRequest:
    """Ask ``official`` to endorse ``batches`` (ids or codes, of one product) on ``stream``.

    Only a producer in the batches' lineage may ask; claims, quantity (at most the batches'
    total), unit and validity (by default the stream's start to a week after its end) are
    checked, and so are the origins against the authority's jurisdiction."""
    org = session.get(Organization, account.organization_id)
    assert org is not None
    if org.kind not in (OrgKind.COOPERATIVE, OrgKind.PROCESSOR):
        raise Forbidden("only cooperatives and processors request endorsements")
    covered = _covered_batches(session, batches)
    lineage_producers = {
        b.origin_org_id
        for b in session.scalars(
            select(Batch).where(
                Batch.id.in_(batch_service.ancestor_ids(session, [b.id for b in covered]))
            )
        )
    }
    if org.id not in lineage_producers:
        raise Forbidden("you may request endorsements only of batches you or your goods made")
    officer = _official(session, official)
    authority = session.get(Organization, officer.organization_id)
    assert authority is not None
    stream_doc = _stream(stream, officer)
    _check_claims(claims)
    validity = _validity(covered, stream_doc, quantity, unit, valid_from, valid_until)
    policy.check_origins(authority.jurisdiction, gather_evidence(session, covered).origin_regions)
    request = EndorsementRequest(
        organization_id=org.id,
        authority_id=authority.id,
        requested_by=account.id,
        product_id=covered[0].product_id,
        batch_ids=[str(b.id) for b in covered],
        official_id=officer.id,
        stream=stream_doc.model_dump(mode="json", exclude_none=True),
        claims=list(claims),
        quantity=quantity,
        unit=validity.unit,
        valid_from=validity.valid_from,
        valid_until=validity.valid_until,
        status=RequestStatus.PENDING,
    )
    session.add(request)
    session.flush()
    return request


def _covered_batches(session: Session, idents: Sequence[str]) -> list[Batch]:
    if not idents:
        raise InvalidInput("name at least one batch")
    found = [batch_service.get_batch(session, ident) for ident in idents]
    if len({b.id for b in found}) != len(found):
        raise InvalidInput("a batch is named twice")
    if len({b.product_id for b in found}) != 1:
        raise InvalidInput("an endorsement covers batches of one product")
    return found


def _check_claims(claims: Sequence[str]) -> None:
    for claim in claims:
        if claim not in Claim.__members__.values():
            raise InvalidInput(f"unknown claim {claim!r}; one of {', '.join(c for c in Claim)}")
    if not claims or len(set(claims)) != len(claims):
        raise InvalidInput("name each claim once, at least one")


def _validity(
    covered: list[Batch],
    stream: Stream,
    quantity: str,
    unit: str | None,
    valid_from: datetime | None,
    valid_until: datetime | None,
) -> _Validity:
    units = {b.unit for b in covered}
    unit = unit or next(iter(units))
    if units != {unit}:
        raise InvalidInput(f"quantity unit {unit} differs from the batches' unit")
    try:
        wanted = Decimal(quantity)
    except ArithmeticError:
        raise InvalidInput("quantity must be a decimal string") from None
    available = sum((Decimal(b.quantity) for b in covered), Decimal(0))
    if not 0 < wanted <= available:
        raise InvalidInput(f"quantity must be within 0..{available} {unit} (the batches' total)")
    start = datetime.fromisoformat(stream.start)
    end = datetime.fromisoformat(stream.end)
    valid_from = valid_from or start
    valid_until = valid_until or end + DEFAULT_VALIDITY_AFTER_STREAM
    if valid_until <= valid_from:
        raise InvalidInput("valid_until must be after valid_from")
    return _Validity(unit, valid_from, valid_until)


def _official(session: Session, ident: str) -> Account:
    try:
        query = select(Account).where(Account.id == uuid.UUID(ident))
    except ValueError:
        query = select(Account).where(Account.username == ident)
    officer = session.scalars(query).first()
    if officer is None or officer.role is not Role.OFFICIAL:
        raise InvalidInput(f"{ident!r} is not an official's account")
    return officer


def _stream(stream: dict[str, Any], officer: Account) -> Stream:
    document = dict(stream)
    hosts = list(document.get("hosts") or [])
    if not any(isinstance(h, dict) and h.get("role") == "official" for h in hosts):
        title = officer.title_zh or None
        official_host = {"name": officer.name_zh, "role": "official", "account": str(officer.id)}
        if title:
            official_host["title"] = title
        hosts.insert(0, official_host)
    document["hosts"] = hosts
    return parse_stream(document)


def get_request(session: Session, request_id: uuid.UUID) -> EndorsementRequest:
    """The endorsement request with this id; ``NotFound`` if there is none."""
    request = session.get(EndorsementRequest, request_id)
    if request is None:
        raise NotFound(f"no endorsement request {request_id}")
    return request
