"""Getting the log's checkpoints cosigned by witnesses (c2sp.org/tlog-witness, client side).

Writes never wait for a witness. A ``WitnessSubmitter`` runs one background thread per
configured witness; each polls the newest checkpoint (every ``POLL_INTERVAL`` seconds, or
at once when ``notify`` is called) and, when the witness has not cosigned it yet, submits
it with ``add-checkpoint``:

* the consistency proof is from the size the witness last cosigned: learned from its
  answers, else the newest size we hold its cosignature for, else 0; a ``409`` with a
  ``text/x.tlog.size`` body tells the real size and the request is rebuilt from it;
* the returned cosignature is verified with the configured vkey before it is stored in
  ``checkpoint_cosignatures``; lines from other keys are ignored, as the spec requires;
* HTTP calls have bounded timeouts; a failure (down, refusing, or an unverifiable answer)
  backs off exponentially up to ``MAX_BACKOFF`` seconds, and no database transaction is
  open while a request is in flight.

The read side, ``served_checkpoint``, decides which checkpoint ``GET /log/checkpoint``
serves and appends the cosignatures gathered for it.
"""

from __future__ import annotations

import base64
import logging
import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from registry.errors import RegistryError, VerificationError
from registry.log import merkle
from registry.log.note import (
    CosignatureVerifier,
    add_signature_lines,
    open_cosignature,
    parse_cosignature_vkey,
)
from registry.models import Checkpoint, CheckpointCosignature, utcnow
from registry.settings import Settings, parse_witness_entry
from registry.transparency.log import DatabaseNodeReader, latest_checkpoint

__all__ = [
    "COSIGNATURE_GRACE",
    "WitnessEndpoint",
    "WitnessSubmitter",
    "add_checkpoint_body",
    "configured_witnesses",
    "cosignature_lines",
    "cosigned_note",
    "parse_size_body",
    "served_checkpoint",
    "served_checkpoint_row",
    "store_cosignature",
    "submit_once",
]

log = logging.getLogger(__name__)

POLL_INTERVAL = 0.5
"""Seconds between two looks at the newest checkpoint, per witness."""

REQUEST_TIMEOUT = 5.0
"""Seconds for connecting to, and then for each read from, a witness."""

BASE_BACKOFF = 1.0
"""Seconds to wait after a witness's first failure; doubled per failure."""
MAX_BACKOFF = 60.0
"""The longest wait between submissions to a failing witness, in seconds."""
MAX_CONFLICT_RETRIES = 3
"""409 answers followed within one submission; more means the witness keeps moving."""

COSIGNATURE_GRACE = timedelta(seconds=10)
"""How long ``GET /log/checkpoint`` waits for witnesses before serving an uncosigned head."""

SIZE_CONTENT_TYPE = "text/x.tlog.size"
"""The media type of a witness's 409 answer giving the size it knows (C2SP tlog-witness)."""
_MAX_RESPONSE = 64 * 1024


# --- Configuration ---------------------------------------------------------------------------


@dataclass(frozen=True)
class WitnessEndpoint:
    """A witness the registry asks for cosignatures: submission prefix and cosignature key."""

    url: str
    verifier: CosignatureVerifier

    @classmethod
    def parse(cls, entry: str) -> WitnessEndpoint:
        """From a ``REGISTRY_WITNESSES`` entry ``"URL VKEY"``; ``ConfigurationError``."""
        url, vkey = parse_witness_entry(entry)
        return cls(url, parse_cosignature_vkey(vkey))

    @property
    def name(self) -> str:
        """The witness's name, as its C2SP tlog-cosignature key names it."""
        return self.verifier.name

    @property
    def add_checkpoint_url(self) -> str:
        """Where checkpoints are submitted (C2SP tlog-witness ``add-checkpoint``)."""
        return f"{self.url}/add-checkpoint"


def configured_witnesses(settings: Settings) -> list[WitnessEndpoint]:
    """The witnesses ``REGISTRY_WITNESSES`` names."""
    return [WitnessEndpoint.parse(entry) for entry in settings.witnesses]


# --- Wire format (tlog-witness §add-checkpoint) ---------------------------------------------------


def add_checkpoint_body(old_size: int, proof: Sequence[bytes], note: str) -> bytes:
    """``old <size>``, one base64 proof hash per line, a blank line, the signed checkpoint."""
    lines = [f"old {old_size}\n", *(base64.b64encode(h).decode("ascii") + "\n" for h in proof)]
    return ("".join(lines) + "\n" + note).encode("utf-8")


