"""The OBS overlay a streamer shows: a 1920×1080 browser source with a transparent
background, a large stream QR, the product, the official, and a live scan counter, in both
languages (Chinese first). Everything is served from this origin.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from api.deps import ContextDep, SessionDep
from registry import qr
from registry.codes import normalize_code
from registry.endorsements.scan_cache import ScanCache
from registry.endorsements.scans import total_scans
from registry.errors import InvalidInput, NotFound
from web.errors import NO_ENDORSEMENT, bad_code, not_found
from web.pages.qr import QR_CACHE
from web.responses import GET_HEAD, OVERLAY_CONTENT_SECURITY_POLICY, html
from web.templating import render

router = APIRouter(include_in_schema=False)


@router.api_route("/overlay/{code}", methods=GET_HEAD, response_class=HTMLResponse)
def overlay(code: str, request: Request, session: SessionDep, ctx: ContextDep) -> Response:
    """A 1920×1080 OBS browser source: transparent background, a large stream QR, the product,
    the official, and a live scan counter. Everything is served from this origin."""
    cache: ScanCache = request.app.state.scan_cache
    try:
        view = cache.load(normalize_code(code))
    except InvalidInput as exc:
        raise bad_code(exc) from exc
    except NotFound as exc:
        raise not_found(exc, NO_ENDORSEMENT) from exc
    url = qr.stream_url(ctx.settings.base_url, view.code)
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
        qr_version=qr.encode(url).version,
        scans=total_scans(session, request.app.state.scan_counter, view.endorsement_id),
        stream_url=url,
    ).encode()
    return html(
        body,
        headers={
            "Cache-Control": "no-store",
            "Content-Security-Policy": OVERLAY_CONTENT_SECURITY_POLICY,
        },
    )
