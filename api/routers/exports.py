"""Exports (EPCIS 2.0 JSON-LD, FSMA 204 spreadsheet) and EPCIS capture."""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from sqlalchemy.orm import Session

from api.deps import ContextDep, CurrentAccount, SessionDep
from api.problems import problem, status_for
from registry import exports
from registry.context import RegistryContext
from registry.exports.epcis import capture_jobs, xml_binding
from registry.exports.epcis.capture_service import MAX_EVENTS
from registry.settings import Settings

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
    responses={200: {"content": {EPCIS_MEDIA_TYPE: {}, "application/xml": {}}}},
    response_class=Response,
)
def export_epcis(
    request: Request,
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
    and/or a time range. Every event names its log index and digest (``gr:`` fields).
    ``Accept: application/xml`` (or ``text/xml``) answers the same document in the EPCIS
    2.0 XML binding."""
    body = exports.epcis_export_json(
        session, ctx.settings.base_url, batch=batch, since=since, until=until, now=ctx.clock()
    )
    # XML only when asked for first: a browser's Accept lists application/xml after HTML.
    first = request.headers.get("accept", "").split(",", 1)[0].split(";", 1)[0].strip().lower()
    if first in xml_binding.XML_MEDIA_TYPES:
        xml = xml_binding.document_to_xml(json.loads(body))
        return Response(xml, media_type="application/xml")
    return Response(body, media_type=EPCIS_MEDIA_TYPE)


Lot = Annotated[str | None, Query(description="traceability lot code")]
Product = Annotated[str | None, Query(description="product id or GTIN")]


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"'}


SHEET_SPOOL_BYTES = 8 * 1024 * 1024
"""A sheet larger than this is written to a temporary file, not held in memory."""


def _sheet(
    session: Session,
    ctx: RegistryContext,
    file_format: str,
    media_type: str,
    filters: dict[str, str | None],
) -> Response:
    """The sheet written as its rows are read (bad filters raise before), then sent from
    the spool in pieces, with its length."""
    spool = tempfile.SpooledTemporaryFile(max_size=SHEET_SPOOL_BYTES)  # noqa: SIM115 - closed by pieces()
    try:
        exports.write_fsma204(
            session, file_format, spool, base_url=ctx.settings.base_url, **filters
        )
        size = spool.tell()
        spool.seek(0)
    except BaseException:
        spool.close()
        raise

    def pieces() -> Iterator[bytes]:
        with spool:
            while piece := spool.read(64 * 1024):
                yield piece

    headers = {**_attachment(f"fsma204.{file_format}"), "Content-Length": str(size)}
    return StreamingResponse(pieces(), media_type=media_type, headers=headers)


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
    The TLC is the GTIN and the lot, ``(01)…(10)…``, the input TLCs of a transformation too;
    its source reference a registry URL."""
    filters = {"lot": lot, "product": product, "since": since, "until": until}
    return _sheet(session, ctx, "csv", "text/csv; charset=utf-8", filters)


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
    filters = {"lot": lot, "product": product, "since": since, "until": until}
    return _sheet(session, ctx, "xlsx", XLSX_MEDIA_TYPE, filters)


CAPTURE_PATH = "/api/v1/epcis/capture"
CAPTURE_PATHS = re.compile(re.escape(CAPTURE_PATH) + "/?")
"""The path that takes a capture document: its body limit is ``max_capture_bytes``."""
ErrorBehaviour = Annotated[
    str | None,
    Header(
        alias="GS1-EPCIS-Capture-Error-Behaviour",
        description="rollback (all or nothing, the default) or proceed (keep the good events)",
    ),
]
_LIMIT_HEADERS = {
    "GS1-EPCIS-Capture-Limit": {
        "description": f"the most events one capture may hold ({MAX_EVENTS})",
        "schema": {"type": "integer", "example": MAX_EVENTS},
    },
    "GS1-EPCIS-Capture-File-Size-Limit": {
        "description": "the largest capture body, in bytes: REGISTRY_MAX_CAPTURE_BYTES "
        f"(default {Settings.model_fields['max_capture_bytes'].default}); 413 beyond",
        "schema": {
            "type": "integer",
            "example": Settings.model_fields["max_capture_bytes"].default,
        },
    },
    "GS1-EPCIS-Capture-Error-Behaviour": {
        "description": "the error behaviours taken: rollback, proceed",
        "schema": {"type": "string"},
    },
}
_CAPTURE_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"headers": _LIMIT_HEADERS, "description": text}
    for status, text in (
        (201, "captured: the report"),
        (202, "accepted (Prefer: respond-async): the job, running"),
        (413, "the body is larger than GS1-EPCIS-Capture-File-Size-Limit"),
        (422, "refused: every event's problems, or over GS1-EPCIS-Capture-Limit events"),
    )
}


def _limits(ctx: RegistryContext) -> dict[str, str]:
    return capture_jobs.limits(ctx.settings.max_capture_bytes)


def _wake_worker(request: Request) -> None:
    """The job is committed (the request's session commits before the answer): this
    process's capture worker may run it now rather than at its next look."""
    worker = getattr(request.app.state, "capture_worker", None)
    if worker is not None:
        worker.wake()


