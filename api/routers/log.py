"""The transparency log's read side: checkpoint, verifier key, proofs, entries."""

from __future__ import annotations

import base64
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel

from api.deps import ContextDep, SessionDep
from api.schemas import RecordOut
from registry.errors import InvalidInput
from registry.transparency import log as log_service
from registry.transparency import witnessing

router = APIRouter(prefix="/log", tags=["log"])
ENTRIES_PAGE_MAX = 1000


class InclusionOut(BaseModel):
    index: int
    tree_size: int
    hashes: list[str]


class ConsistencyOut(BaseModel):
    old_size: int
    new_size: int
    hashes: list[str]


class EntriesOut(BaseModel):
    entries: list[RecordOut]


def _b64(hashes: list[bytes]) -> list[str]:
    return [base64.b64encode(h).decode() for h in hashes]


@router.get("/checkpoint", response_class=PlainTextResponse)
def checkpoint(session: SessionDep, ctx: ContextDep) -> PlainTextResponse:
    """The log's signed checkpoint (C2SP tlog-checkpoint note) with witness cosignatures.

    Without witnesses configured, the newest checkpoint. With witnesses, the newest one
    that is cosigned, or that has waited a grace period (``COSIGNATURE_GRACE``, 10 s) for
    cosignatures: C2SP clients get a cosigned head whenever the witnesses keep up, and a
    witness that is down delays the served head by at most the grace period. The served
    size never decreases. See ``witnessing.served_checkpoint``.
    """
    note = witnessing.served_checkpoint(
        session, witnessed=bool(ctx.settings.witnesses), now=ctx.clock()
    )
    return PlainTextResponse(note, headers={"Cache-Control": "no-cache"})


@router.get("/vkey", response_class=PlainTextResponse)
def vkey(ctx: ContextDep) -> PlainTextResponse:
    return PlainTextResponse(log_service.log_vkey(ctx) + "\n")


@router.get("/proof/inclusion", response_model=InclusionOut)
def inclusion(
    session: SessionDep,
    index: Annotated[int, Query(ge=0)],
    tree_size: Annotated[int, Query(ge=1)],
) -> InclusionOut:
    proof = log_service.inclusion_proof(session, index, tree_size)
    return InclusionOut(index=index, tree_size=tree_size, hashes=_b64(proof))


@router.get("/proof/consistency", response_model=ConsistencyOut)
def consistency(
    session: SessionDep,
    old: Annotated[int, Query(ge=1)],
    new: Annotated[int, Query(ge=1)],
) -> ConsistencyOut:
    proof = log_service.consistency_proof(session, old, new)
    return ConsistencyOut(old_size=old, new_size=new, hashes=_b64(proof))


@router.get("/entries", response_model=EntriesOut)
def entries(
    session: SessionDep,
    start: Annotated[int, Query(ge=0)],
    end: Annotated[int, Query(ge=1)],
) -> Response:
    """Entries [start, end), at most 1000 per page (end is clipped).

    Mirrors read the whole log through this page by page, so it is written straight from
    the columns to JSON: each entry is what ``RecordOut`` describes, with ``record`` being
    the stored payload bytes verbatim."""
    if end <= start:
        raise InvalidInput("end must be greater than start (end is exclusive)")
    end = min(end, start + ENTRIES_PAGE_MAX, log_service.tree_size(session))
    if start >= end:  # past the end of the log: nothing (and no huge number reaches SQL)
        return Response(b'{"entries":[]}', media_type="application/json")
    rows = log_service.entry_rows(session, start, end)
    body = {"entries": [_entry(*row) for row in rows]}
    return Response(orjson.dumps(body, option=orjson.OPT_UTC_Z), media_type="application/json")


def _entry(
    index: int,
    digest: str,
    kind: str,
    payload: bytes | None,
    payload_type: str,
    signatures: list[dict[str, Any]],
    leaf: bytes,
    logged_at: Any,
    organization_id: Any,
) -> dict[str, Any]:
    return {
        "index": index,
        "digest": digest,
        "kind": kind,
        # The payload is the canonical JSON that was signed: embedded as it is, not re-parsed.
        "record": None if payload is None else orjson.Fragment(payload),
        "envelope": None
        if payload is None
        else {
            "payload": base64.b64encode(payload).decode(),
            "payloadType": payload_type,
            "signatures": signatures,
        },
        "leaf": base64.b64encode(leaf).decode(),
        "logged_at": logged_at,
        "organization_id": organization_id,
    }
