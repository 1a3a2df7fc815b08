"""``registry check``: the registry verifies its own database, without a network.

What an auditor checks from outside, checked from the tables (docs/audit.md, "The registry
checks itself"):

1. the latest stored checkpoint is a C2SP signed note that verifies under the log key
   (c2sp.org/tlog-checkpoint), and its size and root columns are what the note says;
2. every stored record ``[0, size)`` is there (a deleted record leaves a gap), its payload
   and signatures are what its stored leaf commits to, the leaf being rebuilt byte for byte
   (``entry.check_entry``: the same check as the audit's step 5), and the payload's digest
   column is its SHA-256;
3. every DSSE signature verifies under the key that a key record at or before that index
   registered under that id (the key id being the SHA-256 of the key);
4. every node the stored tree holds for those leaves (``log_nodes``, the RFC 6962 hashes
   proofs are made of) is the hash of the leaves below it, and the root of the leaves is
   the checkpoint's;
5. the status index rebuilt from the records (``registry.audit.status``) has, at every
   ``status_index`` record, the committed ``size``, ``root`` and ``keys``; the checkpoint
   ends with one; and the stored index (``status_index_entries``, the root node the proofs
   are built from) holds the rebuilt values and root, the first differing key named.

Rows are read a page at a time and the tree is kept as a compact range, so memory stays
bounded by the number of keys and ``log n`` whatever the size of the log. Ed25519 checks go
to worker processes when there are many records (``pool.preverify_signatures``), as in the
audit. Whether a key was still valid at an index, the signing policy and the batch chains
are the audit's replay (``registry audit``), not repeated here.

The check is incremental: ``SelfCheck.run`` goes on from where the previous run stopped,
so the server's background check (``registry.audit.monitor``) follows new entries cheaply.
A failure raises ``VerificationError`` naming the lowest bad log index.
"""

from __future__ import annotations

import base64
import binascii
import multiprocessing
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from registry.audit.entry import CheckedEntry, check_entry, leaf_kind
from registry.audit.failures import failure
from registry.audit.pool import KeyDirectory, preverify_signatures, worker_count
from registry.audit.status import StatusRebuild
from registry.audit.tree import verify_checkpoint
from registry.crypto.dsse import verify_signature
from registry.crypto.keys import PublicKey, load_public_key
from registry.crypto.keys import key_id as compute_key_id
from registry.db import in_chunks
from registry.errors import InvalidInput, NotFound, VerificationError
from registry.log import merkle
from registry.log import status_index as si
from registry.log.compact import CompactRange
from registry.log.note import NoteVerifier
from registry.models import Record, StatusIndexEntry
from registry.records.schema import Kind
from registry.transparency import log as log_service
from registry.transparency.status_index import DatabaseNodeStore

PAGE_SIZE = 1000
"""Records read per query (and handed to a signature worker at once)."""

Advance = Callable[[int], None]
"""Told how many more records were checked (a progress bar)."""


@dataclass(frozen=True)
class SelfCheckResult:
    """A database that verifies up to its latest checkpoint: size, RFC 6962 root, how many
    payloads are erased (their leaves are in the tree, their contents cannot be checked),
    how many records this run checked, and the seconds it took."""

    size: int
    root: bytes
    erased: int
    checked: int
    seconds: float


@dataclass(frozen=True)
class _Row:
    """One stored record as the check reads it."""

    index: int
    digest: str
    payload: bytes | None
    envelope: dict[str, Any] | None
    leaf: bytes


def _stored_row(
    log_index: int,
    digest: str,
    kind: str,
    payload: bytes | None,
    payload_type: str,
    signatures: list[dict[str, Any]],
    leaf: bytes,
    *rest: Any,
) -> _Row:
    # The envelope the registry serves for this record (api/routers/log.py, /log/entries).
    envelope = (
        None
        if payload is None
        else {
            "payload": base64.b64encode(payload).decode(),
            "payloadType": payload_type,
            "signatures": signatures,
        }
    )
    return _Row(log_index, digest, payload, envelope, bytes(leaf))


