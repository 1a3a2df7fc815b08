"""Exports (EPCIS 2.0 JSON-LD, FSMA 204 spreadsheet) and EPCIS capture."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query
from fastapi.responses import JSONResponse, Response

from api.deps import ContextDep, CurrentAccount, SessionDep
from registry import exports
from registry.exports.epcis import capture_service

router = APIRouter(tags=["exports"])

EPCIS_MEDIA_TYPE = "application/ld+json"
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
Since = Annotated[
    str | None,
    Query(description="event time from: a date (a day in UTC+08:00) or an RFC 3339 time"),
]
Until = Annotated[str | None, Query(description="event time until (inclusive), like since")]


@router.get(
    "/api/v1/export/epcis",
    responses={200: {"content": {EPCIS_MEDIA_TYPE: {}}}},
    response_class=Response,
)
def export_epcis(
    session: SessionDep,
    ctx: ContextDep,
    batch: Annotated[
        str | None,
        Query(description="the trace of this batch (id or code): ancestors and descendants"),
    ] = None,
    since: Since = None,
    until: Until = None,
) -> Response:
    """EPCIS 2.0 JSON-LD of the supply-chain records: the whole registry, a batch's trace
    and/or a time range. Every event names its log index and digest (``gr:`` fields)."""
    body = exports.epcis_export_json(
        session, ctx.settings.base_url, batch=batch, since=since, until=until, now=ctx.clock()
    )
    return Response(body, media_type=EPCIS_MEDIA_TYPE)


Lot = Annotated[str | None, Query(description="traceability lot code")]
Product = Annotated[str | None, Query(description="product id or GTIN")]


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"'}


@router.get("/api/v1/export/fsma204.csv", response_class=Response)
def export_fsma204_csv(
    session: SessionDep,
    ctx: ContextDep,
    lot: Lot = None,
    product: Product = None,
    since: Since = None,
    until: Until = None,
) -> Response:
    """FDA FSMA 204 sortable spreadsheet: the key data elements of each critical tracking
    event for a date range, a product and/or a lot, as CSV (UTF-8 with a byte-order mark).
    The TLC is the GTIN and the lot, ``(01)…(10)…``; its source reference a registry URL."""
    body = exports.fsma204_file(
        session,
        "csv",
        lot=lot,
        product=product,
        since=since,
        until=until,
        base_url=ctx.settings.base_url,
    )
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers=_attachment("fsma204.csv"),
    )


@router.get("/api/v1/export/fsma204.xlsx", response_class=Response)
def export_fsma204_xlsx(
    session: SessionDep,
    ctx: ContextDep,
    lot: Lot = None,
    product: Product = None,
    since: Since = None,
    until: Until = None,
) -> Response:
    """The same rows as an Excel workbook (header frozen, autofilter on)."""
    body = exports.fsma204_file(
        session,
        "xlsx",
        lot=lot,
        product=product,
        since=since,
        until=until,
        base_url=ctx.settings.base_url,
    )
    return Response(body, media_type=XLSX_MEDIA_TYPE, headers=_attachment("fsma204.xlsx"))


@router.post("/api/v1/epcis/capture", tags=["exports"])
def capture_epcis(
    session: SessionDep,
    ctx: ContextDep,
    account: CurrentAccount,
    document: Annotated[dict[str, Any], Body(description="an EPCIS 2.0 EPCISDocument")],
    atomic: Annotated[
        bool, Query(description="all or nothing (default); false keeps the good events")
    ] = True,
) -> JSONResponse:
    """Capture an EPCIS 2.0 document: each supported event becomes a record signed with the
    account's custodial key. A 422 problem lists each refused event (index, eventID, what
    is wrong); with ``atomic=false`` the accepted events stay and the refused are listed."""
    result = capture_service.capture(session, ctx, account, document, atomic=atomic)
    return JSONResponse(result.report(), status_code=201 if result.captured else 200)
