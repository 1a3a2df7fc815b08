"""The witness's server: ``POST /add-checkpoint`` (c2sp.org/tlog-witness) and ``GET /vkey``.

Deliberately tiny and separate from the registry's app: a witness is run by someone other
than the log's operator. Every decision is made by ``registry.transparency.witness.Witness``;
this module only reads the body, runs the blocking check (file lock, fsync) off the event
loop, and maps ``WitnessError.status`` to the response the spec requires.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from registry.errors import RegistryError
from registry.transparency.witness import (
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


def serve_witness(*, host: str, port: int, state: Path, log_vkeys: list[str], name: str) -> None:
    """``registry witness serve``: run the witness's HTTP service until interrupted."""
    if not log_vkeys:
        print(
            "error: give at least one --log-vkey (the logs this witness cosigns)", file=sys.stderr
        )
        raise SystemExit(2)
    try:
        witness = Witness(state, name, log_vkeys)
    except RegistryError as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
        raise SystemExit(2) from None
    print(f"witness {witness.name}: cosignature vkey {witness.vkey}", file=sys.stderr)
    for origin in sorted(witness.logs):
        print(f"  accepts log {origin}", file=sys.stderr)
    print(f"serving add-checkpoint on http://{host}:{port}/add-checkpoint", file=sys.stderr)
    uvicorn.run(create_witness_app(witness), host=host, port=port, log_level="info")
