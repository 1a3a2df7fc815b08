"""Security headers on every response (pure ASGI, so it also covers responses that never reach
a route: a 413 from the body-size limit, static files, the OpenAPI document).

What it adds, never replacing a header the response already carries (the pages in
``web/responses.py`` set their own Content-Security-Policy and are left alone):

- ``X-Content-Type-Options: nosniff`` and ``Referrer-Policy: no-referrer`` everywhere: a
  viewer's scan of a code does not leak the page address to the sites it links to.
- A default Content-Security-Policy for HTML that did not set one: everything from this
  origin, no inline script, no plugins, and ``frame-ancestors 'none'`` (no clickjacking of
  the back office's forms). ``X-Frame-Options: DENY`` says the same to old browsers.
- The OBS overlay (``/overlay/{code}``) is the one page meant to be embedded (a browser
  source, or a streaming dashboard's iframe): it gets neither ``frame-ancestors`` nor
  ``X-Frame-Options``.
- ``Strict-Transport-Security`` only on responses to HTTPS requests (RFC 6797 §7.2: a host
  must not send it over plain HTTP). Behind a TLS-terminating proxy the request's scheme is
  the one the proxy reports in ``X-Forwarded-Proto`` *only* when the proxy is trusted:
  uvicorn's proxy-headers middleware (``--forwarded-allow-ips`` / ``FORWARDED_ALLOW_IPS``,
  by default 127.0.0.1) rewrites the ASGI scope's scheme, and this middleware reads the
  scope, never the header, so a client cannot switch HSTS on or off for itself.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# What a page without a policy of its own gets; the same as the consumer pages' policy.
DEFAULT_HTML_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
EMBEDDABLE_HTML_CSP = DEFAULT_HTML_CSP.replace("; frame-ancestors 'none'", "")
_DEFAULT = DEFAULT_HTML_CSP.encode()
_EMBEDDABLE = EMBEDDABLE_HTML_CSP.encode()
HSTS = "max-age=31536000; includeSubDomains"
# Paths whose pages may be framed by any site (the OBS overlay).
EMBEDDABLE_PREFIXES = ("/overlay/",)


def embeddable(path: str) -> bool:
    return path.lower().startswith(EMBEDDABLE_PREFIXES)


class SecurityHeaders:
    """Add the headers above to every HTTP response.

    On the scan path every microsecond counts: the raw (bytes) header list is extended
    without parsing it into a headers object."""

    def __init__(self, app: ASGIApp, hsts: str = HSTS) -> None:
        self.app = app
        self.hsts = hsts.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = scope.get("scheme") == "https"
        framed = embeddable(scope.get("path", ""))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = self._complete(list(message.get("headers", ())), https, framed)
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _complete(
        self, headers: list[tuple[bytes, bytes]], https: bool, framed: bool
    ) -> list[tuple[bytes, bytes]]:
        present = {name.lower(): value for name, value in headers}
        wanted = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer")]
        if not framed:
            wanted.append((b"x-frame-options", b"DENY"))
        if present.get(b"content-type", b"").startswith(b"text/html"):
            wanted.append((b"content-security-policy", _EMBEDDABLE if framed else _DEFAULT))
        if https:
            wanted.append((b"strict-transport-security", self.hsts))
        headers.extend((name, value) for name, value in wanted if name not in present)
        return headers
