"""The status index in the database, kept current by every appending transaction
(docs/records.md, "The status index"; the tree itself is ``registry.log.status_index``).

Ingestion notes what each record changes (``IndexChanges``); before the transaction
publishes its checkpoint, ``append_status_index`` applies those changes to the stored
values and tree, and signs the ``status_index`` record that is the transaction's last
entry. Tree nodes are versioned by that record's log index, so a proof can be built against
any committed root (``prove_at``), the witnessed checkpoint's included.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import Table, TextClause, bindparam, select, text, update
from sqlalchemy.orm import Session

from registry.context import RegistryContext
from registry.crypto.dsse import sign_envelope
from registry.crypto.jcs import canonicalize
from registry.db import in_chunks, insert_rows
from registry.log import status_index as si
from registry.models import Record, SigningKey, StatusIndexEntry, StatusIndexNode
from registry.records.schema import RECORD_PAYLOAD_TYPE, Kind, leaf_bytes

_ENTRIES = cast(Table, StatusIndexEntry.__table__)
_NODES = cast(Table, StatusIndexNode.__table__)

_CHUNK = 100
"""Subtrees per node query (SQLite allows 500 terms in a compound SELECT)."""


@dataclass
class IndexChanges:
    """What the records of one transaction change in the index, in log order."""

    changes: list[tuple[str, tuple[str, int]]] = field(default_factory=list)

    def endorsement(self, code: str, index: int) -> None:
        self.changes.append((si.endorsement_key(code), ("endorsement", index)))

    def revocation(self, code: str, index: int) -> None:
        self.changes.append((si.endorsement_key(code), ("revocation", index)))

    def heads(self, refs: Iterable[str], index: int) -> None:
        self.changes.extend((si.batch_key(ref), ("head", index)) for ref in refs)

    def recalls(self, refs: Iterable[str], index: int) -> None:
        self.changes.extend((si.batch_key(ref), ("recall", index)) for ref in refs)


# Stored nodes -------------------------------------------------------------------------------


class DatabaseNodeStore:
    """``NodeStore`` over ``status_index_nodes``: the newest row of each subtree at or below
    ``at`` (a ``status_index`` record's index; None: the newest of all)."""

    def __init__(self, session: Session, at: int | None = None) -> None:
        self._session = session
        self._at = at

    def get_nodes(self, wanted: Sequence[si.NodeKey]) -> Mapping[si.NodeKey, si.Node]:
        found: dict[si.NodeKey, si.Node] = {}
        connection = self._session.connection()
        for chunk in in_chunks(list(wanted), _CHUNK):
            params: dict[str, object] = {"at": self._at if self._at is not None else 2**62}
            for n, (depth, prefix) in enumerate(chunk):
                params[f"d{n}"], params[f"p{n}"] = depth, prefix
            for depth, prefix, digest, key, value in connection.execute(
                _newest_nodes(len(chunk)), params
            ):
                found[(depth, bytes(prefix))] = si.Node(
                    bytes(digest), (key, value) if key is not None else None
                )
        return found


@lru_cache(maxsize=_CHUNK + 1)
def _newest_nodes(count: int) -> TextClause:
    """One index seek per subtree, as a UNION ALL of ``LIMIT 1`` subqueries: a plain
    ``IN`` would read every version of the top nodes, which change in every transaction."""
    one = (
        "SELECT * FROM (SELECT depth, prefix, hash, leaf_key, leaf_value FROM status_index_nodes"
        " WHERE depth = :d{n} AND prefix = :p{n} AND size <= :at ORDER BY size DESC LIMIT 1)"
        " AS q{n}"
    )
    statement = text(" UNION ALL ".join(one.format(n=n) for n in range(count)))
    prefix_type = _NODES.c.prefix.type
    return statement.bindparams(*(bindparam(f"p{n}", type_=prefix_type) for n in range(count)))


# The transaction's status_index record ------------------------------------------------------


@dataclass(frozen=True)
class IndexRecord:
    """The ``status_index`` record a transaction appends: its row and leaf."""

    index: int
    digest: str
    leaf: bytes
    row: dict[str, Any]


def append_status_index(
    session: Session, ctx: RegistryContext, start: int, index: int, changes: IndexChanges
) -> IndexRecord:
    """Apply ``changes`` (of the transaction's records ``[start, index)``) to the stored
    index and sign the ``status_index`` record that goes at log index ``index``, after
    every record of the transaction, under the append lock."""
    previous = _previous_keys(session, index)
    if previous is None:
        previous = _backfill(session, start, changes)
    root, added = update_index(session, index, changes)
    return _signed_record(session, ctx, index, root, previous + added)


def _backfill(session: Session, start: int, changes: IndexChanges) -> int:
    """A log made before the status index existed: the changes of its entries ``[0,
    start)``, derived from the records as the audit derives them, go before this
    transaction's, so the first index covers every entry before it. Returns 0 (no key was
    counted before)."""
    if start == 0:
        return 0
    from registry.audit.status import StatusRebuild  # pure: the log's own derivation
    from registry.records.schema import parse_record

    rebuild = StatusRebuild()
    for page in range(0, start, 1000):
        for index, payload in session.execute(
            select(Record.log_index, Record.payload)
            .where(Record.log_index >= page, Record.log_index < min(page + 1000, start))
            .order_by(Record.log_index)
        ):
            if payload is not None:
                rebuild.apply(index, parse_record(json.loads(payload)))
    earlier = IndexChanges()
    for key, value in rebuild.values.items():
        earlier.changes += [(key, (field, at)) for field, at in _as_changes(value)]
    changes.changes[:0] = earlier.changes
    return 0


def _as_changes(value: dict[str, Any]) -> list[tuple[str, int]]:
    """Changes that give ``value`` (``next_value`` applied in order)."""
    if "endorsement" in value:
        out = [("endorsement", value["endorsement"])]
        return out + ([("revocation", value["revocation"])] if value["revocation"] else [])
    out = [("head", value["head"])]
    return out + ([("recall", value["recall"])] if value["recall"] is not None else [])


def update_index(session: Session, index: int, changes: IndexChanges) -> tuple[bytes, int]:
    """Apply ``changes`` to the stored values and tree, the new nodes versioned ``index``;
    return the new root and how many keys are new."""
    current = _current_values(session, {key for key, _ in changes.changes})
    before = set(current)
    updated: dict[str, dict[str, Any]] = {}
    for key, change in changes.changes:
        updated[key] = current[key] = si.next_value(current.get(key), change)
    texts = {key: canonicalize(value).decode() for key, value in updated.items()}
    root, written = si.apply_changes(DatabaseNodeStore(session), texts)
    _write_values(session, texts, before)
    insert_rows(session.connection(), _NODES, node_rows(written, index))
    return root, len(set(texts) - before)


def node_rows(written: Mapping[si.NodeKey, si.Node], index: int) -> list[dict[str, Any]]:
    """``status_index_nodes`` rows of ``written``, versioned ``index``."""
    return [
        {
            "depth": depth,
            "prefix": prefix,
            "size": index,
            "hash": node.hash,
            "leaf_key": node.leaf[0] if node.leaf else None,
            "leaf_value": node.leaf[1] if node.leaf else None,
        }
        for (depth, prefix), node in written.items()
    ]


def _current_values(session: Session, keys: set[str]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    hashes = sorted(si.key_hash(k) for k in keys)
    for chunk in in_chunks(hashes):
        for key, value in session.execute(
            select(StatusIndexEntry.key, StatusIndexEntry.value).where(
                StatusIndexEntry.key_hash.in_(chunk)
            )
        ):
            found[key] = json.loads(value)
    return found


def _write_values(session: Session, texts: dict[str, str], existing: set[str]) -> None:
    connection = session.connection()
    changed = [
        {"b_key_hash": si.key_hash(k), "b_value": v} for k, v in texts.items() if k in existing
    ]
    if changed:
        connection.execute(
            update(_ENTRIES)
            .where(_ENTRIES.c.key_hash == bindparam("b_key_hash"))
            .values(value=bindparam("b_value")),
            changed,
        )
    insert_rows(
        connection,
        _ENTRIES,
        [
            {"key_hash": si.key_hash(k), "key": k, "value": v}
            for k, v in texts.items()
            if k not in existing
        ],
    )


def _previous_keys(session: Session, index: int) -> int | None:
    """How many keys the previous ``status_index`` record counted (None: there is none)."""
    payload = session.execute(
        select(Record.payload)
        .where(Record.kind == Kind.STATUS_INDEX.value, Record.log_index < index)
        .order_by(Record.log_index.desc())
        .limit(1)
    ).scalar()
    return int(json.loads(payload)["keys"]) if payload else None


def _signed_record(
    session: Session, ctx: RegistryContext, index: int, root: bytes, keys: int
) -> IndexRecord:
    now = ctx.clock()
    document = {
        "kind": Kind.STATUS_INDEX.value,
        "time": now.isoformat(timespec="seconds"),
        "size": index,
        "root": base64.b64encode(root).decode(),
        "keys": keys,
    }
    payload = canonicalize(document)
    envelope = sign_envelope(RECORD_PAYLOAD_TYPE, payload, [ctx.registry_signer])
    signatures = [
        {"keyid": s.keyid, "sig": base64.b64encode(s.sig).decode()} for s in envelope.signatures
    ]
    digest = hashlib.sha256(payload).hexdigest()
    logged_at = now.isoformat(timespec="microseconds").replace("+00:00", "Z")
    leaf = leaf_bytes(Kind.STATUS_INDEX.value, RECORD_PAYLOAD_TYPE, digest, signatures, logged_at)
    org_id = session.execute(
        select(SigningKey.organization_id).where(SigningKey.key_id == ctx.registry_signer.key_id)
    ).scalar_one()
    row = {
        "log_index": index,
        "digest": digest,
        "kind": Kind.STATUS_INDEX.value,
        "payload_type": RECORD_PAYLOAD_TYPE,
        "payload": payload,
        "signatures": signatures,
        "leaf": leaf,
        "organization_id": org_id,
        "record_time": now,
        "logged_at": now,
        "corrects": None,
    }
    return IndexRecord(index, digest, leaf, row)


# Proofs -------------------------------------------------------------------------------------


def prove_at(session: Session, head: int, key: str) -> dict[str, Any]:
    """The document's proof entry for ``key`` against the root committed by the
    ``status_index`` record at log index ``head``: ``{key, value, proof}``."""
    value, proof = si.prove_stored(DatabaseNodeStore(session, head), key)
    return {
        "key": key,
        "value": json.loads(value) if value is not None else None,
        "proof": si.proof_to_json(proof),
    }