def parse_size_body(body: bytes) -> int:
    """The tree size in a ``text/x.tlog.size`` body: ASCII decimal and a newline."""
    text = body.decode("ascii", errors="replace")
    digits = text.removesuffix("\n")
    if (
        not text.endswith("\n")
        or not digits.isascii()
        or not digits.isdigit()
        or (digits.startswith("0") and digits != "0")
        or len(digits) > 19
    ):
        raise VerificationError(f"malformed {SIZE_CONTENT_TYPE} body {text[:40]!r}")
    return int(digits)


def _note_text(note: str) -> str:
    """The text of a signed note the registry itself produced (up to the last blank line)."""
    return note[: note.rfind("\n\n") + 1]


def _verified_line(body: bytes, checkpoint_text: str, verifier: CosignatureVerifier) -> str:
    """The response line from ``verifier`` that verifies on ``checkpoint_text``; or raise.

    Lines from other keys are ignored (tlog-witness: "The client MUST ignore any
    cosignatures from unknown keys").
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise VerificationError("witness response is not UTF-8") from None
    problem = "no cosignature line from the configured key"
    for line in text.splitlines(keepends=True):
        if not line.startswith(f"— {verifier.name} "):
            continue
        try:
            open_cosignature(checkpoint_text, line, verifier)
        except VerificationError as exc:
            problem = exc.detail
            continue
        return line if line.endswith("\n") else line + "\n"
    raise VerificationError(f"witness {verifier.name}: {problem}")


# --- Database ---------------------------------------------------------------------------------


def cosignature_lines(session: Session, size: int) -> list[str]:
    """The stored cosignature lines on the checkpoint of ``size``, by witness name."""
    return list(
        session.scalars(
            select(CheckpointCosignature.line)
            .where(CheckpointCosignature.size == size)
            .order_by(CheckpointCosignature.witness)
        )
    )


def latest_cosigned_size(session: Session, witness: str | None = None) -> int | None:
    """Size of the newest checkpoint cosigned (by ``witness``, or by any witness)."""
    query = select(func.max(CheckpointCosignature.size))
    if witness is not None:
        query = query.where(CheckpointCosignature.witness == witness)
    size = session.execute(query).scalar_one_or_none()
    return None if size is None else int(size)


def store_cosignature(
    session: Session,
    size: int,
    witness: str,
    line: str,
    created_at: datetime,
    *,
    fresher: bool = False,
) -> bool:
    """Store a verified cosignature line unless that witness's one for ``size`` is stored.

    Returns whether a row was added or replaced. The first verified cosignature of a
    checkpoint by a witness stays, except that ``fresher`` (a re-submission of an idle
    log's checkpoint) replaces it with the newer one, so phones see a recent time.
    """
    row = session.get(CheckpointCosignature, (size, witness))
    if row is not None:
        if not fresher:
            return False
        row.line, row.created_at = line, created_at
        session.flush()
        return True
    session.add(CheckpointCosignature(size=size, witness=witness, line=line, created_at=created_at))
    session.flush()
    return True


def served_checkpoint(session: Session, *, witnessed: bool, now: datetime) -> str:
    """The note of ``served_checkpoint_row``: what ``GET /log/checkpoint`` serves."""
    return served_checkpoint_row(session, witnessed=witnessed, now=now)[1]


def served_checkpoint_row(
    session: Session, *, witnessed: bool, now: datetime
) -> tuple[Checkpoint, str]:
    """The checkpoint ``GET /log/checkpoint`` serves and its note, cosignatures appended.

    The checkpoint note ``GET /log/checkpoint`` serves, with its cosignatures appended.

    Without witnesses configured: the newest checkpoint. With witnesses: the newest
    checkpoint that either has a cosignature or has waited ``COSIGNATURE_GRACE`` for one.
    While witnesses keep up, that is the newest cosigned head, a fraction of a second behind
    the log, which is what C2SP clients checking a witness policy want; when they are down,
    the log's head is still served (uncosigned) at most the grace period late, so auditors
    and inclusion proofs are never held back by a witness. Both candidates only grow with
    time, so the served size never goes backwards. ``NotFound`` on an empty log.
    """
    checkpoint = latest_checkpoint(session)
    if witnessed:
        settled = session.scalars(
            select(Checkpoint.size)
            .where(Checkpoint.created_at <= now - COSIGNATURE_GRACE)
            .order_by(Checkpoint.size.desc())
            .limit(1)
        ).first()
        candidates = [s for s in (latest_cosigned_size(session), settled) if s is not None]
        if candidates and max(candidates) != checkpoint.size:
            chosen = session.get(Checkpoint, max(candidates))
            checkpoint = chosen if chosen is not None else checkpoint
    return checkpoint, cosigned_note(session, checkpoint)


def cosigned_note(session: Session, checkpoint: Checkpoint) -> str:
    """``checkpoint``'s note with the stored cosignature lines appended."""
    lines = cosignature_lines(session, checkpoint.size)
    return add_signature_lines(checkpoint.note, lines) if lines else checkpoint.note


# --- Submission --------------------------------------------------------------------------------


@dataclass
class WitnessProgress:
    """What the submitter knows of one witness between attempts."""

    known_size: int | None = None  # the witness's latest cosigned size, from its answers
    failures: int = 0

    def backoff(self) -> float:
        """Seconds to wait after the current run of failures (jittered, capped)."""
        delay = min(MAX_BACKOFF, BASE_BACKOFF * (1 << min(max(self.failures - 1, 0), 16)))
        jitter: float = random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not a secret
        return delay * jitter


class SubmissionFailed(RegistryError):
    """A submission did not yield a stored cosignature (logged; the caller backs off)."""


def submit_once(
    factory: sessionmaker[Session],
    endpoint: WitnessEndpoint,
    client: httpx.Client,
    progress: WitnessProgress,
    clock: Callable[[], datetime] = utcnow,
    refresh_after: timedelta | None = None,
) -> int | None:
    """Bring ``endpoint`` up to the newest checkpoint; return the size stored, or None.

    None means nothing was to do (the witness's cosignature of the newest checkpoint, or of
    a newer one, is already stored, and is younger than ``refresh_after``). An idle log's
    newest checkpoint is re-submitted once its cosignature is ``refresh_after`` old (old
    size = new size, an empty proof: c2sp.org/tlog-witness cosigns it afresh), so phones
    keep seeing it recently witnessed. Raises ``SubmissionFailed`` or ``httpx.HTTPError``.
    """
    for _ in range(MAX_CONFLICT_RETRIES + 1):
        # A short transaction: read what to send, then let go of the database.
        with factory() as session, session.begin():
            newest = session.execute(select(func.max(Checkpoint.size))).scalar_one_or_none()
            cosigned = latest_cosigned_size(session, endpoint.name)
            if newest is None:
                return None
            fresher = False
            if cosigned is not None and cosigned >= newest:
                if cosigned != newest or not _due_for_refresh(
                    session, newest, endpoint, clock(), refresh_after
                ):
                    return None
                fresher = True
                progress.known_size = newest
            old = progress.known_size
            if old is None:
                old = cosigned if cosigned is not None else 0
            if old > newest:
                raise SubmissionFailed(
                    f"witness {endpoint.name} has cosigned size {old} of this log, more than "
                    f"the newest checkpoint {newest}: the log was rolled back or forked"
                )
            note = session.get_one(Checkpoint, newest).note
            proof = merkle.consistency_proof(old, newest, DatabaseNodeReader(session))
        response = client.post(
            endpoint.add_checkpoint_url,
            content=add_checkpoint_body(old, proof, note),
            headers={"Content-Type": "text/plain; charset=utf-8"},
        )
        body = response.content[:_MAX_RESPONSE]
        content_type = response.headers.get("content-type", "")
        if response.status_code == 409 and content_type.startswith(SIZE_CONTENT_TYPE):
            try:
                progress.known_size = parse_size_body(body)
            except VerificationError as exc:
                raise SubmissionFailed(f"witness {endpoint.name}: {exc.detail}") from None
            log.info("witness %s has cosigned size %d", endpoint.name, progress.known_size)
            continue
        if response.status_code != 200:
            raise SubmissionFailed(
                f"witness {endpoint.name} refused checkpoint {newest} from old size {old}: "
                f"HTTP {response.status_code} {body[:200].decode('utf-8', 'replace').strip()}"
            )
        progress.known_size = newest  # whatever the answer holds, the witness moved on
        try:
            line = _verified_line(body, _note_text(note), endpoint.verifier)
        except VerificationError as exc:
            raise SubmissionFailed(exc.detail) from None
        try:
            with factory() as session, session.begin():
                store_cosignature(session, newest, endpoint.name, line, clock(), fresher=fresher)
        except IntegrityError:
            pass  # another worker process stored this witness's cosignature first
        return newest
    raise SubmissionFailed(f"witness {endpoint.name} kept answering 409 Conflict")


def _due_for_refresh(
    session: Session,
    size: int,
    endpoint: WitnessEndpoint,
    now: datetime,
    refresh_after: timedelta | None,
) -> bool:
    """Whether the stored cosignature of ``size`` by ``endpoint`` is ``refresh_after`` old
    (by the witness's own timestamp in it)."""
    if refresh_after is None:
        return False
    row = session.get(CheckpointCosignature, (size, endpoint.name))
    checkpoint = session.get(Checkpoint, size)
    if row is None or checkpoint is None:
        return False
    try:
        cosignature = open_cosignature(_note_text(checkpoint.note), row.line, endpoint.verifier)
    except VerificationError:
        return True  # a stored line that no longer verifies: get a good one
    return now.timestamp() - cosignature.timestamp >= refresh_after.total_seconds()


class _WitnessWorker(threading.Thread):
    def __init__(
        self,
        endpoint: WitnessEndpoint,
        factory: sessionmaker[Session],
        stop: threading.Event,
        clock: Callable[[], datetime],
        poll_interval: float,
        timeout: float,
        refresh_after: timedelta | None = None,
    ) -> None:
        super().__init__(name=f"witness-{endpoint.name}", daemon=True)
        self.refresh_after = refresh_after
        self.endpoint = endpoint
        self.factory = factory
        self.stop = stop
        self.wake = threading.Event()
        self.clock = clock
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.progress = WitnessProgress()

    def run(self) -> None:
        """The thread's loop: submit, back off on failure, until told to stop."""
        with httpx.Client(timeout=self.timeout) as client:
            while not self.stop.is_set():
                try:
                    size = submit_once(
                        self.factory,
                        self.endpoint,
                        client,
                        self.progress,
                        self.clock,
                        self.refresh_after,
                    )
                except (SubmissionFailed, httpx.HTTPError) as exc:
                    self._failed(str(exc) or type(exc).__name__)
                    continue
                except Exception:  # the thread must outlive any surprise, e.g. a locked DB
                    log.exception("submitting to witness %s failed", self.endpoint.name)
                    self._failed("unexpected error")
                    continue
                if size is not None:
                    log.info("witness %s cosigned checkpoint %d", self.endpoint.name, size)
                self.progress.failures = 0
                self.wake.wait(self.poll_interval)
                self.wake.clear()

    def _failed(self, reason: str) -> None:
        self.progress.failures += 1
        delay = self.progress.backoff()
        log.warning("witness %s: %s; retrying in %.1f s", self.endpoint.name, reason, delay)
        # Wakes are ignored while backing off; only stopping cuts the wait short.
        self.stop.wait(delay)


class WitnessSubmitter:
    """Background threads that gather cosignatures; a no-op without configured witnesses."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        witnesses: Sequence[WitnessEndpoint],
        *,
        clock: Callable[[], datetime] = utcnow,
        poll_interval: float = POLL_INTERVAL,
        timeout: float = REQUEST_TIMEOUT,
        refresh_after: timedelta | None = None,
    ) -> None:
        """``refresh_after``: re-submit an idle log's checkpoint once its cosignature is
        that old (``from_settings``: a quarter of ``REGISTRY_WITNESS_MAX_AGE_SECONDS``)."""
        self._stop = threading.Event()
        self._workers = [
            _WitnessWorker(w, factory, self._stop, clock, poll_interval, timeout, refresh_after)
            for w in witnesses
        ]
        self._timeout = timeout

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        factory: sessionmaker[Session],
        clock: Callable[[], datetime] = utcnow,
    ) -> WitnessSubmitter:
        """A submitter for the witnesses the settings configure."""
        refresh_after = timedelta(seconds=settings.witness_max_age_seconds / 4)
        return cls(
            factory, configured_witnesses(settings), clock=clock, refresh_after=refresh_after
        )

    def start(self) -> None:
        """Start one background thread per witness."""
        for worker in self._workers:
            worker.start()

    def notify(self) -> None:
        """Look at the newest checkpoint now rather than at the next poll."""
        for worker in self._workers:
            worker.wake.set()

    def stop(self) -> None:
        """Stop the threads; waits at most about one request timeout."""
        self._stop.set()
        self.notify()
        for worker in self._workers:
            if worker.is_alive():
                worker.join(timeout=self._timeout + 1.0)
