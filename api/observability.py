"""What operators see of each request: a request id and, for what is worth a line, a JSON log.

Every response carries ``X-Request-Id``: the client's (or the proxy's, deploy/nginx.conf sets
nginx's ``$request_id``) when it is a plain token of at most 64 characters, else a new one.
It is in ``registry.logs.request_id`` while the request runs, so every log line the request
causes names it. A line ``request`` (method, path, status, milliseconds, request id; never
the client's address) is logged for every request that is not a successful read, and for
any request slower than a second: the scan path's hundreds of thousands of successful reads
are counted by ``/metrics`` instead of logged one by one.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from registry.logs import request_id

logger = logging.getLogger("registry.requests")
_TOKEN = re.compile(rb"[A-Za-z0-9._-]{1,64}")
SLOW_SECONDS = 1.0


class RequestIds:
    """Pure ASGI middleware: the request id, and the request's log line when due."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = b""
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                given = value
                break
        rid = given.decode() if given and _TOKEN.fullmatch(given) else uuid.uuid4().hex
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            method = scope.get("method", "")
            observe = getattr(scope.get("app"), "state", None)
            observe = getattr(observe, "observe_request", None)
            if observe is not None:
                observe(method, scope.get("path", ""), status, elapsed)
            if status >= 400 or method not in ("GET", "HEAD") or elapsed > SLOW_SECONDS:
                logger.info(
                    "request",
                    extra={
                        "method": method,
                        "path": scope.get("path", ""),
                        "status": status,
                        "ms": round(elapsed * 1000, 1),
                    },
                )
            request_id.reset(token)
