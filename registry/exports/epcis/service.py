"""EPCIS 2.0 export of the registry: the database side of ``registry.exports.epcis``.

An export reads the latest signed checkpoint first and then only records inside it, and
names that checkpoint in the document (``gr:log``), so every event can be proven against it.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from registry.catalog import batches as batch_service
from registry.exports.epcis.document import epcis_document
from registry.exports.epcis.event_hash import event_hashes
from registry.exports.epcis.export import Exporter
from registry.exports.epcis.facts import BatchInfo
from registry.exports.epcis.vocabulary import PREFIX, SUPPLY_KINDS, ext
from registry.exports.filters import time_range
from registry.exports.loading import (
    Loaded,
    batch_info,
    corrected_record,
    load,
    load_batches,
    trace_record_indices,
)


def epcis_export(
    session: Session,
    base_url: str,
    *,
    batch: str | None = None,
    since: str | None = None,
    until: str | None = None,
    now: datetime,
) -> dict[str, Any]:
    """An EPCIS 2.0 document of the supply-chain records: the whole registry, the trace of
    ``batch`` (id or code), and/or the records whose event time is within since..until."""
    window = time_range(since, until)
    indices = None
    if batch is not None:
        _, indices = trace_record_indices(session, batch_service.get_batch(session, batch))
    loaded = load(session, window=window, record_indices=indices, kinds=SUPPLY_KINDS)

    def lookup(ref: str) -> BatchInfo | None:
        found = load_batches(session, [ref]).get(ref)
        return batch_info(*found) if found is not None else None

    exporter = Exporter(
        base_url,
        {ref: batch_info(b, p) for ref, (b, p) in loaded.batches.items()},
        lookup,
    )
    events = []
    for record in loaded.records:
        if record.kind == "correction":
            corrected = corrected_record(session, record)
            event = exporter.correction_event(record, corrected) if corrected else None
        else:
            event = exporter.event(record)
        if event is not None:
            events.append(event)
    document = epcis_document(
        events,
        exporter.master_data(),
        created=now,
        log=_log_of(loaded, base_url),
        document_id=f"urn:uuid:{uuid.uuid4()}",
        namespaces=exporter.namespaces_used,
    )
    with_event_hashes(document)
    return document


def with_event_hashes(document: dict[str, Any]) -> None:
    """Name each event's CBV 2.0 event hash (``gr:eventHash``), computed over the event as
    exported without that field: a reader recomputes it after taking the field out. An
    event captured from another system (``gr:capturedFrom``) is hashed without the
    registry's own ``gr:`` fields: its hash is that of the event captured."""
    events = document["epcisBody"]["eventList"]
    hashed = [_as_captured(e) if ext("capturedFrom") in e else e for e in events]
    for event, hash_ in zip(events, event_hashes(_with_events(document, hashed)), strict=True):
        event[ext("eventHash")] = hash_


def _as_captured(event: dict[str, Any]) -> dict[str, Any]:
    """A captured record's event without the fields the registry adds (``gr:``)."""
    return {k: v for k, v in event.items() if not k.startswith(f"{PREFIX}:")}


def _with_events(document: dict[str, Any], events: list[dict[str, Any]]) -> dict[str, Any]:
    return {**document, "epcisBody": {**document["epcisBody"], "eventList": events}}


def _log_of(loaded: Loaded, base_url: str) -> dict[str, Any] | None:
    """The ``gr:log`` of a document: the checkpoint (C2SP tlog-checkpoint) it was cut at."""
    if loaded.checkpoint is None:
        return None
    return {
        "treeSize": loaded.checkpoint.size,
        "checkpoint": loaded.checkpoint.note,
        "checkpointURL": f"{base_url}/log/checkpoint",
    }


def epcis_json(document: dict[str, Any]) -> bytes:
    """An EPCIS document as UTF-8 JSON (``application/ld+json``), indented for people."""
    return json.dumps(document, ensure_ascii=False, indent=2).encode()


def epcis_export_json(
    session: Session,
    base_url: str,
    *,
    batch: str | None = None,
    since: str | None = None,
    until: str | None = None,
    now: datetime,
) -> bytes:
    """``epcis_export`` as the bytes of ``epcis_json``: what ``/api/v1/export/epcis`` sends."""
    document = epcis_export(session, base_url, batch=batch, since=since, until=until, now=now)
    return epcis_json(document)
