"""Request body size limit (pure ASGI, so an oversized body is refused while streaming)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from registry.errors import RegistryError


class BodyTooLarge(RegistryError):
    """The body being read grew past the limit. Whoever answers it (the app's error handler,
    or a parser that turned it into a 400), the answer sent is this middleware's 413."""

    code = "body-too-large"
    http_status = 413

    def __init__(self, detail: str = "request body too large") -> None:
        super().__init__(detail)


class BodySizeLimit:
    """At most ``max_bytes`` of request body; a path ``larger`` matches (``re.fullmatch``)
    may send up to ``larger_bytes`` (a problem report with its guarantee bundle), and a path
    of ``paths`` (pattern, bytes, headers) its own limit (an EPCIS capture document), its
    413 carrying ``headers`` (where the path's clients read the limit from)."""

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        larger: re.Pattern[str] | None = None,
        larger_bytes: int = 0,
        paths: Sequence[tuple[re.Pattern[str], int, Mapping[str, str]]] = (),
    ) -> None:
        self.app = app
        self.default_bytes = max_bytes
        self.limits: list[tuple[re.Pattern[str], int, Mapping[str, str]]] = list(paths)
        if larger is not None:
            self.limits.insert(0, (larger, larger_bytes, {}))

    def limit_of(self, path: str) -> tuple[int, Mapping[str, str]]:
        """The body limit of ``path`` and the headers of its 413: the first of its own that
        matches, else the default (no headers)."""
        for pattern, limit, headers in self.limits:
            if pattern.fullmatch(path) is not None:
                return limit, headers
        return self.default_bytes, {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, headers = self.limit_of(scope.get("path", ""))
        await self._limited(scope, receive, send, limit, headers)

    async def _limited(
        self, scope: Scope, receive: Receive, send: Send, limit: int, headers: Mapping[str, str]
    ) -> None:
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._refuse(send, limit, headers)
            return
        received = 0
        too_large = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    too_large = True
                    raise BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if too_large:
                # The app caught our exception and answered (e.g. 400 "error parsing the
                # body"): the truth is 413, so that answer is replaced.
                if message["type"] == "http.response.start" and not started:
                    started = True
                    await self._refuse(send, limit, headers)
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except BodyTooLarge:
            if not started:
                await self._refuse(send, limit, headers)

    async def _refuse(self, send: Send, limit: int, headers: Mapping[str, str]) -> None:
        body = json.dumps(
            {
                "type": "https://guarantee-registry.org/problems/body-too-large",
                "title": "Content Too Large",
                "status": 413,
                "detail": f"request body exceeds {limit} bytes",
                "limit": limit,
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/problem+json"),
                    (b"content-length", str(len(body)).encode()),
                    *((k.lower().encode(), v.encode()) for k, v in headers.items()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
