"""The Merkle log in the database: appends, roots, proofs and signed checkpoints.

Complete subtree hashes live in ``log_nodes`` so that roots and proofs cost O(log n) reads
(one batched query each) at any size. Appends take the single ``log_state`` row lock first,
so indices are contiguous and gap-free however many workers write; the record, its leaf, the
new nodes and the new checkpoint commit in one transaction.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import Select, Table, and_, bindparam, or_, select, update
from sqlalchemy.orm import Session

from registry.context import RegistryContext
from registry.db import insert_rows
from registry.errors import ConfigurationError, InvalidInput, NotFound
from registry.log import merkle
from registry.log.note import Checkpoint as CheckpointBody
from registry.log.note import NoteSigner, sign_checkpoint, vkey
from registry.models import Checkpoint, LogNode, LogState, Record

LOG_STATE_ID = 1
"""The primary key of the single ``log_state`` row (the tree size and append lock)."""


class DatabaseNodeReader:
    """``merkle.NodeReader`` over ``log_nodes``: one query per call."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def get_nodes(self, keys: Collection[tuple[int, int]]) -> Mapping[tuple[int, int], bytes]:
        """The stored node hashes for ``(level, index)`` keys (RFC 6962 §2.1 subtree roots); missing
        keys are absent from the result."""
        if not keys:
            return {}
        by_level: dict[int, list[int]] = {}
        for level, idx in keys:
            by_level.setdefault(level, []).append(idx)
        params: dict[str, object] = {}
        for n, (level, indices) in enumerate(by_level.items()):
            params[f"level{n}"], params[f"idx{n}"] = level, indices
        # Core, on the session's connection: nodes are only ever written as rows there, so
        # there is nothing for an autoflush to write first.
        rows = self._session.connection().execute(_nodes_query(len(by_level)), params)
        return {(level, idx): h for level, idx, h in rows}


@lru_cache(maxsize=128)
def _nodes_query(levels: int) -> Select[int, int, bytes]:
    """ "(level = L AND idx IN (...)) OR ..." for ``levels`` levels: an index search per
    level on both backends (SQLite plans a row-value IN over (level, idx) as a full scan).

    Built once per number of levels: composing the expression anew cost more than the query
    itself (a proof at 1,000,000 leaves reads about 20 nodes on as many levels)."""
    return select(LogNode.level, LogNode.idx, LogNode.hash).where(
        or_(
            *(
                and_(
                    LogNode.level == bindparam(f"level{n}"),
                    LogNode.idx.in_(bindparam(f"idx{n}", expanding=True)),
                )
                for n in range(levels)
            )
        )
    )


_LOG_NODES = cast(Table, LogNode.__table__)


def ensure_log_state(session: Session) -> None:
    """Create the single ``log_state`` row (tree size 0) if it is not there yet."""
    if session.get(LogState, LOG_STATE_ID) is None:
        session.add(LogState(id=LOG_STATE_ID, size=0))
        session.flush()


def establish_origin(session: Session, wanted: str | None, new_log: str) -> str:
    """The log's origin as stored with it, fixed on first call (at the log's creation).

    ``wanted`` is the configured ``REGISTRY_LOG_ORIGIN`` (None when unset): it must equal the
    stored origin, or the start is refused (``ConfigurationError`` naming both) — a setting
    never renames a log, ``rename_log`` does, logged. ``new_log`` names a log that has none
    yet. A log made before origins were stored keeps the name of its newest checkpoint.
    """
    state = session.get(LogState, LOG_STATE_ID, with_for_update=True)
    assert state is not None, "ensure_log_state first"
    if state.origin is None:
        newest = session.execute(
            select(Checkpoint.note).order_by(Checkpoint.size.desc()).limit(1)
        ).scalar()
        state.origin = newest.split("\n", 1)[0] if newest else (wanted or new_log)
        session.flush()
    if wanted and wanted != state.origin:
        raise ConfigurationError(
            f"REGISTRY_LOG_ORIGIN is {wanted!r} but this log was created as {state.origin!r}; "
            "a log keeps its name (unset REGISTRY_LOG_ORIGIN, or rename the log explicitly "
            "with 'registry log rename')"
        )
    return state.origin


def stored_origin(session: Session) -> str | None:
    """The origin stored with the log, or None before the log was created."""
    return session.execute(select(LogState.origin).where(LogState.id == LOG_STATE_ID)).scalar()


def lock_log(session: Session) -> int:
    """Take the append lock; return the current tree size.

    PostgreSQL: row lock held to commit, and the session's loaded rows are refreshed.
    SQLite: the transaction began IMMEDIATE, so it already holds the database's write lock
    and nothing it read can be stale.
    """
    size = session.execute(
        select(LogState.size).where(LogState.id == LOG_STATE_ID).with_for_update()
    ).scalar_one()
    if session.get_bind().dialect.name != "sqlite":
        # Rows read before the lock may have changed while we waited for it (another
        # official revoked the same endorsement, say). Reload them so every check made under
        # the lock sees what the previous holder committed, our own changes flushed first.
        session.flush()
        session.expire_all()
    return int(size)


