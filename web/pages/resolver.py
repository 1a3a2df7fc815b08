"""The GS1-Conformant resolver (GS1-Conformant resolver standard 1.1) at the registry's
root: every path that begins with a GS1 Application Identifier segment (``/01/…``, ``/414/…``)
is a Digital Link URI, so is a lone segment of URI-safe base64 that no other route claims
(a compressed Digital Link, ``registry.digital_link_compression``), and
``/.well-known/gs1resolver`` describes the resolver.

- A syntactically invalid Digital Link (``registry.digital_link``: check digit, length,
  character set, key qualifier order, query data attributes) is a 400 problem; a valid
  one the registry does not hold a 404 problem; both as HTML for a browser.
- A valid lot without ``linkType`` answers with the batch page (``gs1:pip``, the default
  link), or its linkset when the client accepts JSON; ``linkType=all`` (or ``linkset``) the
  RFC 9264 linkset (``application/linkset+json``); any other link type a 307 to that link
  (the one whose media type the client accepts), or to the default link if the item has
  no link of that type (resolver standard §6.3).
- Every answer carries a ``Link`` header (RFC 8288) naming the linkset and the links, and
  CORS headers (any origin may read it: a phone's app, a retailer's page); ``OPTIONS``
  answers a preflight.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from starlette.convertors import Convertor, register_url_convertor

from api.deps import ContextDep, SessionDep
from api.problems import problem, status_for
from registry.catalog import resolver
from registry.digital_link import LINKSET_TYPES
from registry.digital_link_compression import PAYLOAD, NotCompressedLink, parse_any_digital_link
from registry.errors import InvalidInput, NotFound, RegistryError
from registry.i18n import N_, gettext_for
from web.errors import MALFORMED_LINK, MALFORMED_LINK_HINT, NO_BATCH, PageProblem, error_page
from web.language import language_of
from web.pages.batch import page_of

router = APIRouter(include_in_schema=False)
compressed_router = APIRouter(include_in_schema=False)
"""The fully compressed Digital Link (``/{payload}``): one path segment of URI-safe base64
characters. The app includes it after every other route, so it shadows none of them: a
lone segment no other route claims is read as a compressed Digital Link."""

RESOLVER_METHODS = ["GET", "HEAD", "OPTIONS"]
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers": "Link, Location, Content-Type, Content-Language",
}
PREFLIGHT_HEADERS = {
    **CORS_HEADERS,
    "Allow": "GET, HEAD, OPTIONS",
    "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
    "Access-Control-Allow-Headers": "Accept, Accept-Language, If-None-Match",
    "Access-Control-Max-Age": "86400",
}
LINK_TITLES = {
    "batch": N_("批次页面"),
    "trace": N_("溯源：批次的来龙去脉"),
    "epcis": N_("EPCIS 2.0 事件"),
    "certificate": N_("承诺达标合格证"),
}
"""The titles of a linkset's links, by ``Link.title_key``."""
UNKNOWN_ITEM = N_("没有这个物品")
UNKNOWN_ITEM_HINT = N_("这个二维码格式正确，但本登记处没有它所指的批次。")


class ApplicationIdentifierConvertor(Convertor[str]):
    """A path segment that is a GS1 Application Identifier's number: 2 to 4 digits. The
    resolver's routes match only such first segments, so no other route is shadowed."""

    regex = "[0-9]{2,4}"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("gs1ai", ApplicationIdentifierConvertor())


class CompressedPayloadConvertor(ApplicationIdentifierConvertor):
    """A path segment of URI-safe base64 characters: a compressed Digital Link's payload."""

    regex = PAYLOAD.pattern.removeprefix("^").removesuffix("$")


register_url_convertor("gs1payload", CompressedPayloadConvertor())


def _raw_path(request: Request) -> str:
    """The path as sent, still percent-encoded: a lot ``A%2FB`` stays one segment."""
    raw = request.scope.get("raw_path")
    path = raw.decode("latin-1") if raw else request.url.path
    return path.split("?", 1)[0]


def _accepts(request: Request, media_type: str) -> bool:
    return media_type in request.headers.get("accept", "")


