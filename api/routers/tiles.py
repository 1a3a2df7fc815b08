"""The log as static resources: C2SP tlog-tiles tiles and entry bundles, and tlog-proof receipts.

The log's tlog-tiles prefix is ``/log``: ``/log/checkpoint`` (api/routers/log.py) is its
checkpoint, and tiles live below ``/log/tile/``.
"""

from __future__ import annotations

import gzip
from typing import Annotated, Any

from fastapi import APIRouter, Header
from fastapi.responses import Response

from api.deps import SessionDep
from registry.log.receipt import MEDIA_TYPE as TLOG_PROOF_MEDIA_TYPE
from registry.records import receipts
from registry.transparency import tiles as tile_service

router = APIRouter(tags=["log"])

OCTET_STREAM = "application/octet-stream"
# Full tiles and bundles never change. A partial one's bytes never change either, but the
# log may stop serving it once the full tile exists (tlog-tiles §Partial Tiles).
IMMUTABLE = "public, max-age=31536000, immutable"
SHORT_LIVED = "public, max-age=60"
GZIP_MIN_BYTES = 1024

_BINARY: dict[int | str, dict[str, Any]] = {
    200: {"content": {OCTET_STREAM: {}}, "description": "the tile's bytes"}
}


def _accepts_gzip(accept_encoding: str | None) -> bool:
    """Does ``Accept-Encoding`` (RFC 9110 §12.5.3) allow gzip, i.e. name it with q > 0?"""
    for item in (accept_encoding or "").split(","):
        coding, *params = (part.strip() for part in item.split(";"))
        if coding.lower() != "gzip":
            continue
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        return quality > 0
    return False


def _tile_response(path: str, session: SessionDep, accept_encoding: str | None) -> Response:
    resource, body = tile_service.read_tile_resource(session, path)
    headers = {"Cache-Control": SHORT_LIVED if resource.partial else IMMUTABLE}
    if isinstance(resource, tile_service.EntryBundle):
        # tlog-tiles §Log entries: bundles SHOULD be compressed at the HTTP layer.
        headers["Vary"] = "Accept-Encoding"
        if len(body) >= GZIP_MIN_BYTES and _accepts_gzip(accept_encoding):
            body = gzip.compress(body, compresslevel=6, mtime=0)
            headers["Content-Encoding"] = "gzip"
    return Response(body, media_type=OCTET_STREAM, headers=headers)


AcceptEncoding = Annotated[str | None, Header()]


@router.get("/log/tile/entries/{index_path:path}", responses=_BINARY, response_class=Response)
def entry_bundle(
    index_path: str, session: SessionDep, accept_encoding: AcceptEncoding = None
) -> Response:
    """Entry bundle ``<N>[.p/<W>]``: uint16 big-endian length-prefixed leaves (tlog-tiles)."""
    return _tile_response(f"tile/entries/{index_path}", session, accept_encoding)


@router.get("/log/tile/{level}/{index_path:path}", responses=_BINARY, response_class=Response)
def merkle_tile(
    level: str, index_path: str, session: SessionDep, accept_encoding: AcceptEncoding = None
) -> Response:
    """Merkle tile ``<L>/<N>[.p/<W>]``: the hashes of 256 level-8L subtrees (tlog-tiles)."""
    return _tile_response(f"tile/{level}/{index_path}", session, accept_encoding)


@router.get(
    "/api/v1/records/{record_id}/tlog-proof",
    response_class=Response,
    responses={200: {"content": {TLOG_PROOF_MEDIA_TYPE: {}}, "description": "a tlog-proof"}},
    tags=["records"],
)
def record_tlog_proof(record_id: str, session: SessionDep) -> Response:
    """Offline receipt (C2SP tlog-proof) of a record, by log index or payload digest.

    Against the latest checkpoint; ``extra`` carries the record's exact leaf bytes.
    """
    record, text = receipts.tlog_proof(session, record_id)
    return Response(
        text,
        media_type=TLOG_PROOF_MEDIA_TYPE,
        headers={
            "Cache-Control": "no-cache",
            "Content-Disposition": f'inline; filename="record-{record.log_index}.tlog-proof"',
        },
    )
