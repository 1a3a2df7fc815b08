"""The scan path's shared pieces, used by the JSON API (``GET /api/v1/verify/{code}``) and
the consumer page (``/e/{code}``) alike: the scan cache's entry of a code, prepared bytes as
a response (ETag, stored gzip), and the report rate limiter with the client address it
counts (docs/scaling.md). Not a router: ``api.routers`` and ``web`` both import it.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from registry.codes import normalize_code
from registry.endorsements.scan_cache import Encoded, ScanCache, ScanEntry
from registry.errors import InvalidInput, NotFound
from registry.reports import problems as reports

# The scan path's HTTP caching: browsers and a CDN in front may reuse a verification document
# or consumer page for one second, then revalidate with the ETag (a 304 costs no bytes). One
# second, plus the cache watcher's half-second poll, keeps a revocation or recall visible to
# every viewer within 2 s; during a scan burst a CDN still answers all but ~1 request/s per
# code and edge.
SCAN_CACHE_CONTROL = "public, max-age=1"


def scan_response(
    request: Request,
    encoded: Encoded,
    media_type: str,
    headers: dict[str, str] | None = None,
) -> Response:
    """Prepared bytes as a response: 304 on a matching ``If-None-Match``, the stored gzip
    when the client accepts it (so the GZip middleware has nothing left to do)."""
    out = {
        "ETag": encoded.etag,
        "Cache-Control": SCAN_CACHE_CONTROL,
        "Vary": "Accept-Encoding",
        "X-Content-Type-Options": "nosniff",
        **(headers or {}),
    }
    # One pass over the raw headers (cheaper than building request.headers on the hot path).
    if_none_match = accept_encoding = b""
    for name, value in request.scope["headers"]:
        if name == b"if-none-match":
            if_none_match = value
        elif name == b"accept-encoding":
            accept_encoding = value
    if if_none_match and encoded.matches(if_none_match.decode("latin-1")):
        return Response(status_code=304, headers=out)
    if b"gzip" in accept_encoding:
        out["Content-Encoding"] = "gzip"
        return Response(encoded.gzipped, media_type=media_type, headers=out)
    # Uncompressed: the GZip middleware adds "Accept-Encoding" to Vary itself.
    vary = out["Vary"].replace("Accept-Encoding", "").strip(" ,")
    if vary:
        out["Vary"] = vary
    else:
        del out["Vary"]
    return Response(encoded.body, media_type=media_type, headers=out)


async def scan_entry(request: Request, code: str) -> ScanEntry:
    """The cached entry of ``code``: from memory without I/O when cached (the steady state
    of a scan burst); else normalized and built in a worker thread with its own session.
    NotFound for a malformed code (no database work) or an unknown one (remembered)."""
    cache: ScanCache = request.app.state.scan_cache
    entry = cache.lookup(code)  # QR codes carry the normalized code
    if entry is not None:
        return entry
    try:
        normalized = normalize_code(code)
    except InvalidInput:
        raise NotFound(f"no endorsement {code!r}") from None
    entry = cache.lookup(normalized)
    if entry is not None:
        return entry
    if cache.known_missing(normalized):
        raise NotFound(f"no endorsement {normalized}")
    return await run_in_threadpool(cache.load, normalized)


def rate_limiter(request: Request) -> reports.RateLimiter:
    """The app's report rate limiter (5 reports a minute per client), made on first use."""
    limiter: reports.RateLimiter | None = getattr(request.app.state, "report_limiter", None)
    if limiter is None:
        limiter = reports.RateLimiter()
        request.app.state.report_limiter = limiter
    return limiter


def client_address(request: Request) -> str:
    """The address a report is counted under (never stored)."""
    # Behind a proxy, uvicorn's --forwarded-allow-ips puts the viewer's address here.
    return request.client.host if request.client else "unknown"
