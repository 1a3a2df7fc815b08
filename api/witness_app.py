"""The witness's HTTP face: ``POST /add-checkpoint`` (c2sp.org/tlog-witness), nothing else.

Deliberately tiny and separate from the registry's app: a witness is run by someone other
than the log's operator. Every decision is made by ``registry.witness.Witness``; this module
only reads the body, runs the blocking check (file lock, fsync) off the event loop, and maps
``WitnessError.status`` to the response the spec requires.
"""

from __future__ import annotations

import logging

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from registry.witness import (
    MAX_REQUEST_SIZE,
    SIZE_CONTENT_TYPE,
    CheckpointConflict,
    Witness,
    WitnessError,
)

log = logging.getLogger(__name__)


async def _read_body(request: Request, limit: int) -> bytes | None:
    """The request body, or None once it grows past ``limit`` (read no further)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _refusal(error: WitnessError) -> Response:
    if isinstance(error, CheckpointConflict) and error.known_size is not None:
        # tlog-witness: the body is the latest cosigned size in decimal and a newline, typed
        # exactly text/x.tlog.size (no charset parameter: Go clients compare the whole value).
        return Response(
            f"{error.known_size}\n", status_code=409, headers={"Content-Type": SIZE_CONTENT_TYPE}
        )
    return PlainTextResponse(error.detail + "\n", status_code=error.status)


def create_witness_app(witness: Witness) -> Starlette:
    """The ASGI app serving ``witness`` at ``POST /add-checkpoint``."""

    async def add_checkpoint(request: Request) -> Response:
        body = await _read_body(request, MAX_REQUEST_SIZE)
        if body is None:
            return PlainTextResponse("request body too large\n", status_code=413)
        try:
            cosignatures = await run_in_threadpool(witness.add_checkpoint, body)
        except WitnessError as error:
            return _refusal(error)
        return Response(cosignatures, media_type="text/plain; charset=utf-8")

    async def vkey(request: Request) -> Response:
        return PlainTextResponse(witness.vkey + "\n")

    app = Starlette(
        routes=[
            Route("/add-checkpoint", add_checkpoint, methods=["POST"]),
            Route("/vkey", vkey, methods=["GET"]),
        ]
    )
    app.state.witness = witness
    return app