async def _capture_document(request: Request) -> dict[str, Any]:
    """The body of a capture: an EPCIS 2.0 JSON-LD document, or an XML one (``application/xml``,
    ``text/xml``) read into the same JSON-LD form (``xml_binding``). JSON is refused as a
    JSON body parameter is (400 malformed, 422 not an object)."""
    body = await request.body()
    if xml_binding.is_xml(request.headers.get("content-type")):
        return xml_binding.document_from_xml(body)
    if not body:
        raise RequestValidationError(
            [{"type": "missing", "loc": ("body",), "msg": "Field required"}]
        )
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        position = getattr(exc, "pos", 0)
        error = {"type": "json_invalid", "loc": ("body", position), "msg": "JSON decode error"}
        raise RequestValidationError([{**error, "input": {}, "ctx": {"error": str(exc)}}]) from None
    if not isinstance(document, dict):
        message = "Input should be a valid dictionary"
        raise RequestValidationError([{"type": "dict_type", "loc": ("body",), "msg": message}])
    return document


_CAPTURE_BODY = {
    "requestBody": {
        "required": True,
        "description": "an EPCIS 2.0 EPCISDocument, JSON-LD or XML (EPCIS 2.0.1 XML binding)",
        "content": {
            "application/json": {"schema": {"type": "object"}},
            "application/ld+json": {"schema": {"type": "object"}},
            "application/xml": {"schema": {"type": "string"}},
            "text/xml": {"schema": {"type": "string"}},
        },
    }
}


@router.post(
    CAPTURE_PATH,
    tags=["exports"],
    status_code=201,
    openapi_extra=_CAPTURE_BODY,
    responses=_CAPTURE_RESPONSES,
)
def capture_epcis(
    request: Request,
    background: BackgroundTasks,
    session: SessionDep,
    ctx: ContextDep,
    account: CurrentAccount,
    document: Annotated[dict[str, Any], Depends(_capture_document)],
    atomic: Annotated[
        bool, Query(description="all or nothing (default); false keeps the good events")
    ] = True,
    error_behaviour: ErrorBehaviour = None,
    prefer: Annotated[
        str | None, Header(description="respond-async: answer 202 at once (RFC 7240)")
    ] = None,
) -> Response:
    """Capture an EPCIS 2.0 document (EPCIS 2.0 capture interface): each event becomes a
    record signed with the account's custodial key. Every capture is a job whose status URL
    (``Location``, ``GET /api/v1/epcis/capture/{captureID}``) says running, done or failed.
    A 422 problem lists each refused event (index, eventID, what is wrong); with
    ``proceed`` the accepted events stay and the refused are listed. An event captured
    before is answered with its record (``duplicate``), not logged again. The limits are
    in the ``GS1-EPCIS-Capture-*`` headers of every answer (and of ``GET``): at most
    10000 events (``GS1-EPCIS-Capture-Limit``, 422 beyond) in a body of at most
    ``REGISTRY_MAX_CAPTURE_BYTES`` (``GS1-EPCIS-Capture-File-Size-Limit``, 413 beyond).
    An asynchronous job is stored with its document and run by a worker of the server,
    after a restart too."""
    is_atomic = capture_jobs.atomic_of(error_behaviour, atomic)
    later = prefer is not None and "respond-async" in prefer.lower()
    job = capture_jobs.open_job(session, account, document, is_atomic, stored=later)
    location = f"{CAPTURE_PATH}/{job.id}"
    headers = {"Location": location, **_limits(ctx)}
    if later:
        background.add_task(_wake_worker, request)
        body = capture_jobs.job_json(job, location)
        return JSONResponse(body, status_code=202, headers=headers)
    refused = capture_jobs.run_job(session, ctx, account, job, document)
    if refused is not None:  # the job's failed state is kept: answered, not raised
        answer = problem(
            status_for(refused),
            refused.detail,
            refused.code,
            request.url.path,
            captureID=str(job.id),
            **refused.extra,
        )
        answer.headers.update(headers)
        return answer
    report = {"captureID": str(job.id), **job.report}
    created = any(not r["duplicate"] for r in report["records"])
    return JSONResponse(report, status_code=201 if created else 200, headers=headers)


@router.get(CAPTURE_PATH, tags=["exports"])
def capture_jobs_list(
    session: SessionDep, ctx: ContextDep, account: CurrentAccount
) -> JSONResponse:
    """The organization's latest capture jobs, newest first; the capture limits and error
    behaviours in the ``GS1-EPCIS-Capture-*`` headers."""
    jobs = capture_jobs.list_jobs(session, account)
    body = [capture_jobs.job_json(j, f"{CAPTURE_PATH}/{j.id}") for j in jobs]
    return JSONResponse(body, headers=_limits(ctx))


@router.get(CAPTURE_PATH + "/{capture_id}", tags=["exports"])
def capture_job(
    session: SessionDep, ctx: ContextDep, account: CurrentAccount, capture_id: str
) -> JSONResponse:
    """A capture job: ``running``, ``done`` (with its report) or ``failed`` (with every
    event's problems). Only the capturing organization sees it."""
    job = capture_jobs.get_job(session, account, capture_id)
    body = capture_jobs.job_json(job, f"{CAPTURE_PATH}/{job.id}")
    return JSONResponse(body, headers=_limits(ctx))


@router.options(CAPTURE_PATH, tags=["exports"], status_code=204)
def capture_options(ctx: ContextDep) -> Response:
    """The capture interface's settings (EPCIS 2.0.1 §12): the methods, the EPCIS and CBV
    versions, the registry's extension namespace and the capture limits, as headers."""
    headers = capture_jobs.interface_headers(ctx.settings.max_capture_bytes, "GET, POST, OPTIONS")
    return Response(status_code=204, headers=headers)


@router.options(CAPTURE_PATH + "/{capture_id}", tags=["exports"], status_code=204)
def capture_job_options(ctx: ContextDep, capture_id: str) -> Response:
    """The same settings for a capture job's status URL, which answers ``GET``."""
    headers = capture_jobs.interface_headers(ctx.settings.max_capture_bytes, "GET, OPTIONS")
    return Response(status_code=204, headers=headers)