class SelfCheck:
    """The registry's check of its own database, resumable: ``checked`` records verified so
    far; the keys their key records registered and the compact range of their leaves are
    all it keeps (O(keys + log n) memory)."""

    def __init__(self, log_key: NoteVerifier, *, workers: int | None = None) -> None:
        """``log_key``: the log's verifier key (``transparency.log.log_vkey``); ``workers``:
        signature worker processes (``None``: as the audit decides, 0: none)."""
        self.log_key = log_key
        self.workers = workers
        self.checked = 0
        self.erased = 0
        self._tree = CompactRange()
        self._keys: dict[str, tuple[PublicKey, int]] = {}
        self._directory = KeyDirectory()
        self._status = StatusRebuild()
        self._last_kind: str | None = None

    def run(
        self,
        factory: sessionmaker[Session],
        advance: Advance = lambda n: None,
        *,
        on_size: Callable[[int], None] = lambda size: None,
        pause: float = 0.0,
    ) -> SelfCheckResult:
        """Check the database up to its latest checkpoint, from where the last run stopped.

        ``on_size`` is told the size being checked once the checkpoint is read; ``pause``
        (a fraction) makes the check sleep that much of its working time after each page,
        to leave the CPU to requests. Raises ``VerificationError`` at the first bad record,
        or without an index when the checkpoint itself is wrong.
        """
        started = time.perf_counter()
        start = self.checked
        size, root = self._checkpoint(factory)
        on_size(size)
        if size < self.checked:
            raise failure(
                None,
                None,
                f"the latest checkpoint has size {size}, but {self.checked} records were "
                "checked before: the log shrank",
            )
        for chunk, verified in self._signed_pages(factory, size):
            page_started = time.perf_counter()
            self._check_page(factory, chunk, verified)
            advance(len(chunk))
            if pause:
                time.sleep((time.perf_counter() - page_started) * pause)
        if self._tree.root() != root:
            raise failure(
                None,
                None,
                f"the tree of the {size} stored leaves does not have the root of the latest "
                "checkpoint (the tree was rebuilt without re-signing, or the checkpoint's "
                "root was replaced)",
            )
        self._status.check_checkpoint(size, self._last_kind)
        if self._status.blind_from is None:
            _check_stored_index(factory, self._status)
        elapsed = time.perf_counter() - started
        return SelfCheckResult(size, root, self.erased, size - start, elapsed)

    # --- the checkpoint -----------------------------------------------------------------

    def _checkpoint(self, factory: sessionmaker[Session]) -> tuple[int, bytes]:
        """Size and root of the latest stored checkpoint, whose signed note must verify
        under the log key and agree with its columns."""
        with factory() as session:
            try:
                stored = log_service.latest_checkpoint(session)
            except NotFound:
                raise failure(None, None, "the database holds no checkpoint") from None
            note, size, root = stored.note, stored.size, bytes(stored.root_hash)
        checkpoint = verify_checkpoint(note, self.log_key)
        if checkpoint.size != size or checkpoint.root_hash != root:
            raise failure(
                None,
                None,
                f"the latest checkpoint's columns (size {size}) differ from its signed note "
                f"(size {checkpoint.size})",
            )
        return size, root

    # --- reading pages, signatures in workers -------------------------------------------

    def _pages(self, factory: sessionmaker[Session], size: int) -> Iterator[list[_Row]]:
        """The stored records ``[checked, size)`` a page at a time, each page in a short
        read of its own (a long check holds no snapshot open); a gap ends the pages."""
        start = self.checked
        while start < size:
            end = min(start + PAGE_SIZE, size)
            with factory() as session:
                rows = [_stored_row(*r) for r in log_service.entry_rows(session, start, end)]
            for offset, row in enumerate(rows):
                if row.index != start + offset:
                    rows = rows[:offset]
                    break
            if rows:
                yield rows
            if len(rows) < end - start:
                raise failure(
                    start + len(rows),
                    None,
                    f"the database holds no record {start + len(rows)} of a log of size "
                    f"{size} (a deleted record leaves a gap)",
                )
            start = end

    def _signed_pages(
        self, factory: sessionmaker[Session], size: int
    ) -> Iterator[tuple[list[_Row], set[tuple[int, str]]]]:
        """Each page with the (index, keyid) pairs whose signature a worker has verified
        (empty without workers: the check verifies them itself)."""
        workers = worker_count(size - self.checked) if self.workers is None else self.workers
        if workers == 0:
            for chunk in self._pages(factory, size):
                yield chunk, set()
            return
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            pending: deque[tuple[list[_Row], Future[set[tuple[int, str]]]]] = deque()
            try:
                for chunk in self._pages(factory, size):
                    rows = [(row.index, row.leaf, _envelope_bytes(row)) for row in chunk]
                    directory = self._directory.add(rows)
                    signed = [(index, envelope) for index, _, envelope in rows]
                    pending.append((chunk, pool.submit(preverify_signatures, signed, directory)))
                    if len(pending) > 2 * workers:
                        done, verified = pending.popleft()
                        yield done, verified.result()
                while pending:
                    done, verified = pending.popleft()
                    yield done, verified.result()
            except BaseException:
                pool.shutdown(wait=False, cancel_futures=True)
                raise

    # --- one page -------------------------------------------------------------------------

    def _check_page(
        self, factory: sessionmaker[Session], chunk: Sequence[_Row], verified: set[tuple[int, str]]
    ) -> None:
        """Check a page's records and the stored nodes they complete; raise at the lowest
        bad index (a node is blamed on the first leaf below it)."""
        tree_problem = self._check_nodes(factory, chunk)
        # A record's own fault is the more telling one when it is at the same index.
        limit = chunk[-1].index + 1 if tree_problem is None else tree_problem.extra["index"] + 1
        for row in chunk:
            if row.index >= limit:
                break
            self._check_record(row, verified)
        if tree_problem is not None:
            raise tree_problem
        self.checked = chunk[-1].index + 1

    def _check_nodes(
        self, factory: sessionmaker[Session], chunk: Sequence[_Row]
    ) -> VerificationError | None:
        """Extend the compact range by the page's leaves; every node that completes must be
        the one ``log_nodes`` holds (RFC 6962 §2.1: what inclusion and consistency proofs
        are made of)."""
        computed: list[tuple[int, int, bytes]] = []
        for row in chunk:
            computed += self._tree.append(merkle.leaf_hash(row.leaf))
        with factory() as session:
            stored = log_service.DatabaseNodeReader(session).get_nodes(
                [(level, idx) for level, idx, _ in computed]
            )
        bad = {(level, idx) for level, idx, value in computed if stored.get((level, idx)) != value}
        if not bad:
            return None
        # A bad node makes every node above it bad: blame the lowest nodes, the first of them.
        above = {
            (level + up, idx >> up)
            for level, idx in bad
            for up in range(1, 64)
            if (level + up, idx >> up) in bad
        }
        first, level, idx = min((idx << level, level, idx) for level, idx in bad - above)
        blamed = next((r for r in chunk if r.index == first), None)
        kind = leaf_kind(blamed.leaf) if blamed is not None else None
        what = (
            "the leaf is not the one the stored tree holds at this index "
            "(the leaf, or the tree in log_nodes, was altered)"
            if level == 0
            else f"the stored tree node (level {level}, index {idx}) over leaves "
            f"[{first}, {(idx + 1) << level}) is not the hash of the leaves below it "
            "(the tree in log_nodes was altered)"
        )
        return failure(first, kind, what)

    def _check_record(self, row: _Row, verified: set[tuple[int, str]]) -> None:
        """Payload ↔ leaf ↔ digest, the registered keys, every signature."""
        if row.envelope is None:
            self.erased += 1  # erased on purpose: the leaf still commits to its hash
            self._status.erased(row.index)
            self._last_kind = leaf_kind(row.leaf)
            return
        entry = check_entry(row.index, row.leaf, row.envelope)
        self._status.apply(row.index, entry.record)
        self._last_kind = entry.kind.value
        if entry.digest != row.digest:
            raise failure(
                row.index,
                entry.kind.value,
                f"the stored digest {row.digest} is not the payload's SHA-256 {entry.digest}",
            )
        if entry.kind in (Kind.KEY_REGISTRATION, Kind.KEY_ROTATION):
            self._register(entry)
        for signature in entry.envelope.signatures:
            known = self._keys.get(signature.keyid)
            if known is None:
                raise failure(
                    row.index,
                    entry.kind.value,
                    f"signed by key {signature.keyid}, which no key record at or before "
                    "this index registered",
                )
            if (row.index, signature.keyid) in verified:
                continue
            try:
                verify_signature(entry.envelope, signature.keyid, known[0])
            except VerificationError as exc:
                raise failure(row.index, entry.kind.value, exc.detail) from None

    def _register(self, entry: CheckedEntry) -> None:
        key = entry.record.key
        try:
            raw = base64.b64decode(key.public_key, validate=True)
            if compute_key_id(raw) != key.id:
                raise InvalidInput(f"key id {key.id} is not the SHA-256 of its key")
            public_key = load_public_key(raw)
        except (binascii.Error, ValueError, InvalidInput) as exc:
            detail = exc.detail if isinstance(exc, InvalidInput) else str(exc)
            raise failure(
                entry.index, entry.kind.value, f"the key record's key is unusable: {detail}"
            ) from None
        self._keys.setdefault(key.id, (public_key, entry.index))


