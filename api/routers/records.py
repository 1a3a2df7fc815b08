"""Signed records: post a DSSE envelope (client-held key) or a draft (custodial key)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from api import idempotency, pagination
from api.deps import ContextDep, CurrentAccount, SessionDep
from api.schemas import AcceptedOut, EnvelopeIn, Page, RecordOut
from registry.crypto.dsse import Envelope
from registry.records import ingest as records
from registry.records import stored as stored_records

router = APIRouter(prefix="/api/v1/records", tags=["records"])
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]


def _accepted(session: Session, result: records.Accepted) -> AcceptedOut:
    return AcceptedOut(
        **RecordOut.of(result.row(session)).model_dump(), checkpoint_size=result.checkpoint_size
    )


@router.post("", status_code=201, response_model=AcceptedOut)
def post_envelope(
    body: EnvelopeIn,
    session: SessionDep,
    ctx: ContextDep,
    account: CurrentAccount,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Accept a record signed with a client-held key; returns it with its log index."""
    envelope = Envelope.from_json(body.model_dump())
    return idempotency.run(
        session,
        account,
        idempotency_key,
        "records:" + body.model_dump_json(),
        201,
        lambda: _accepted(session, records.submit(session, ctx, envelope, account)),
    )


# Bulk ingestion: envelopes travel and commit together (one transaction, one log lock, one
# checkpoint), which is what makes thousands of records per second possible (docs/performance.md).
MAX_BATCH = 1000


class EnvelopeBatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    envelopes: list[EnvelopeIn] = Field(
        min_length=1,
        max_length=MAX_BATCH,
        description="accepted in order, all or nothing (as many as fit in the body-size limit)",
    )


class BatchRecordOut(BaseModel):
    index: int
    digest: str
    kind: str


class BatchAcceptedOut(BaseModel):
    checkpoint_size: int = Field(description="the checkpoint that includes every record")
    records: list[BatchRecordOut]


@router.post("/batch", status_code=201, response_model=BatchAcceptedOut)
def post_envelopes(
    body: EnvelopeBatchIn,
    session: SessionDep,
    ctx: ContextDep,
    account: CurrentAccount,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Accept up to 1,000 records signed with client-held keys, in order, all or nothing:
    if one is refused, none is logged and the problem says why. Returns each record's log
    index and digest, and the one checkpoint that includes them all."""
    envelopes = [Envelope.from_json(e.model_dump()) for e in body.envelopes]

    def accept() -> BatchAcceptedOut:
        accepted = records.submit_many(session, ctx, envelopes, account)
        return BatchAcceptedOut(
            checkpoint_size=accepted[-1].checkpoint_size,
            records=[BatchRecordOut(index=a.index, digest=a.digest, kind=a.kind) for a in accepted],
        )

    return idempotency.run(
        session, account, idempotency_key, "records-batch:" + body.model_dump_json(), 201, accept
    )


@router.post("/custodial", status_code=201, response_model=AcceptedOut)
def post_draft(
    session: SessionDep,
    ctx: ContextDep,
    account: CurrentAccount,
    draft: Annotated[dict[str, Any], Body(description="the record without org/prev/time")],
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Sign a record with the account's custodial key and accept it."""
    return idempotency.run(
        session,
        account,
        idempotency_key,
        "custodial:" + json.dumps(draft, sort_keys=True),
        201,
        lambda: _accepted(session, records.sign_and_submit(session, ctx, account, draft)),
    )


@router.get("", response_model=Page[RecordOut])
def list_records(
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: str | None = None,
    kind: str | None = None,
) -> Page[RecordOut]:
    after = pagination.decode_int(cursor)
    rows, more = stored_records.records_page(session, after, limit, kind)
    return Page(
        items=[RecordOut.of(r) for r in rows],
        next_cursor=pagination.encode(rows[-1].log_index) if more else None,
    )


@router.get("/{record_id}", response_model=RecordOut)
def get_record(record_id: str, session: SessionDep) -> RecordOut:
    """By log index or by payload digest (hex SHA-256)."""
    return RecordOut.of(stored_records.record_by_id(session, record_id))
