"""The QR images: an endorsement's stream QR (``/e/{code}/qr.svg|png``) and a batch's
package label QR (``/b/{code}/qr.svg|png``: GS1 Digital Link when the product has a GTIN).
Both use error correction level Q and a 4-module quiet zone (ISO/IEC 18004).

Only codes that exist get a QR: rendering costs milliseconds, so a stranger must not be
able to make the server render (and cache) QRs of arbitrary strings.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from api.deps import ContextDep, SessionDep
from registry import qr
from registry.catalog import lookups as catalog
from registry.codes import normalize_code
from registry.endorsements import published as published_endorsements
from registry.errors import InvalidInput, NotFound
from web.errors import NO_BATCH, NO_ENDORSEMENT, bad_code, not_found
from web.responses import GET_HEAD, IMMUTABLE, LABEL_CACHE

router = APIRouter(include_in_schema=False)

QR_CACHE = qr.QRCache()  # images depend only on their URL, so one cache serves every app
DEFAULT_PNG_WIDTH = 512
PngWidth = Annotated[int, Query(description="width in pixels, clamped to 64-2048")]


def image(request: Request, rendered: qr.Rendered, cache_control: str) -> Response:
    """A rendered QR as a response, 304 on a matching ``If-None-Match``."""
    headers = {
        "ETag": rendered.etag,
        "Cache-Control": cache_control,
        "X-QR-Version": str(rendered.version),
        "X-Content-Type-Options": "nosniff",
    }
    if rendered.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(rendered.body, media_type=rendered.media_type, headers=headers)


def _stream_url(session: Session, base_url: str, code: str) -> str:
    """The stream URL of an endorsement that exists."""
    try:
        endorsement = published_endorsements.get_endorsement(session, normalize_code(code))
    except InvalidInput as exc:
        raise bad_code(exc) from exc
    except NotFound as exc:
        raise not_found(exc, NO_ENDORSEMENT) from exc
    return qr.stream_url(base_url, endorsement.code)


def _label_url(session: Session, base_url: str, code: str) -> str:
    """The label URL of a batch that exists."""
    try:
        batch = catalog.batch_by_code(session, code)
    except InvalidInput as exc:
        raise bad_code(exc) from exc
    except NotFound as exc:
        raise not_found(exc, NO_BATCH) from exc
    return catalog.label_url(session, base_url, batch)


@router.api_route("/e/{code}/qr.svg", methods=GET_HEAD)
@router.api_route("/E/{code}/qr.svg", methods=GET_HEAD)
def endorsement_qr_svg(
    code: str, request: Request, session: SessionDep, ctx: ContextDep
) -> Response:
    """The stream QR as SVG (error correction Q, 4-module quiet zone)."""
    url = _stream_url(session, ctx.settings.base_url, code)
    return image(request, QR_CACHE.svg(url), IMMUTABLE)


@router.api_route("/e/{code}/qr.png", methods=GET_HEAD)
@router.api_route("/E/{code}/qr.png", methods=GET_HEAD)
def endorsement_qr_png(
    code: str,
    request: Request,
    session: SessionDep,
    ctx: ContextDep,
    size: PngWidth = DEFAULT_PNG_WIDTH,
) -> Response:
    """The stream QR as a PNG ``size`` pixels wide (whole pixels per module)."""
    url = _stream_url(session, ctx.settings.base_url, code)
    return image(request, QR_CACHE.png(url, size), IMMUTABLE)


@router.api_route("/b/{code}/qr.svg", methods=GET_HEAD)
@router.api_route("/B/{code}/qr.svg", methods=GET_HEAD)
def batch_qr_svg(code: str, request: Request, session: SessionDep, ctx: ContextDep) -> Response:
    """The package label QR: GS1 Digital Link when the product has a GTIN, else /B/{code}."""
    url = _label_url(session, ctx.settings.base_url, code)
    return image(request, QR_CACHE.svg(url), LABEL_CACHE)


@router.api_route("/b/{code}/qr.png", methods=GET_HEAD)
@router.api_route("/B/{code}/qr.png", methods=GET_HEAD)
def batch_qr_png(
    code: str,
    request: Request,
    session: SessionDep,
    ctx: ContextDep,
    size: PngWidth = DEFAULT_PNG_WIDTH,
) -> Response:
    """The package label QR as a PNG ``size`` pixels wide."""
    url = _label_url(session, ctx.settings.base_url, code)
    return image(request, QR_CACHE.png(url, size), LABEL_CACHE)