def _check_stored_index(factory: sessionmaker[Session], status: StatusRebuild) -> None:
    """The stored index is the rebuilt one: its root node as of the last checked
    ``status_index`` record (what proofs against that checkpoint are built from) and, when
    no newer index was written meanwhile (the server keeps appending while it checks
    itself), the stored value of every key the checked records changed and the number of
    keys. A resumed check compares the keys changed since the last run that compared them."""
    if status.last_head is None:
        return
    changed = sorted(status.changed)
    stored: dict[str, Any] = {}
    with factory() as session:
        newest = _newest_index(session)
        for chunk in in_chunks([si.key_hash(k) for k in changed]):
            for key, value in session.execute(
                select(StatusIndexEntry.key, StatusIndexEntry.value).where(
                    StatusIndexEntry.key_hash.in_(chunk)
                )
            ):
                stored[key] = orjson.loads(value)
        count = session.execute(select(func.count()).select_from(StatusIndexEntry)).scalar_one()
        still = _newest_index(session) == newest == status.last_head
        store = DatabaseNodeStore(session, status.last_head)
        root_node = store.get_nodes([(0, b"")]).get((0, b""))
    if (root_node.hash if root_node else si.EMPTY) != status.root():
        raise failure(
            status.last_head,
            Kind.STATUS_INDEX.value,
            "the stored status index's root node is not the root of the log's keys "
            "(status_index_nodes was altered): proofs built from it would not verify",
        )
    if not still:
        return  # values moved on since: compared by the run that ends at the newest index
    for key in changed:
        if stored.get(key) != status.values[key]:
            raise failure(
                status.last_head,
                Kind.STATUS_INDEX.value,
                f"the stored status index holds {key} = {stored.get(key)}, but the log "
                f"gives {status.values[key]} (status_index_entries was altered)",
            )
    if count != len(status.values):
        raise failure(
            status.last_head,
            Kind.STATUS_INDEX.value,
            f"the stored status index holds {count} keys, the log gives {len(status.values)}",
        )
    status.changed.clear()


def _newest_index(session: Session) -> int | None:
    return session.execute(
        select(func.max(Record.log_index)).where(Record.kind == Kind.STATUS_INDEX.value)
    ).scalar()


def _envelope_bytes(row: _Row) -> bytes | None:
    return None if row.envelope is None else orjson.dumps(row.envelope)


def check_database(
    factory: sessionmaker[Session],
    log_key: NoteVerifier,
    advance: Advance = lambda n: None,
    *,
    on_size: Callable[[int], None] = lambda size: None,
    workers: int | None = None,
) -> SelfCheckResult:
    """Check the whole database once (``SelfCheck`` from index 0). Raises
    ``VerificationError`` naming the lowest bad log index."""
    return SelfCheck(log_key, workers=workers).run(factory, advance, on_size=on_size)