def _wants_linkset(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return resolver.LINKSET_MEDIA_TYPE in accept or (
        "application/json" in accept and "text/html" not in accept
    )


def _link_header(resolution: resolver.Resolution) -> str:
    """RFC 8288 §3: the linkset first (RFC 9264 §6), then each link by its relation URI."""
    parts = [f'<{resolution.linkset_url()}>; rel="linkset"; type="{resolver.LINKSET_MEDIA_TYPE}"']
    parts.extend(
        f'<{link.href}>; rel="{link.relation}"; type="{link.media_type}"'
        for link in resolution.links
    )
    return ", ".join(parts)


def _problem(request: Request, exc: RegistryError) -> Response:
    if isinstance(exc, InvalidInput):
        malformed = PageProblem(
            exc.detail,
            MALFORMED_LINK,
            MALFORMED_LINK_HINT,
            http_status=400,
            code="malformed-digital-link",
        )
        malformed.extra = exc.extra  # the AIs at fault: the problem's extension members
        exc = malformed
    elif isinstance(exc, NotFound) and not isinstance(exc, PageProblem):
        heading = NO_BATCH if "batch" in exc.detail else UNKNOWN_ITEM
        exc = PageProblem(exc.detail, heading, UNKNOWN_ITEM_HINT, code="unknown-item")
    response = error_page(request, exc)
    if response is None:
        response = problem(status_for(exc), exc.detail, exc.code, request.url.path, **exc.extra)
    response.headers.update(CORS_HEADERS)
    return response


def _linkset_response(request: Request, resolution: resolver.Resolution) -> Response:
    titles = {k: gettext_for(language_of(request).code)(v) for k, v in LINK_TITLES.items()}
    body = json.dumps(resolution.linkset(titles), ensure_ascii=False).encode()
    return Response(
        body,
        media_type=resolver.LINKSET_MEDIA_TYPE,
        headers={**CORS_HEADERS, "Link": _link_header(resolution), "Vary": "Accept"},
    )


def _redirect(request: Request, resolution: resolver.Resolution, link_type: str) -> Response:
    targets = resolution.targets(link_type) or [resolution.default]
    chosen = next((t for t in targets if _accepts(request, t.media_type)), targets[0])
    return Response(
        status_code=307,
        headers={**CORS_HEADERS, "Location": chosen.href, "Link": _link_header(resolution)},
    )


@router.api_route("/{ai:gs1ai}", methods=RESOLVER_METHODS)
@router.api_route("/{ai:gs1ai}/{rest:path}", methods=RESOLVER_METHODS)
@compressed_router.api_route("/{payload:gs1payload}", methods=RESOLVER_METHODS)
def digital_link(request: Request, session: SessionDep, ctx: ContextDep) -> Response:
    """A GS1 Digital Link URI, uncompressed or compressed: validated, then resolved (see the
    module's docstring)."""
    try:
        query = request.scope.get("query_string", b"").decode("latin-1")
        link = parse_any_digital_link(_raw_path(request), query)
        if request.method == "OPTIONS":
            return Response(status_code=204, headers=PREFLIGHT_HEADERS)
        resolution = resolver.resolve(session, link, ctx.settings.base_url)
    except NotCompressedLink as exc:
        if _raw_path(request).count("/") > 1:  # after a key (``/01/{gtin}/…``): malformed
            return _problem(request, exc)
        # A lone segment that does not even begin as a compressed Digital Link (``/about``):
        # no Digital Link at all, so the site's own 404, not a malformed-link 400.
        raise HTTPException(status_code=404) from None
    except RegistryError as exc:
        return _problem(request, exc)
    link_type = link.link_type
    if link_type in LINKSET_TYPES or (link_type is None and _wants_linkset(request)):
        return _linkset_response(request, resolution)
    if link_type is not None:
        return _redirect(request, resolution, link_type)
    response = page_of(request, session, ctx, resolution.batch)
    response.headers.update(CORS_HEADERS)
    response.headers["Link"] = _link_header(resolution)
    response.headers["Vary"] = "Accept, Accept-Language"
    return response


def resolver_description(base_url: str) -> dict[str, Any]:
    """The resolver description file (resolver standard 1.1 §6.2, its JSON schema 1.2.0)."""
    return {
        "name": "Guarantee Registry 担保登记处",
        "resolverRoot": base_url.rstrip("/"),
        "supportedPrimaryKeys": ["01"],
        "supportedLinkType": [{"namespace": "https://gs1.org/voc/", "prefix": "gs1:"}],
        "linkTypeDefaultCanBeLinkset": False,
        "supportedContextValuesEnumerated": [],
    }


@router.api_route("/.well-known/gs1resolver", methods=RESOLVER_METHODS)
def well_known_gs1resolver(request: Request, ctx: ContextDep) -> Response:
    """The resolver description file: root, primary keys, link type namespaces."""
    if request.method == "OPTIONS":
        return Response(status_code=204, headers=PREFLIGHT_HEADERS)
    return JSONResponse(resolver_description(ctx.settings.base_url), headers=CORS_HEADERS)
