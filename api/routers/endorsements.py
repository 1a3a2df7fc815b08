"""Endorsements: requests, review, approval, rejection, revocation; verification and scans."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sse_starlette import EventSourceResponse

from api.deps import ContextDep, CurrentAccount, SessionDep
from api.live import live_events
from api.scan import scan_entry, scan_response
from registry.endorsements import decisions as endorsement_decisions
from registry.endorsements import published as published_endorsements
from registry.endorsements import queries as endorsement_queries
from registry.endorsements import requests as endorsement_requests
from registry.endorsements import scans
from registry.errors import Forbidden, InvalidInput
from registry.models import Endorsement, EndorsementRequest, RequestStatus
from registry.records import stored as stored_records

router = APIRouter(prefix="/api/v1", tags=["endorsements"])


class StreamIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    platform: str = Field(description="taobao_live, pinduoduo, douyin, kuaishou, ...")
    room: str = Field(min_length=1, max_length=300, description="room id or URL")
    title: str = Field(min_length=1, max_length=500)
    start: str = Field(description="RFC 3339 with offset")
    end: str = Field(description="RFC 3339 with offset")
    hosts: list[dict[str, Any]] = Field(
        default_factory=list, description="streamers; the official is added"
    )


class RequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    batches: list[str] = Field(min_length=1, max_length=20, description="batch codes or ids")
    official: str = Field(description="the official's username or account id")
    stream: StreamIn
    claims: list[str] = Field(min_length=1, max_length=5)
    quantity: str
    unit: str | None = None
    valid_from: datetime | None = None
    valid_until: datetime | None = None


class RequestOut(BaseModel):
    id: uuid.UUID
    status: str
    code: str | None
    organization_id: uuid.UUID
    authority_id: uuid.UUID
    official_id: uuid.UUID
    product_id: uuid.UUID
    batch_ids: list[str]
    stream: dict[str, Any]
    claims: list[str]
    quantity: str
    unit: str
    valid_from: datetime
    valid_until: datetime
    signatures: int = Field(description="officials' signatures gathered so far")
    reason: str | None
    created_at: datetime
    decided_at: datetime | None

    @classmethod
    def of(cls, request: EndorsementRequest) -> RequestOut:
        pending = request.pending_envelope or {}
        return cls(
            id=request.id,
            status=request.status.value,
            # Chosen at the first signature, but public only once the endorsement exists.
            code=request.code if request.status is RequestStatus.APPROVED else None,
            organization_id=request.organization_id,
            authority_id=request.authority_id,
            official_id=request.official_id,
            product_id=request.product_id,
            batch_ids=request.batch_ids,
            stream=request.stream,
            claims=request.claims,
            quantity=request.quantity,
            unit=request.unit,
            valid_from=request.valid_from,
            valid_until=request.valid_until,
            signatures=len(pending.get("signatures", [])),
            reason=request.reason,
            created_at=request.created_at,
            decided_at=request.decided_at,
        )


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=500)


class PreconditionOut(BaseModel):
    id: str
    ok: bool
    detail: str


class EvidenceRecordOut(BaseModel):
    index: int
    kind: str
    digest: str
    verified: bool
    problem: str | None
    record: dict[str, Any] | None


class ReviewOut(BaseModel):
    request: RequestOut
    preconditions: list[PreconditionOut]
    ready: bool = Field(description="true when every precondition holds")
    records: list[EvidenceRecordOut]


class EndorsementOut(BaseModel):
    code: str
    status: str
    authority_id: uuid.UUID
    product_id: uuid.UUID
    valid_from: datetime
    valid_until: datetime
    record_index: int
    revocation_reason: str | None
    scans: int


class ScansOut(BaseModel):
    code: str
    total: int
    by_hour: list[dict[str, Any]]


def _visible(request: EndorsementRequest, account: Any) -> None:
    if not endorsement_queries.may_see_request(account, request):
        raise Forbidden("this request belongs to another organization")


@router.post("/endorsement-requests", status_code=201, response_model=RequestOut)
def create_request(
    body: RequestIn, session: SessionDep, ctx: ContextDep, account: CurrentAccount
) -> RequestOut:
    data = body.model_dump(exclude={"stream"})
    stream = body.stream.model_dump()
    return RequestOut.of(
        endorsement_requests.request_endorsement(session, ctx, account, stream=stream, **data)
    )


@router.get("/endorsement-requests", response_model=list[RequestOut])
def list_requests(
    session: SessionDep, account: CurrentAccount, status: RequestStatus | None = None
) -> list[RequestOut]:
    """Your organization's requests; for an official, the authority's review queue too."""
    statuses = [status] if status else None
    found = endorsement_queries.requests_visible_to(session, account, statuses, limit=500)
    return [RequestOut.of(r) for r in found]


@router.get("/endorsement-requests/{request_id}", response_model=RequestOut)
def get_request(request_id: uuid.UUID, session: SessionDep, account: CurrentAccount) -> RequestOut:
    request = endorsement_requests.get_request(session, request_id)
    _visible(request, account)
    return RequestOut.of(request)


@router.get("/endorsement-requests/{request_id}/review", response_model=ReviewOut)
def review(request_id: uuid.UUID, session: SessionDep, account: CurrentAccount) -> ReviewOut:
    """The evidence an official reviews: the whole chain, each record's verification, and
    every precondition with its reason."""
    result = endorsement_decisions.review(session, request_id, account)
    import json

    from registry.records.stored import record_problem

    keys = {k.key_id: k for k in stored_records.all_keys(session)}
    return ReviewOut(
        request=RequestOut.of(result["request"]),
        preconditions=[PreconditionOut(**p.__dict__) for p in result["preconditions"]],
        ready=all(p.ok for p in result["preconditions"]),
        records=[
            EvidenceRecordOut(
                index=r.log_index,
                kind=r.kind,
                digest=r.digest,
                verified=record_problem(r, keys) is None,
                problem=record_problem(r, keys),
                record=json.loads(r.payload) if r.payload is not None else None,
            )
            for r in result["evidence"].records
        ],
    )


@router.post("/endorsement-requests/{request_id}/approve", response_model=RequestOut)
def approve(
    request_id: uuid.UUID, session: SessionDep, ctx: ContextDep, account: CurrentAccount
) -> RequestOut:
    """Sign the endorsement (custodial key). With a threshold, the request stays
    ``partially_approved`` until enough distinct officials have signed."""
    return RequestOut.of(endorsement_decisions.approve(session, ctx, request_id, account))


@router.post("/endorsement-requests/{request_id}/reject", response_model=RequestOut)
def reject(
    request_id: uuid.UUID, body: ReasonIn, session: SessionDep, account: CurrentAccount
) -> RequestOut:
    return RequestOut.of(endorsement_decisions.reject(session, request_id, account, body.reason))


def _out(session: Any, ctx: Any, counter: Any, endorsement: Endorsement) -> EndorsementOut:
    return EndorsementOut(
        code=endorsement.code,
        status=published_endorsements.status_of(session, endorsement, ctx.clock()).value,
        authority_id=endorsement.authority_id,
        product_id=endorsement.product_id,
        valid_from=endorsement.valid_from,
        valid_until=endorsement.valid_until,
        record_index=endorsement.record_index,
        revocation_reason=endorsement.revocation_reason,
        scans=scans.total_scans(session, counter, endorsement.id),
    )


@router.get("/endorsements", response_model=list[EndorsementOut])
def list_endorsements(
    request: Request, session: SessionDep, ctx: ContextDep, authority_id: uuid.UUID | None = None
) -> list[EndorsementOut]:
    counter = request.app.state.scan_counter
    found = endorsement_queries.latest_endorsements(session, authority_id)
    return [_out(session, ctx, counter, e) for e in found]


@router.get("/endorsements/{code}", response_model=EndorsementOut)
def get_endorsement(
    code: str, request: Request, session: SessionDep, ctx: ContextDep
) -> EndorsementOut:
    endorsement = published_endorsements.get_endorsement(session, code)
    return _out(session, ctx, request.app.state.scan_counter, endorsement)


@router.get("/endorsements/{code}/scans", response_model=ScansOut)
def endorsement_scans(code: str, request: Request, session: SessionDep) -> ScansOut:
    endorsement = published_endorsements.get_endorsement(session, code)
    counter = request.app.state.scan_counter
    return ScansOut(
        code=endorsement.code,
        total=scans.total_scans(session, counter, endorsement.id),
        by_hour=[
            {"hour": hour.isoformat(), "count": count}
            for hour, count in scans.scans_by_hour(session, counter, endorsement.id)
        ],
    )


@router.get(
    "/endorsements/{code}/events",
    response_class=EventSourceResponse,
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "state events (status and scans), heartbeats; ends after 30 s",
        },
        404: {"content": {"application/problem+json": {}}, "description": "no such code"},
    },
)
async def endorsement_events(code: str, request: Request) -> EventSourceResponse:
    """The endorsement's status and scan total as server-sent events, for the OBS overlay:
    a ``state`` event (``{"code", "status", "scans"}``, with ``retry: 1000``) at once and on
    every change (within about a second), a ``heartbeat`` event every 10 s. The server ends
    the stream after 30 s; an ``EventSource`` reconnects by itself and gets the state first."""
    return await live_events(request, code)


@router.post("/endorsements/{code}/revoke", response_model=EndorsementOut)
def revoke(
    code: str,
    body: ReasonIn,
    request: Request,
    session: SessionDep,
    ctx: ContextDep,
    account: CurrentAccount,
) -> EndorsementOut:
    endorsement = endorsement_decisions.revoke(session, ctx, code, account, body.reason)
    return _out(session, ctx, request.app.state.scan_counter, endorsement)


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def _count(value: str | None) -> bool:
    """``?count=``, read as FastAPI reads a boolean query parameter."""
    if value is None or value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise InvalidInput("count must be true or false", field="count")


@router.get(
    "/verify/{code}",
    response_class=Response,
    responses={
        200: {"content": {"application/json": {}}, "description": "the verification document"},
        304: {"description": "not modified (If-None-Match)"},
        404: {"content": {"application/problem+json": {}}, "description": "no such code"},
    },
    # The OpenAPI entry. Requests are answered by the same function as a plain Starlette
    # route registered ahead of every other route (app.factory.SCAN_ROUTES), so the parameters
    # are read from the request and documented here.
    openapi_extra={
        "parameters": [
            {"name": "code", "in": "path", "required": True, "schema": {"type": "string"}},
            {
                "name": "count",
                "in": "query",
                "required": False,
                "schema": {"type": "boolean", "default": True},
                "description": "false (0) for a fetch that is not a scan",
            },
        ]
    },
)
async def verify(request: Request) -> Response:
    """Everything a client needs to verify the endorsement on its own: ``code``, ``status``,
    the endorsement, the batches and their lineage, every record's envelope with its log
    index and inclusion proof, the signing keys' registrations, the precondition results,
    and the signed checkpoint. Each call counts as a scan (no IP address is stored), except
    with ``count=0``: the consumer page's script, whose page view was counted already.

    Served from memory (``registry.endorsements.scan_cache``): the status is computed per
    request from the clock, a revocation or recall shows within 2 s, ``ETag`` /
    ``If-None-Match`` give a 304, and ``Cache-Control: public, max-age=1`` lets a CDN absorb
    a burst. The live scan total is at ``/api/v1/endorsements/{code}/scans``."""
    entry = await scan_entry(request, request.path_params["code"])
    # No query string (a scanned QR): no parsing.
    if not request.scope["query_string"] or _count(request.query_params.get("count")):
        request.app.state.scan_counter.record(entry.endorsement_id)
    now = request.app.state.ctx.clock()
    return scan_response(request, entry.document_json(entry.status(now)), "application/json")
