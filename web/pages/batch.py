"""The batch page (a package label's QR leads here): product, origin, its own signed
records and the endorsements covering it; reached by its short code (``/b/{code}``) or by
GS1 Digital Link (``/01/{GTIN}/10/{lot}``, GS1 Digital Link 1.2 §4).
"""

from __future__ import annotations

from urllib.parse import unquote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from api.deps import ContextDep, SessionDep
from registry.catalog import lookups as catalog
from registry.errors import InvalidInput, NotFound
from registry.gs1 import parse_digital_link
from registry.models import Batch
from web.errors import MALFORMED_LINK, MALFORMED_LINK_HINT, NO_BATCH, PageProblem, bad_code
from web.errors import not_found as page_not_found
from web.language import language_of, page_context
from web.responses import GET_HEAD, PAGE_CACHE, etag, html, not_modified
from web.templating import render
from web.viewmodels import batch_steps, origins

router = APIRouter(include_in_schema=False)


def _batch_response(request: Request, page: catalog.BatchPage) -> Response:
    language = language_of(request)
    steps = batch_steps(page)
    body = render(
        "batch.html",
        language.code,
        **page_context(request, language),
        batch=page.batch,
        product=page.product,
        origin=page.origin,
        steps=steps,
        origins=origins(steps),
        endorsements=page.endorsements,
        label_url=page.label_url,
    ).encode()
    tag = etag(body)
    headers = {"ETag": tag, "Cache-Control": PAGE_CACHE, **language.headers()}
    if not_modified(request, tag):
        return Response(status_code=304, headers=headers)
    return html(body, headers=headers)


def _page_of(request: Request, session: SessionDep, ctx: ContextDep, batch: Batch) -> Response:
    page = catalog.batch_page(session, batch, ctx.clock(), ctx.settings.base_url)
    return _batch_response(request, page)


@router.api_route("/b/{code}", methods=GET_HEAD, response_class=HTMLResponse)
@router.api_route("/B/{code}", methods=GET_HEAD, response_class=HTMLResponse)
def batch_page(code: str, request: Request, session: SessionDep, ctx: ContextDep) -> Response:
    """A batch (lot): product, origin, and its own signed records."""
    try:
        batch = catalog.batch_by_code(session, code)
    except InvalidInput as exc:
        raise bad_code(exc) from exc
    except NotFound as exc:
        raise page_not_found(exc, NO_BATCH) from exc
    return _page_of(request, session, ctx, batch)


def _raw_digital_link(request: Request, gtin: str, lot: str) -> tuple[str, str]:
    """The (01) and (10) values as written in the request, still percent-encoded.

    The server has already decoded the path once (so ``%2F`` in a lot became ``/``); the raw
    path keeps a lot such as ``A%2FB`` apart from extra path segments and is decoded exactly
    once, by ``parse_digital_link``."""
    raw = request.scope.get("raw_path")
    if not raw:
        return gtin, lot
    segments = raw.decode("latin-1").split("?", 1)[0].split("/")
    # ['', '01', gtin, '10', lot, ...]
    if len(segments) != 5 or segments[1] != "01" or segments[3] != "10":
        raise InvalidInput(
            "a Digital Link here is /01/{GTIN}/10/{lot} (other key qualifiers are not supported)"
        )
    return unquote(segments[2]), segments[4]


@router.api_route("/01/{gtin}/10/{lot:path}", methods=GET_HEAD, response_class=HTMLResponse)
def digital_link(
    gtin: str, lot: str, request: Request, session: SessionDep, ctx: ContextDep
) -> Response:
    """GS1 Digital Link (``/01/{GTIN}/10/{lot}``) to the batch page. A malformed GTIN (length,
    check digit) or lot (GS1 AI character set 82, 1-20 characters) is a 400."""
    try:
        raw_gtin, raw_lot = _raw_digital_link(request, gtin, lot)
        gtin14, lot_value = parse_digital_link(raw_gtin, raw_lot)
    except InvalidInput as exc:
        raise PageProblem(
            exc.detail,
            MALFORMED_LINK,
            MALFORMED_LINK_HINT,
            http_status=400,
            code="malformed-digital-link",
        ) from exc
    batch = catalog.batch_by_gtin_and_lot(session, gtin14, lot_value)
    if batch is None:
        missing = NotFound(f"no batch {lot_value!r} of GTIN {gtin14}")
        raise page_not_found(missing, NO_BATCH)
    return _page_of(request, session, ctx, batch)