def append_leaves(session: Session, size: int, leaves: Sequence[bytes]) -> int:
    """Append leaves after ``size`` (the locked size); return the new size."""
    reader = DatabaseNodeReader(session)
    nodes = merkle.append_many(size, [merkle.leaf_hash(leaf) for leaf in leaves], reader)
    # Plain rows on the session's connection (COPY on PostgreSQL): an ORM bulk insert costs
    # twice as much per row, and a batch of records adds about two nodes per leaf.
    insert_rows(
        session.connection(),
        _LOG_NODES,
        [{"level": lvl, "idx": idx, "hash": h} for lvl, idx, h in nodes],
    )
    new_size = size + len(leaves)
    session.execute(update(LogState).where(LogState.id == LOG_STATE_ID).values(size=new_size))
    return new_size


def log_note_signer(ctx: RegistryContext) -> NoteSigner:
    """The C2SP signed-note signer of checkpoints: the log key under the log origin."""
    return NoteSigner(ctx.log_origin, ctx.log_signer.private_key)


def log_vkey(ctx: RegistryContext) -> str:
    """C2SP signed-note verifier key of the log (served at /log/vkey)."""
    return vkey(ctx.log_origin, ctx.log_signer.public_key_raw)


def publish_checkpoint(session: Session, ctx: RegistryContext, size: int) -> Checkpoint:
    """Sign and store the checkpoint for ``size`` (in the appending transaction)."""
    existing = session.get(Checkpoint, size)
    if existing is not None:
        return existing
    root = merkle.tree_root(size, DatabaseNodeReader(session))
    body = CheckpointBody(origin=ctx.log_origin, size=size, root_hash=root)
    row = Checkpoint(
        size=size,
        root_hash=root,
        note=sign_checkpoint(body, log_note_signer(ctx)),
        created_at=ctx.clock(),
    )
    session.add(row)
    session.flush()
    return row


def latest_checkpoint(session: Session) -> Checkpoint:
    """The newest stored checkpoint (C2SP tlog-checkpoint); ``NotFound`` before the first."""
    checkpoint: Checkpoint = _newest(session, Checkpoint)
    return checkpoint


def tree_size(session: Session) -> int:
    """The latest checkpoint's size (its column alone: no row object to build)."""
    return int(_newest(session, Checkpoint.size))


def _newest(session: Session, what: Any) -> Any:
    """``what`` (the checkpoint, or some of its columns) of the latest checkpoint."""
    found = session.execute(select(what).order_by(Checkpoint.size.desc()).limit(1)).scalar()
    if found is None:
        raise NotFound("the log has no checkpoint yet")
    return found


def _check_range(index: int, size: int, published: int) -> None:
    if size < 1 or size > published:
        raise InvalidInput(f"tree_size must be within 1..{published} (published checkpoints)")
    if not 0 <= index < size:
        raise InvalidInput(f"index must be within 0..{size - 1}")


def inclusion_proof(session: Session, index: int, size: int) -> list[bytes]:
    """The RFC 6962 §2.1.1 audit path of leaf ``index`` in the tree of (published) ``size``."""
    _check_range(index, size, tree_size(session))
    return merkle.inclusion_proof(index, size, DatabaseNodeReader(session))


def consistency_proof(session: Session, old_size: int, new_size: int) -> list[bytes]:
    """The RFC 6962 §2.1.2 consistency proof from ``old_size`` to ``new_size``, both published."""
    published = tree_size(session)
    if not 1 <= old_size <= new_size <= published:
        raise InvalidInput(f"need 1 <= old <= new <= {published} (the latest tree size)")
    return merkle.consistency_proof(old_size, new_size, DatabaseNodeReader(session))


def entry_rows(session: Session, start: int, end: int) -> Iterable[Any]:
    """The log entries with index in [start, end), in index order, as plain rows (no ORM
    objects, for speed: mirrors read the whole log page by page) of the columns
    ``log_index, digest, kind, payload, payload_type, signatures, leaf, logged_at,
    organization_id``. The caller bounds ``end - start`` (one page) and clips ``end`` to
    the tree size; the next page starts at ``end``."""
    return session.execute(
        select(
            Record.log_index,
            Record.digest,
            Record.kind,
            Record.payload,
            Record.payload_type,
            Record.signatures,
            Record.leaf,
            Record.logged_at,
            Record.organization_id,
        )
        .where(Record.log_index >= start, Record.log_index < end)
        .order_by(Record.log_index)
    )
