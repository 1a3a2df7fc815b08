"""Pages of the lineage trace (``/b/{code}/trace``) and the public recall list (``/recalls``).

Rendered from the same registry functions as ``GET /api/v1/batches/{id}/trace`` and
``GET /api/v1/recalls``, with the templates, page headers (CSP: nothing from elsewhere) and
languages of ``web.routes``: Chinese by default, English by ``Accept-Language`` or
``?lang=en``; their words come from the text catalogue (``registry.i18n``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from api.deps import SessionDep
from api.problems import problem
from registry.errors import InvalidInput, NotFound
from registry.i18n import HTML_LANG, N_, negotiate, other_language
from registry.services import trace as trace_service
from web.routes import NO_BATCH, PAGE_HEADERS
from web.templating import render

router = APIRouter(include_in_schema=False)
GET_HEAD = ["GET", "HEAD"]

PAGE_LIMIT = 2000
"""Batches a trace page shows at most (the nearest first)."""

NO_BATCH_HINT = N_("请核对批次码。")
BAD_REQUEST = N_("请求参数有误")
BAD_REQUEST_HINT = N_("追溯方向只能是 backward（原料）或 forward（制成品）。")


def _page(request: Request, name: str, http_status: int = 200, **context: Any) -> HTMLResponse:
    lang, explicit = negotiate(
        request.query_params.get("lang"), request.headers.get("accept-language")
    )
    other = other_language(lang)
    query = [f"{k}={v}" for k, v in request.query_params.items() if k != "lang"]
    body = render(
        name,
        lang,
        link_suffix=f"?lang={lang}" if explicit else "",
        lang_param=f"&lang={lang}" if explicit else "",
        toggle_url=f"{request.url.path}?{'&'.join([*query, f'lang={other}'])}",
        **context,
    )
    headers = {**PAGE_HEADERS, "Content-Language": HTML_LANG[lang], "Vary": "Accept-Language"}
    return HTMLResponse(body.encode(), status_code=http_status, headers=headers)


def _error(request: Request, status_code: int, heading: str, hint: str, detail: str) -> Response:
    accept = request.headers.get("accept", "")
    if "json" in accept and "text/html" not in accept:
        slug = "not-found" if status_code == 404 else "invalid-input"
        return problem(status_code, detail, slug, request.url.path)
    return _page(
        request,
        "error.html",
        status_code,
        status_code=status_code,
        heading=heading,
        hint=hint,
        detail=detail,
        suggestions=[],
        show_entry=False,
    )


@router.api_route("/b/{code}/trace", methods=GET_HEAD, response_class=HTMLResponse)
@router.api_route("/B/{code}/trace", methods=GET_HEAD, response_class=HTMLResponse)
def trace_page(
    code: str, request: Request, session: SessionDep, direction: str = "backward"
) -> Response:
    """The batch's lineage as a tree, with the signed records on the way."""
    try:
        found = trace_service.trace(session, code, direction, PAGE_LIMIT)
    except NotFound as exc:
        return _error(request, 404, NO_BATCH, NO_BATCH_HINT, exc.detail)
    except InvalidInput as exc:
        return _error(request, 422, BAD_REQUEST, BAD_REQUEST_HINT, exc.detail)
    return _page(
        request,
        "trace.html",
        trace=found,
        root=found.root,
        tree=found.tree(),
        orgs=found.organizations,
        codes={b.id: b.code for b in found.batches},
        direction=found.direction.value,
        recalled=[b for b in found.batches if b.recalled],
    )


@router.api_route("/recalls", methods=GET_HEAD, response_class=HTMLResponse)
def recalls_page(request: Request, session: SessionDep) -> Response:
    """Every recall, newest first."""
    return _page(
        request, "recalls.html", recalls=trace_service.recall_summaries(session, limit=100)
    )
