"""Keeping the published files current (docs/scaling.md, "Published files").

The publisher writes, for every endorsement code, the verification document built by
``registry.endorsements.scan_cache.build_entry`` — the very function behind the dynamic
``GET /api/v1/verify/{code}``, so whatever that document carries (inclusion proofs, key
records, the witness policy, an index proof of the status) the published one carries too —
and the consumer pages rendered from it; then the log's cosigned checkpoint with the tiles
and entry bundles of its tree (c2sp.org/tlog-tiles).

Which documents are rewritten when. Every write anywhere in the registry moves the
checkpoint, and rewriting every code's document on every append would cost one build per
code per write; so a document is rewritten only when what it says or how it verifies would
change:

1. a record that concerns the code is logged: its endorsement, a revocation of it, a record
   of any batch in its lineage (a recall among them), or a record that can change the meaning
   of every document (a key revocation or rotation, a correction, a witness policy, a log
   rename: then every code);
2. its status moves with the clock (``valid_from``, ``valid_until`` reached);
3. its checkpoint had no cosignature yet and a witness has since cosigned the log;
4. its newest cosignature is half the witness policy's ``max_age_seconds`` old, so a phone
   never sees it "not recently witnessed" (the server re-asks witnesses at a quarter).

The publisher polls the log size every ``poll_seconds`` (one primary-key read) and is woken
by commits of its own process: a change committed by any worker or node reaches the files
within a poll, a build and the writes (measured by ``registry bench``: ``publish_latency``).
A published document's checkpoint is therefore often older than the log's newest; a phone
that remembers a newer one (it scanned another code since) asks the live path for a fresh
document (web/static/verify.js), which the server builds against the newest checkpoint.

State. What has been published is kept in ``.publish/state.json`` below the root (written
atomically after the files): the log size whose changes are all applied, and per code what
its files say (checkpoint size, status, lineage). After a crash between a commit and its
publication, the next start finds the log larger than the state's size and applies the
difference: publishing is derived state, never the source of truth. One publisher per
published tree is the leader (an exclusive ``flock`` on ``.publish/lock``); other workers
wait for the lock, so a dead leader is replaced within a second.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from registry.context import RegistryContext
from registry.endorsements.scan_cache import ScanEntry, build_entry
from registry.errors import NotFound
from registry.models import (
    Batch,
    CheckpointCosignature,
    Endorsement,
    EndorsementBatch,
    LogState,
    Record,
    RecordBatch,
)
from registry.publishing import paths
from registry.publishing.targets import Target, atomic_write
from registry.records.schema import Kind
from registry.status import Status
from registry.transparency import log as log_service
from registry.transparency import tiles as tile_service
from registry.transparency import witnessing
from registry.transparency.log import LOG_STATE_ID

logger = logging.getLogger(__name__)

PageRenderer = Callable[[ScanEntry, Status, RegistryContext], dict[str, bytes]]
"""Renders the consumer pages of an entry at a status: file name in ``e/{code}/`` -> bytes."""

EVERY_CODE_KINDS = frozenset(
    {
        Kind.KEY_REVOCATION.value,  # a signature's meaning in any chain
        Kind.KEY_ROTATION.value,
        Kind.CORRECTION.value,  # may correct any record
        Kind.LOG_RENAME.value,  # every document names the log
        Kind.WITNESS_POLICY.value,  # and carries the policy
    }
)
"""Record kinds whose arrival can change every published document."""

COSIGNATURE_WAIT_SECONDS = 0.8
"""How long a document whose checkpoint has no cosignature yet waits for one before it is
published anyway (and again once cosigned: rule 3)."""
POLL_SECONDS = 0.25
"""Seconds between two polls of the log size by the leader."""
STATE_VERSION = 1


@dataclass
class CodeState:
    """What the published files of one code say."""

    tree_size: int
    status: str
    revoked: bool
    recalled: bool
    cosigned: bool
    cosigned_at: float | None  # unix time of the checkpoint's newest stored cosignature
    valid_from: str
    valid_until: str
    batches: list[str]
    published_at: float

    def next_change(self) -> float | None:
        """When the status moves with the clock next (unix time), if it does."""
        if self.revoked or self.recalled:
            return None
        for moment in (self.valid_from, self.valid_until):
            at = datetime.fromisoformat(moment).timestamp()
            if at > self.published_at:
                return at
        return None


@dataclass
class PublishState:
    """The publisher's memory of what the files say (``.publish/state.json``)."""

    log_size: int = -1  # every change of the log below this size is published
    tiles_size: int = 0  # tiles and bundles of this tree size exist
    checkpoint: str = ""  # the published checkpoint note
    codes: dict[str, CodeState] = field(default_factory=dict)
    assets: str = ""  # a digest of the fixed files last written

    @classmethod
    def load(cls, path: Path) -> PublishState:
        """The state at ``path``; a fresh one if missing or unreadable (all is republished)."""
        try:
            raw = json.loads(path.read_text())
            if raw.get("version") != STATE_VERSION:
                return cls()
            return cls(
                log_size=int(raw["log_size"]),
                tiles_size=int(raw["tiles_size"]),
                checkpoint=str(raw["checkpoint"]),
                codes={c: CodeState(**s) for c, s in raw["codes"].items()},
                assets=str(raw.get("assets", "")),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return cls()

    def save(self, path: Path) -> None:
        """Write the state atomically."""
        body = {
            "version": STATE_VERSION,
            "log_size": self.log_size,
            "tiles_size": self.tiles_size,
            "checkpoint": self.checkpoint,
            "assets": self.assets,
            "codes": {c: asdict(s) for c, s in sorted(self.codes.items())},
        }
        atomic_write(path, json.dumps(body, separators=(",", ":")).encode())


@dataclass
class StepReport:
    """What one publisher step did."""

    log_size: int = 0
    codes: list[str] = field(default_factory=list)
    tiles: int = 0
    checkpoint: bool = False
    seconds: float = 0.0


class Publisher:
    """Writes the published tree to ``target`` and keeps it current (one ``step`` at a time).

    ``pages`` renders the consumer pages (web/), ``fixed`` gives the files that change only
    with a release (hashed static assets, the web server's header snippet)."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        context: Callable[[], RegistryContext],
        target: Target,
        state_dir: Path,
        *,
        pages: PageRenderer,
        fixed: Callable[[], dict[str, bytes]] | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.factory = factory
        self.context = context
        self.target = target
        self.state_dir = Path(state_dir)
        self.state_path = self.state_dir / "state.json"
        self.pages = pages
        self.fixed = fixed
        self.wall_clock = wall_clock
        self.state = PublishState.load(self.state_path)
        self._lock = threading.Lock()
        self._fixed_done = False
        self._vkey_written = b""
        self._checked = False  # whether the files the state lists were checked (at start)
        # observed by /metrics and the bench: the newest change seen and when it was written
        self.last_step_at = 0.0
        self.last_report = StepReport()

    # --- one step -------------------------------------------------------------------------

    def step(self) -> StepReport:
        """Publish whatever changed since the last step (everything, the first time)."""
        with self._lock:
            return self._step()

    def _step(self) -> StepReport:
        started = time.perf_counter()
        ctx = self.context()
        report = StepReport()
        self._publish_fixed()
        with self.factory() as session, session.begin():
            size = int(
                session.scalar(select(LogState.size).where(LogState.id == LOG_STATE_ID)) or 0
            )
            due = self._due(session, ctx, size)
        for code in sorted(due):
            if self._publish_code(code, ctx):
                report.codes.append(code)
        report.tiles, report.checkpoint = self._publish_log(ctx)
        moved = size != self.state.log_size
        self.state.log_size = size
        if report.codes or report.tiles or report.checkpoint or moved:
            self.state.save(self.state_path)
        report.log_size = size
        report.seconds = time.perf_counter() - started
        self.last_step_at = self.wall_clock()
        self.last_report = report
        return report

    def _publish_fixed(self) -> None:
        """The release's fixed files, once per process (they change only with a release)."""
        if self.fixed is None or self._fixed_done:
            return
        files = self.fixed()
        digest = str(hash(tuple(sorted((k, hash(v)) for k, v in files.items()))))
        if digest == self.state.assets and all(self.target.exists(p) for p in files):
            return
        for path, body in files.items():
            self.target.write(path, body)
        self.state.assets = digest
        self._fixed_done = True

    # --- which codes ----------------------------------------------------------------------

    def _due(self, session: Session, ctx: RegistryContext, size: int) -> set[str]:
        """The codes whose files must be rewritten now (the module's rules 1-4)."""
        seen = self.state.log_size
        codes = self.state.codes
        due: set[str] = set()
        if seen != size or not self._checked:
            every = set(session.scalars(select(Endorsement.code)))
            due |= {c for c in every if c not in codes}  # new, or never published
            for gone in set(codes) - every:  # a restore of an older backup: forget it
                del codes[gone]
            if not self._checked:  # at start: files lost since (a new disk, a cleanup)
                due |= {c for c in codes if not self.target.exists(paths.page_path(c))}
                self._checked = True
            if 0 <= seen < size:
                due |= self._concerned(session, seen, every)
            elif seen > size:  # the log shrank (a restore): nothing published is trusted
                due |= every
        now = self.wall_clock()
        newest_cosigned = session.scalar(select(func.max(CheckpointCosignature.size)))
        refresh_after = ctx.settings.witness_max_age_seconds / 2
        for code, state in codes.items():
            change = state.next_change()
            if (
                (change is not None and change <= now)
                or (
                    not state.cosigned
                    and newest_cosigned is not None
                    and newest_cosigned >= state.tree_size
                )
                or (state.cosigned_at is not None and now - state.cosigned_at >= refresh_after)
            ):
                due.add(code)
        return due

    def _concerned(self, session: Session, seen: int, every: set[str]) -> set[str]:
        """The codes a record logged at or after ``seen`` concerns."""
        kinds = set(
            session.scalars(
                select(Record.kind).where(Record.log_index >= seen).group_by(Record.kind)
            )
        )
        if kinds & EVERY_CODE_KINDS:
            return set(every)
        due = set(
            session.scalars(
                select(Endorsement.code).where(
                    (Endorsement.record_index >= seen) | (Endorsement.revocation_index >= seen)
                )
            )
        )
        touched = set(
            session.scalars(
                select(Batch.code)
                .join(RecordBatch, RecordBatch.batch_id == Batch.id)
                .where(RecordBatch.record_index >= seen)
            )
        )
        if touched:
            due |= {c for c, s in self.state.codes.items() if touched & set(s.batches)}
        if Kind.RECALL.value in kinds:  # and whatever the recall projection reached
            recalled = set(
                session.scalars(
                    select(Endorsement.code)
                    .join(EndorsementBatch, EndorsementBatch.endorsement_id == Endorsement.id)
                    .join(Batch, Batch.id == EndorsementBatch.batch_id)
                    .where(Batch.recall_digest.is_not(None))
                )
            )
            due |= {c for c, s in self.state.codes.items() if (c in recalled) != s.recalled}
        return due

    # --- writing --------------------------------------------------------------------------

    def _publish_code(self, code: str, ctx: RegistryContext) -> bool:
        """Build the code's entry (as the dynamic path does) and write its document and pages."""
        try:
            entry, cosigned_at = self._build(code, ctx)
            if not entry.cosigned and ctx.settings.witnesses:
                # A phone fails a checkpoint without its witnesses' cosignatures: wait a
                # moment for them (they come within a second while witnesses keep up).
                deadline = time.monotonic() + COSIGNATURE_WAIT_SECONDS
                while time.monotonic() < deadline and not self._cosigned(entry.tree_size):
                    time.sleep(0.05)
                if self._cosigned(entry.tree_size):
                    entry, cosigned_at = self._build(code, ctx)
        except NotFound:
            self.state.codes.pop(code, None)
            return False
        status = entry.status(ctx.clock())
        document = entry.document_json(status).body
        pages = self.pages(entry, status, ctx)
        # The documents first: a viewer given the new page then fetches the new document.
        self.target.write_many([(path, document) for path in paths.document_paths(entry.code)])
        self.target.write_many(
            [(paths.page_path(entry.code, name), body) for name, body in pages.items()]
        )
        self.state.codes[entry.code] = CodeState(
            tree_size=entry.tree_size,
            status=status.value,
            revoked=entry.revoked,
            recalled=entry.recalled,
            cosigned=entry.cosigned,
            cosigned_at=cosigned_at.timestamp() if cosigned_at is not None else None,
            valid_from=entry.valid_from.isoformat(),
            valid_until=entry.valid_until.isoformat(),
            batches=sorted(b["code"] for b in entry.document["batches"]),
            published_at=self.wall_clock(),
        )
        return True

    def _build(self, code: str, ctx: RegistryContext) -> tuple[ScanEntry, datetime | None]:
        with self.factory() as session, session.begin():
            entry = build_entry(session, ctx, code)
            cosigned_at = session.scalar(
                select(func.max(CheckpointCosignature.created_at)).where(
                    CheckpointCosignature.size == entry.tree_size
                )
            )
        return entry, cosigned_at

    def _cosigned(self, size: int) -> bool:
        with self.factory() as session:
            newest = session.scalar(select(func.max(CheckpointCosignature.size)))
        return newest is not None and newest >= size

    def _publish_log(self, ctx: RegistryContext) -> tuple[int, bool]:
        """The served (cosigned) checkpoint and, first, the tiles of its tree."""
        with self.factory() as session, session.begin():
            try:
                checkpoint, note = witnessing.served_checkpoint_row(
                    session, witnessed=bool(ctx.settings.witnesses), now=ctx.clock()
                )
            except NotFound:  # an empty log: nothing to publish yet
                return 0, False
            written = 0
            if checkpoint.size > self.state.tiles_size:
                written = self._publish_tiles(session, self.state.tiles_size, checkpoint.size)
                self.state.tiles_size = checkpoint.size
            vkey = (log_service.log_vkey(ctx) + "\n").encode()
        if vkey != self._vkey_written:  # once per process, and after a rename
            if self.target.read("log/vkey") != vkey:
                self.target.write("log/vkey", vkey)
            self._vkey_written = vkey
        if note == self.state.checkpoint and self.target.exists("log/checkpoint"):
            return written, False
        self.target.write("log/checkpoint", note.encode())
        self.state.checkpoint = note
        return written, True

    def _publish_tiles(self, session: Session, old: int, new: int) -> int:
        """Write the tiles and entry bundles a tree of ``new`` leaves has and one of ``old``
        lacked: new full tiles (immutable) and the partial tiles of ``new``
        (c2sp.org/tlog-tiles; partial tiles of earlier sizes stay, as the spec asks)."""
        width = tile_service.TILE_WIDTH
        written = 0
        level = 0
        while new >> (tile_service.TILE_HEIGHT * level):
            nodes_new = new >> (tile_service.TILE_HEIGHT * level)
            nodes_old = old >> (tile_service.TILE_HEIGHT * level)
            for index in range(nodes_old // width, nodes_new // width):
                tile = tile_service.Tile(level, index)
                self.target.write(
                    paths.tile_path(tile.path()), tile_service.read_tile(session, tile)
                )
                written += 1
            partial = nodes_new % width
            if partial:
                tile = tile_service.Tile(level, nodes_new // width, partial)
                self.target.write(
                    paths.tile_path(tile.path()), tile_service.read_tile(session, tile)
                )
                written += 1
            level += 1
        for index in range(old // width, new // width):
            bundle = tile_service.EntryBundle(index)
            body = tile_service.read_entry_bundle(session, bundle)
            self.target.write(paths.tile_path(bundle.path()), body)
            written += 1
        if new % width:
            bundle = tile_service.EntryBundle(new // width, new % width)
            body = tile_service.read_entry_bundle(session, bundle)
            self.target.write(paths.tile_path(bundle.path()), body)
            written += 1
        return written


class PublisherThread:
    """Runs a Publisher in a daemon thread while this process holds the leader lock.

    Every worker of ``registry serve --publish`` starts one; the one that takes the
    exclusive lock publishes, the others retry the lock every second."""

    def __init__(
        self,
        publisher: Publisher,
        *,
        poll_seconds: float = POLL_SECONDS,
        also: Callable[[], object] | None = None,
    ) -> None:
        self.publisher = publisher
        self.poll_seconds = poll_seconds
        self.also = also  # run after each step while leading (e.g. reading the scan log)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="publisher", daemon=True)
        self._lock_file: Any = None
        self.leader = False
        self.failures = 0

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread (at most 10 s), releasing the lock."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=10)
        self._release()

    def wake(self) -> None:
        """Step now (a commit of this process)."""
        self._wake.set()

    def _try_lead(self) -> bool:
        self.publisher.state_dir.mkdir(parents=True, exist_ok=True)
        handle = open(self.publisher.state_dir / "lock", "a+")  # noqa: SIM115 (held open)
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self._lock_file = handle
        self.leader = True
        # What another leader wrote meanwhile is the truth now.
        self.publisher.state = PublishState.load(self.publisher.state_path)
        logger.info("publisher: leading (pid %d)", os.getpid())
        return True

    def _release(self) -> None:
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None
            self.leader = False

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self.leader and not self._try_lead():
                self._stop.wait(1.0)
                continue
            try:
                self.publisher.step()
                if self.also is not None:
                    self.also()
                self.failures = 0
            except Exception:  # the next step retries; the state says what is missing
                self.failures += 1
                logger.warning("publisher step failed; retrying", exc_info=True)
                self._stop.wait(min(5.0, 0.5 * self.failures))
            self._wake.wait(self.poll_seconds)
            self._wake.clear()
