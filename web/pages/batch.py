"""The batch page (a package label's QR leads here): product, origin, its own signed
records and the endorsements covering it; reached by its short code (``/b/{code}``) or by
its GS1 Digital Link (``/01/{GTIN}/10/{lot}``, resolved by ``web.pages.resolver``).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from api.deps import ContextDep, SessionDep
from registry.catalog import lookups as catalog
from registry.errors import InvalidInput, NotFound
from registry.models import Batch
from web.errors import NO_BATCH, bad_code
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


def page_of(request: Request, session: SessionDep, ctx: ContextDep, batch: Batch) -> Response:
    """The batch page of ``batch``: also what its Digital Link resolves to (web.pages.resolver)."""
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
    return page_of(request, session, ctx, batch)
