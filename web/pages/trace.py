"""Pages of the lineage trace (``/b/{code}/trace``) and the public recall list (``/recalls``).

Rendered from the same registry functions as ``GET /api/v1/batches/{id}/trace`` and
``GET /api/v1/recalls``, with the templates, page headers (CSP: nothing from elsewhere) and
languages of the other pages: Chinese by default, English by ``Accept-Language`` or
``?lang=en``; their words come from the text catalogue (``registry.i18n``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from api.deps import SessionDep
from registry.errors import InvalidInput, NotFound
from registry.i18n import N_
from registry.services import trace as trace_service
from web.errors import NO_BATCH, PageProblem
from web.language import language_of, toggle_keeping_query
from web.responses import GET_HEAD, html
from web.templating import render

router = APIRouter(include_in_schema=False)

PAGE_LIMIT = 2000
"""Batches a trace page shows at most (the nearest first)."""

NO_BATCH_HINT = N_("请核对批次码。")
BAD_REQUEST = N_("请求参数有误")
BAD_REQUEST_HINT = N_("追溯方向只能是 backward（原料）或 forward（制成品）。")


def _page(request: Request, name: str, **context: Any) -> HTMLResponse:
    language = language_of(request)
    body = render(
        name,
        language.code,
        link_suffix=language.suffix,
        lang_param=f"&lang={language.code}" if language.explicit else "",
        toggle_url=toggle_keeping_query(request, language),
        **context,
    )
    return html(body.encode(), headers=language.headers())


@router.api_route("/b/{code}/trace", methods=GET_HEAD, response_class=HTMLResponse)
@router.api_route("/B/{code}/trace", methods=GET_HEAD, response_class=HTMLResponse)
def trace_page(
    code: str, request: Request, session: SessionDep, direction: str = "backward"
) -> Response:
    """The batch's lineage as a tree, with the signed records on the way."""
    try:
        found = trace_service.trace(session, code, direction, PAGE_LIMIT)
    except NotFound as exc:
        raise PageProblem(exc.detail, NO_BATCH, NO_BATCH_HINT) from exc
    except InvalidInput as exc:
        raise PageProblem(
            exc.detail, BAD_REQUEST, BAD_REQUEST_HINT, http_status=422, code="invalid-input"
        ) from exc
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
