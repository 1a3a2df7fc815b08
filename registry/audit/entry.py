"""One served log entry on its own: leaf ↔ envelope ↔ payload ↔ record (docs/audit.md, step 5).

Pure checks, no history: the leaf a registry commits to in its RFC 6962 tree is recomputed
from the DSSE envelope and must be byte-identical, and the payload must be the RFC 8785 bytes
of a valid v1 record. Whether the record fits the log before it is ``replay.LogReplay``'s
question.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from registry.audit.failures import failure
from registry.crypto.dsse import Envelope
from registry.crypto.jcs import parse_canonical
from registry.errors import InvalidInput
from registry.records.ingest import MAX_CLOCK_SKEW
from registry.records.schema import RECORD_PAYLOAD_TYPE, Kind, leaf_bytes, parse_record

_LEAF_FIELDS = frozenset({"kind", "logged_at", "payload_sha256", "payload_type", "signatures", "v"})


@dataclass(frozen=True)
class CheckedEntry:
    """A log entry whose leaf, envelope and payload agree; not yet checked against history."""

    index: int
    kind: Kind
    digest: str
    logged_at: str
    envelope: Envelope
    record: Any


def _open_leaf(index: int, leaf: bytes) -> dict[str, Any]:
    """The leaf's fields. Its canonical form is proved later, by rebuilding it byte for byte
    from the envelope (so a plain, fast parse is enough here)."""
    try:
        committed = orjson.loads(leaf)
    except orjson.JSONDecodeError as exc:
        raise failure(index, None, f"the leaf is not JSON: {exc}") from None
    if (
        not isinstance(committed, dict)
        or set(committed) != _LEAF_FIELDS
        or committed["v"] != 1
        or not all(
            isinstance(committed[name], str)
            for name in ("kind", "logged_at", "payload_sha256", "payload_type")
        )
        or not isinstance(committed["signatures"], list)
    ):
        raise failure(index, None, "the leaf is not a v1 record leaf")
    return committed


def _open_envelope(
    index: int, committed: dict[str, Any], envelope_json: object
) -> tuple[Envelope, str, list[dict[str, str]]]:
    """The envelope, its payload's SHA-256 and its signatures as the leaf lists them; each
    must be what the leaf commits to."""
    claimed_kind = committed["kind"]
    if envelope_json is None:
        raise failure(
            index,
            claimed_kind,
            "the server withholds the payload (erased?), so the record cannot be verified",
        )
    try:
        envelope = Envelope.from_json(envelope_json)
    except InvalidInput as exc:
        raise failure(index, claimed_kind, f"the envelope is malformed: {exc.detail}") from None
    digest = hashlib.sha256(envelope.payload).hexdigest()
    if digest != committed["payload_sha256"]:
        raise failure(
            index,
            claimed_kind,
            f"the payload's SHA-256 is {digest}, but the leaf commits to "
            f"{committed['payload_sha256']}: the payload was altered",
        )
    if envelope.payload_type != committed["payload_type"]:
        raise failure(index, claimed_kind, "the payload type differs from the leaf's")
    signatures = [
        {"keyid": s.keyid, "sig": base64.b64encode(s.sig).decode("ascii")}
        for s in envelope.signatures
    ]
    if signatures != committed["signatures"]:
        raise failure(
            index,
            claimed_kind,
            "the envelope's signatures differ from those the leaf commits to: "
            "a signature was altered, added or removed",
        )
    return envelope, digest, signatures


def _parse_payload(index: int, claimed_kind: str, envelope: Envelope) -> Any:
    """The record of an RFC 8785 payload of the record type, of the kind the leaf claims."""
    if envelope.payload_type != RECORD_PAYLOAD_TYPE:
        raise failure(index, claimed_kind, f"unknown payload type {envelope.payload_type!r}")
    try:
        record = parse_record(parse_canonical(envelope.payload))
    except InvalidInput as exc:
        raise failure(
            index, claimed_kind, f"the payload is not a valid record: {exc.detail}"
        ) from None
    if record.kind != claimed_kind:
        raise failure(
            index, claimed_kind, f"the payload is a {record.kind} record, the leaf says otherwise"
        )
    return record


def _check_logged_at(index: int, record: Any, logged_at: str) -> None:
    """The record's own time may not be later than its logging (beyond the clock skew)."""
    try:
        logged = datetime.fromisoformat(logged_at)
        late = datetime.fromisoformat(record.time) > logged + MAX_CLOCK_SKEW
    except (TypeError, ValueError):
        raise failure(
            index, record.kind, f"the leaf's logged_at {logged_at!r} is not a time"
        ) from None
    if late:
        raise failure(
            index,
            record.kind,
            f"the record claims time {record.time}, after it was logged ({logged_at})",
        )


def check_entry(index: int, leaf: bytes, envelope_json: object) -> CheckedEntry:
    """Check one served entry on its own: leaf ↔ envelope ↔ payload ↔ record schema.

    The leaf (``registry.records.schema.leaf_bytes``) commits to the payload's SHA-256, the payload
    type, the signatures and the time of logging; it is recomputed from the envelope, with
    ``logged_at`` taken from the served leaf, and must be byte-identical (it is the RFC 6962
    §2.1 leaf input of the log's tree). The payload must be RFC 8785 bytes of a record that
    ``parse_record`` accepts. Raises ``VerificationError`` (docs/audit.md, step 5).
    """
    committed = _open_leaf(index, leaf)
    claimed_kind = committed["kind"]
    envelope, digest, signatures = _open_envelope(index, committed, envelope_json)
    record = _parse_payload(index, claimed_kind, envelope)
    logged_at = committed["logged_at"]
    # The kind as a plain str (not the Kind enum) keeps canonicalize on its fast path.
    if leaf_bytes(claimed_kind, envelope.payload_type, digest, signatures, logged_at) != leaf:
        raise failure(index, record.kind, "the leaf is not the canonical leaf of its envelope")
    _check_logged_at(index, record, logged_at)
    return CheckedEntry(index, Kind(record.kind), digest, logged_at, envelope, record)


def envelope_json(data: bytes | None) -> object:
    """The served envelope JSON as mirrored (``None`` when the server withheld it)."""
    return None if data is None else orjson.loads(data)


def leaf_kind(leaf: bytes) -> str | None:
    """The record kind a leaf claims, for naming a bad entry; ``None`` when it has none."""
    try:
        kind = orjson.loads(leaf).get("kind")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return kind if isinstance(kind, str) else None
