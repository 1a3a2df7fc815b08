"""What every public page answers with: the security headers (nothing loads from
elsewhere), cache lifetimes, and ETag revalidation (RFC 9110 §8.8.3, §13.1.2).
"""

from __future__ import annotations

import hashlib

from fastapi import Request
from fastapi.responses import HTMLResponse

GET_HEAD = ["GET", "HEAD"]  # HEAD for link checkers and caches; only a GET counts a scan

# Every asset comes from this origin: an OBS browser source or a viewer's phone loads
# nothing from elsewhere (no CDN, no web fonts, no trackers), and no script or style is
# inline, so an injected one cannot run.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
# The OBS overlay is the one page meant to be embedded (a browser source, or a streaming
# dashboard's iframe): its policy is the same without frame-ancestors.
OVERLAY_CONTENT_SECURITY_POLICY = CONTENT_SECURITY_POLICY.replace("; frame-ancestors 'none'", "")
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
# Batch pages: a CDN (and the phone) may reuse one this long, then must revalidate with the
# ETag. The consumer page and its verification document use SCAN_CACHE_CONTROL (one second).
PAGE_CACHE = "public, max-age=5"
NO_STORE = "no-store"
# A code's stream QR never changes (the URL is the base URL plus the code).
IMMUTABLE = "public, max-age=31536000, immutable"
# A batch label could change if its product's GTIN were set later; revalidate daily.
LABEL_CACHE = "public, max-age=86400"


def html(
    body: bytes, status_code: int = 200, headers: dict[str, str] | None = None
) -> HTMLResponse:
    """A page with the site's security headers (and ``headers``)."""
    return HTMLResponse(body, status_code=status_code, headers={**PAGE_HEADERS, **(headers or {})})


def etag(body: bytes) -> str:
    """A strong ETag of ``body``."""
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def not_modified(request: Request, tag: str) -> bool:
    """Whether the request's ``If-None-Match`` matches ``tag`` (weak comparison)."""
    tags = request.headers.get("if-none-match", "")
    return any(t.strip().removeprefix("W/") == tag for t in tags.split(",")) or tags == "*"
