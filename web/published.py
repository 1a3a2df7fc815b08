"""The consumer pages and static assets as published files (registry.publishing).

The pages are rendered by the same function as the dynamic ``/e/{code}``
(``web.pages.consumer``), from the same scan entry, so a published page is byte for byte the
dynamic one except that its stylesheet and script are named by their content hash
(``/static/verify.<hash>.js``: cacheable for a year, ``immutable``). The script's
``integrity`` and the page's hash-only ``script-src`` are those of the same bytes, so the
phone runs exactly the logged release either way.

The security headers the dynamic page is sent with (its hash-only Content-Security-Policy
among them) are written as an nginx snippet, ``.publish/nginx-page-headers.conf``, which
deploy/nginx.conf includes where it serves the pages.
"""

from __future__ import annotations

import hashlib

from fastapi import Request

from registry.context import RegistryContext
from registry.endorsements.scan_cache import ScanEntry
from registry.publishing import paths
from registry.status import Status
from web.language import Language
from web.pages.consumer import _consumer_policy, _endorsement_page
from web.responses import PAGE_HEADERS
from web.templating import STATIC_DIR

HASHED_IN_PAGES = ("registry.css", "verify.js")
"""The static files the consumer page names, published under hashed names."""


def _request(code: str) -> Request:
    """The request a viewer's scan would be (the page reads only its path)."""
    return Request({"type": "http", "method": "GET", "path": f"/e/{code}", "headers": []})


def _digest(name: str) -> str:
    return hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest()


def _hashed_urls() -> dict[str, str]:
    return {
        f"/static/{name}": f"/static/{paths.hashed_name(name, _digest(name))}"
        for name in HASHED_IN_PAGES
    }


def render_pages(entry: ScanEntry, status: Status, ctx: RegistryContext) -> dict[str, bytes]:
    """Every variant of the consumer page of ``entry`` at ``status``, by file name in
    ``e/{code}/`` (``registry.publishing.paths.PAGE_VARIANTS``)."""
    urls = _hashed_urls()
    pages = {}
    for name, (code, explicit) in paths.PAGE_VARIANTS.items():
        body = _endorsement_page(_request(entry.code), Language(code, explicit), entry, status, ctx)
        for plain, hashed in urls.items():
            body = body.replace(f'"{plain}"'.encode(), f'"{hashed}"'.encode())
        pages[name] = body
    return pages


def nginx_page_headers() -> bytes:
    """``add_header`` lines giving a published page the dynamic page's security headers."""
    headers = {
        **PAGE_HEADERS,
        "Content-Security-Policy": _consumer_policy(),
        "X-Frame-Options": "DENY",
        "Cache-Control": paths.SHORT,
        "Vary": "Accept-Language, Accept-Encoding",
    }
    lines = [f'add_header {name} "{value}" always;' for name, value in headers.items()]
    return (
        "# written by the registry's publisher: the consumer page's headers\n"
        + "\n".join(lines)
        + "\n"
    ).encode()


def fixed_files() -> dict[str, bytes]:
    """The files that change only with a release: every static asset under its plain name
    and, for those the page names, under its hashed name; the nginx header snippet."""
    files: dict[str, bytes] = {}
    for path in sorted(STATIC_DIR.rglob("*")):
        if path.is_file():
            name = path.relative_to(STATIC_DIR).as_posix()
            files[f"static/{name}"] = path.read_bytes()
    for name in HASHED_IN_PAGES:
        files[f"static/{paths.hashed_name(name, _digest(name))}"] = files[f"static/{name}"]
    files[f"{paths.STATE_DIR}/nginx-page-headers.conf"] = nginx_page_headers()
    return files
