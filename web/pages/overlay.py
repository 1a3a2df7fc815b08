"""The OBS overlay a streamer shows: a browser source of any size and aspect (1920×1080,
1280×720, 800×600, portrait 720×1280 or 1080×1920 for Douyin and Kuaishou) with a transparent
background and one card in a corner: the stream QR, the product, the officials, the code, a
live scan counter and, when the endorsement is no longer valid, a red warning. Both
languages, Chinese first. Everything is served from this origin.

The card is sized from the viewport (web/static/overlay.css): the QR is never clipped or
covered and keeps at least 3 px per module at 1280×720; text is cut short, never the QR.
Query parameters choose where and how big (docs/overlay.md):

- ``corner``: ``br`` (bottom right, the default), ``bl``, ``tr`` or ``tl``;
- ``scale``: 0.5 to 2 (default 1), the card's size relative to the default; it still
  shrinks to fit a small source;
- ``margin``: 0 to 200, pixels between the card and the source's edges (default 2.5 % of the
  source's shorter side).

A wrong value is answered with a 400 naming the parameter (an error page in the OBS
preview, problem details for JSON clients), never silently replaced: the streamer sees the
mistake while setting up, not on air.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import QueryParams

from api.deps import ContextDep, SessionDep
from registry import qr
from registry.codes import normalize_code
from registry.endorsements.scan_cache import ScanCache
from registry.endorsements.scans import total_scans
from registry.errors import InvalidInput, NotFound
from registry.i18n import N_
from web.errors import NO_ENDORSEMENT, PageProblem, bad_code, not_found
from web.pages.qr import QR_CACHE
from web.responses import GET_HEAD, OVERLAY_CONTENT_SECURITY_POLICY, html
from web.templating import render

router = APIRouter(include_in_schema=False)

CORNERS = ("br", "bl", "tr", "tl")
"""Where the card sits: bottom right (the default), bottom left, top right, top left."""
MIN_SCALE, MAX_SCALE = 0.5, 2.0
MAX_MARGIN = 200
BAD_LAYOUT = N_("叠加层参数有误")
BAD_LAYOUT_HINT = N_(
    "请改正网址：corner 取 br、bl、tr 或 tl，scale 取 0.5 到 2，margin 取 0 到 200 像素。"
)


@dataclass(frozen=True)
class OverlayLayout:
    """Where the card sits and how big it is, from the overlay's query parameters."""

    corner: str = "br"
    scale: float = 1.0
    margin: int | None = None  # pixels; None: 2.5 % of the source's shorter side

    @classmethod
    def from_query(cls, query: QueryParams) -> OverlayLayout:
        """The layout the query asks for; a ``PageProblem`` (400) naming a wrong value."""
        corner = query.get("corner", cls.corner).strip().lower()
        if corner not in CORNERS:
            raise _bad("corner", f"corner must be one of {', '.join(CORNERS)}")
        scale = _number(query, "scale", cls.scale, MIN_SCALE, MAX_SCALE)
        margin = query.get("margin")
        pixels = None if margin is None else int(_number(query, "margin", 0, 0, MAX_MARGIN))
        return cls(corner, scale, pixels)


def _number(query: QueryParams, name: str, default: float, low: float, high: float) -> float:
    raw = query.get(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise _bad(name, f"{name} must be a number from {low:g} to {high:g}") from None
    if not low <= value <= high:  # NaN fails too
        raise _bad(name, f"{name} must be from {low:g} to {high:g}, not {raw}")
    return value


def _bad(field: str, detail: str) -> PageProblem:
    problem = PageProblem(
        detail, BAD_LAYOUT, BAD_LAYOUT_HINT, http_status=400, code="invalid-input"
    )
    problem.extra["field"] = field
    return problem


@router.api_route("/overlay/{code}", methods=GET_HEAD, response_class=HTMLResponse)
def overlay(code: str, request: Request, session: SessionDep, ctx: ContextDep) -> Response:
    """The OBS browser source: a transparent page with one card (the stream QR, the product,
    the officials, a live scan counter) that fits any source size; ``corner``, ``scale``
    and ``margin`` place it. Everything is served from this origin."""
    layout = OverlayLayout.from_query(request.query_params)
    cache: ScanCache = request.app.state.scan_cache
    try:
        view = cache.load(normalize_code(code))
    except InvalidInput as exc:
        raise bad_code(exc) from exc
    except NotFound as exc:
        raise not_found(exc, NO_ENDORSEMENT) from exc
    url = qr.stream_url(ctx.settings.base_url, view.code)
    symbol = qr.encode(url)
    document = view.document
    body = render(
        "overlay.html",
        "zh",  # both languages, Chinese first
        code=view.code,
        status=view.status(ctx.clock()).value,
        product=document["product"],
        officials=document["endorsement"]["officials"],
        authority=document["endorsement"]["authority"],
        qr_svg=QR_CACHE.svg(url).body.decode(),
        qr_version=symbol.version,
        qr_modules=symbol.width_with_quiet_zone,
        scans=total_scans(session, request.app.state.scan_counter, view.endorsement_id),
        stream_url=url,
        layout=layout,
    ).encode()
    return html(
        body,
        headers={
            "Cache-Control": "no-store",
            "Content-Security-Policy": OVERLAY_CONTENT_SECURITY_POLICY,
        },
    )
