"""Pages of the lineage trace (``/b/{code}/trace``) and the public recall list (``/recalls``).

Rendered from the same registry functions as ``GET /api/v1/batches/{id}/trace`` and
``GET /api/v1/recalls``, with the templates, page headers (CSP: nothing from elsewhere) and
languages of ``web.routes``: Chinese by default, English by ``Accept-Language`` or
``?lang=en``. The words of these two pages are in ``TEXT`` below, looked up before the
shared ``web.i18n.TEXT``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from api.deps import SessionDep
from api.problems import problem
from registry import trace as trace_service
from registry.errors import InvalidInput, NotFound
from web.i18n import Translator, negotiate
from web.routes import PAGE_HEADERS, templates

router = APIRouter(include_in_schema=False)
GET_HEAD = ["GET", "HEAD"]

PAGE_LIMIT = 2000
"""Batches a trace page shows at most (the nearest first)."""

TEXT: dict[str, tuple[str, str]] = {
    "trace.title": ("溯源", "Trace"),
    "trace.backward": ("向上追溯：它由哪些原料制成", "Backward: what it was made from"),
    "trace.forward": ("向下追踪：用它制成了哪些产品", "Forward: what was made from it"),
    "trace.to_forward": ("查看用它制成的产品", "Trace forward"),
    "trace.to_backward": ("查看它的原料来源", "Trace backward"),
    "trace.direction": ("追溯方向", "Direction"),
    "trace.lineage": ("批次谱系", "Lineage"),
    "trace.batches": ("{n} 个批次", "{n} batches"),
    "trace.records": ("签名记录（{n}）", "Signed records ({n})"),
    "trace.input": (
        "投入 {quantity} {unit} · 加工记录 #{index}",
        "{quantity} {unit} in · processing record #{index}",
    ),
    "trace.see_above": ("同上", "see above"),
    "trace.truncated": ("只显示最近的 {n} 个批次。", "Showing the nearest {n} batches only."),
    "trace.recalled_on_the_way": ("途经已召回的批次", "Recalled batches on the way"),
    "trace.bad_request": ("请求参数有误", "Bad request"),
    "trace.bad_request_hint": (
        "追溯方向只能是 backward（原料）或 forward（制成品）。",
        "The direction is backward (ingredients) or forward (products).",
    ),
    "trace.no_batch_hint": ("请核对批次码。", "Check the batch code."),
    "recalls.title": ("召回公告", "Recalls"),
    "recalls.intro": (
        "召回覆盖该批次以及用它制成的全部产品；相关的官员担保随即显示“已召回”。",
        "A recall reaches the batch and everything made from it; every endorsement covering "
        "them shows “recalled” at once.",
    ),
    "recalls.none": ("暂无召回。", "No recalls."),
    "recalls.batch": ("召回批次", "Recalled batch"),
    "recalls.reason": ("原因", "Reason"),
    "recalls.by": ("召回方", "Recalled by"),
    "recalls.when": ("时间（北京时间）", "When (Beijing time)"),
    "recalls.descendants": ("波及的下游批次", "Descendant batches reached"),
    "recalls.endorsements": ("受影响的官员担保", "Endorsements affected"),
    "recalls.erased": ("（内容已删除）", "(erased)"),
}


@dataclass(frozen=True)
class Words(Translator):
    """The shared translator, knowing these pages' words too."""

    def __call__(self, key: str, **values: Any) -> str:
        pair = TEXT.get(key)
        if pair is None:
            return super().__call__(key, **values)
        text = pair[0] if self.lang == "zh" else pair[1]
        return text.format(**values) if values else text

    def known(self, key: str) -> bool:
        return key in TEXT or super().known(key)


def _page(request: Request, name: str, http_status: int = 200, **context: Any) -> HTMLResponse:
    lang, explicit = negotiate(
        request.query_params.get("lang"), request.headers.get("accept-language")
    )
    t = Words(lang)
    query = [f"{k}={v}" for k, v in request.query_params.items() if k != "lang"]
    body = templates.get_template(name).render(
        t=t,
        other_t=Words(t.other),
        lang=lang,
        link_suffix=f"?lang={lang}" if explicit else "",
        lang_param=f"&lang={lang}" if explicit else "",
        toggle_url=f"{request.url.path}?{'&'.join([*query, f'lang={t.other}'])}",
        **context,
    )
    headers = {**PAGE_HEADERS, "Content-Language": t.html_lang, "Vary": "Accept-Language"}
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
        return _error(request, 404, "error.no_batch", "trace.no_batch_hint", exc.detail)
    except InvalidInput as exc:
        return _error(request, 422, "trace.bad_request", "trace.bad_request_hint", exc.detail)
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
