"""Lineage traces, recalls and webhooks.

The router's lifespan starts the webhook deliverer and hooks the recall outbox into the
app's sessions, so a recall accepted by any endpoint enqueues its notifications in its own
transaction and they go out right after the commit.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, FastAPI, Header, Query, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from api import idempotency, pagination
from api.deps import ContextDep, CurrentAccount, SessionDep
from registry import trace as trace_service
from registry.notifications import subscriptions as webhook_subscriptions
from registry.trace import Direction


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    deliverer = trace_service.recall_deliverer(app.state.session_factory, app.state.ctx)
    app.state.webhook_deliverer = deliverer
    deliverer.start()
    try:
        yield
    finally:
        deliverer.stop()


router = APIRouter(prefix="/api/v1", tags=["trace and recalls"], lifespan=lifespan)


# --- bodies ----------------------------------------------------------------------------------


class ProductName(BaseModel):
    id: uuid.UUID
    name_zh: str
    name_en: str


class OriginOut(BaseModel):
    id: uuid.UUID
    kind: str | None
    name_zh: str | None
    name_en: str | None


class TraceBatchOut(BaseModel):
    id: uuid.UUID
    code: str
    ref: str = Field(description="'<product id>:<lot>', as records name the batch")
    lot: str
    depth: int = Field(description="fewest processing steps from the traced batch")
    product: ProductName
    quantity: str
    unit: str
    origin: OriginOut = Field(description="the organization whose record created the batch")
    region_code: str
    recalled: bool
    recall_digest: str | None


class TraceEdgeOut(BaseModel):
    input: uuid.UUID
    input_code: str
    output: uuid.UUID
    output_code: str
    quantity: str = Field(description="of the input consumed")
    record_index: int = Field(description="log index of the processing record")


class TraceRecordOut(BaseModel):
    index: int
    kind: str
    digest: str
    time: datetime
    organization_id: uuid.UUID | None
    batches: list[str] = Field(description="codes of the traced batches it touches")


class TraceOut(BaseModel):
    batch: TraceBatchOut
    direction: Direction
    truncated: bool = Field(description="more batches were reached than `limit`")
    batches: list[TraceBatchOut]
    edges: list[TraceEdgeOut]
    records: list[TraceRecordOut]


class RecallIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=500)
    scope: Literal["batch_and_descendants"] = "batch_and_descendants"


class SignerOut(BaseModel):
    username: str
    name_zh: str
    name_en: str
    title_zh: str
    title_en: str
    role: str


class RecallSummaryOut(BaseModel):
    index: int = Field(description="log index of the recall record")
    digest: str
    time: datetime
    logged_at: datetime
    reason: str | None
    scope: str | None
    organization: OriginOut | None = Field(description="who recalled")
    signed_by: SignerOut | None = Field(description="the official (or clerk) who signed")
    batches: list[dict[str, Any]] = Field(description="the batches the recall names")
    batches_reached: int
    descendants_reached: int
    endorsements: list[str] = Field(description="codes of endorsements covering a reached batch")


class RecallOut(BaseModel):
    recall: RecallSummaryOut
    batches_reached: list[TraceBatchOut]
    endorsements_recalled: list[str] = Field(description="turned recalled by this recall")
    notified_organizations: list[uuid.UUID]


class RecallPage(BaseModel):
    items: list[RecallSummaryOut]
    next_cursor: str | None


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(min_length=1, max_length=2000)
    events: list[str] = Field(default=["recall"], min_length=1, max_length=10)


class WebhookOut(BaseModel):
    id: uuid.UUID
    organization_id: uuid.UUID
    url: str
    events: list[str]
    secret_prefix: str
    created_at: datetime


class NewWebhookOut(WebhookOut):
    secret: str = Field(
        description="Shown once. X-Registry-Signature is sha256=<hex HMAC-SHA256(secret, body)>"
    )


class AttemptOut(BaseModel):
    number: int
    attempted_at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int


class DeliveryOut(BaseModel):
    id: uuid.UUID
    event: str
    event_id: str
    status: str = Field(description="pending, delivered or failed")
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    log: list[AttemptOut]


# --- trace -----------------------------------------------------------------------------------


@router.get("/batches/{batch}/trace", response_model=TraceOut)
def batch_trace(
    batch: str,
    session: SessionDep,
    direction: Direction = Direction.BACKWARD,
    limit: Annotated[int, Query(ge=1, le=20_000)] = trace_service.DEFAULT_LIMIT,
) -> Response:
    """Backward: every batch this one was made from; forward: every batch made from it.
    With the lineage edges and the records touching those batches. By id or code."""
    found = trace_service.trace(session, batch, direction, limit)
    return Response(orjson.dumps(found.document()), media_type="application/json")


# --- recalls ---------------------------------------------------------------------------------


@router.post("/batches/{batch}/recall", status_code=201, response_model=RecallOut)
def recall_batch(
    batch: str,
    body: RecallIn,
    session: SessionDep,
    ctx: ContextDep,
    account: CurrentAccount,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> JSONResponse:
    """Sign a recall with your custodial key. An official of an authority whose jurisdiction
    covers the batch, or the batch's producer, may; it reaches every descendant."""

    def produce() -> dict[str, Any]:
        return trace_service.issue_recall(
            session, ctx, account, batch, body.reason, body.scope
        ).document()

    return idempotency.run(
        session, account, idempotency_key, f"recall:{batch}:" + body.model_dump_json(), 201, produce
    )


@router.get("/recalls", response_model=RecallPage)
def list_recalls(
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: str | None = None,
) -> RecallPage:
    """Every recall, newest first: what was recalled, why, by whom, and what it reached."""
    listing = trace_service.recall_listing(session, limit, pagination.decode_int(cursor))
    return RecallPage(
        items=[RecallSummaryOut.model_validate(item) for item in listing.items],
        next_cursor=None if listing.next_before is None else pagination.encode(listing.next_before),
    )


# --- webhooks --------------------------------------------------------------------------------


@router.post("/webhooks", status_code=201, response_model=NewWebhookOut, tags=["webhooks"])
def create_webhook(
    body: WebhookIn, session: SessionDep, ctx: ContextDep, account: CurrentAccount
) -> dict[str, Any]:
    """Subscribe your organization to events. The secret is shown once."""
    return trace_service.subscribe(session, ctx, account, body.url, body.events)


@router.get("/webhooks", response_model=list[WebhookOut], tags=["webhooks"])
def list_webhooks(session: SessionDep, account: CurrentAccount) -> list[dict[str, Any]]:
    return trace_service.subscription_documents(session, account)


@router.delete("/webhooks/{webhook_id}", status_code=204, tags=["webhooks"])
def delete_webhook(webhook_id: uuid.UUID, session: SessionDep, account: CurrentAccount) -> Response:
    webhook_subscriptions.delete_subscription(session, account, webhook_id)
    return Response(status_code=204)


@router.get(
    "/webhooks/{webhook_id}/deliveries", response_model=list[DeliveryOut], tags=["webhooks"]
)
def webhook_deliveries(
    webhook_id: uuid.UUID,
    session: SessionDep,
    account: CurrentAccount,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[dict[str, Any]]:
    """The delivery log, newest first: each event with every attempt."""
    return trace_service.delivery_log(session, account, webhook_id, limit)
