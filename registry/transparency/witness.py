"""A C2SP tlog-witness: cosigns checkpoints of the logs it knows, never two views of one log.

c2sp.org/tlog-witness §add-checkpoint: a client (the log) submits ``old <size>``, a
consistency proof from that size, a blank line and a signed checkpoint. The witness checks
the log's signature, that the old size is the size of the latest checkpoint it cosigned for
that origin, and the RFC 6962 consistency proof; then it records the new tree head and
answers with a c2sp.org/tlog-cosignature line. Each refusal has its own HTTP status, carried
here by a ``WitnessError`` subclass so that ``app/witness.py`` only maps, never decides.

State lives in one directory:

* ``witness.key``  the Ed25519 seed (base64), generated on first start, mode 600;
* ``witness.vkey`` the cosignature verifier key, rewritten at start (public);
* ``logs.json``    per origin the latest cosigned size, root hash and checkpoint text.

The check of the old size and the update of ``logs.json`` happen under one lock (a thread
lock and an ``flock`` on ``.lock``), and the file is replaced atomically (temporary file,
fsync, ``os.replace``, fsync of the directory) before the cosignature is returned: the
spec's race, where a slower request rolls the recorded size back, cannot happen, and a crash
leaves either the old state or the new one.

No FastAPI or Starlette here: ``serve_witness`` imports the ASGI app lazily.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import json
import logging
import os
import re
import stat
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from registry.errors import ConfigurationError, InvalidInput, RegistryError, VerificationError
from registry.log.merkle import verify_witness_consistency
from registry.log.note import (
    Checkpoint,
    CosignatureSigner,
    NoteVerifier,
    open_checkpoint,
    parse_vkey,
)

__all__ = [
    "MAX_PROOF_LINES",
    "MAX_REQUEST_SIZE",
    "SIZE_CONTENT_TYPE",
    "AddCheckpointRequest",
    "CheckpointConflict",
    "CosignedState",
    "InconsistentCheckpoint",
    "MalformedRequest",
    "SignatureNotVerified",
    "UnknownLog",
    "Witness",
    "WitnessError",
    "parse_add_checkpoint",
]

log = logging.getLogger(__name__)

MAX_PROOF_LINES = 63
"""tlog-witness: "The client MUST NOT send more than 63 consistency proof lines"."""

MAX_REQUEST_SIZE = 64 * 1024
"""Largest add-checkpoint body accepted: a checkpoint with a few dozen signatures and a
full proof fits many times over; anything larger is refused before any work is done."""

SIZE_CONTENT_TYPE = "text/x.tlog.size"
"""Content type of a 409 body carrying the latest cosigned size (tlog-witness)."""

KEY_FILE = "witness.key"
VKEY_FILE = "witness.vkey"
STATE_FILE = "logs.json"
LOCK_FILE = ".lock"
_STATE_VERSION = 1
_HASH_SIZE = 32
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,18}")  # ASCII decimal, no leading zeros, fits int64
_SIG_PREFIX = "— "


# --- Errors: one per tlog-witness status --------------------------------------------------------


class WitnessError(RegistryError):
    """A refused add-checkpoint request; ``status`` is the HTTP status tlog-witness requires."""

    code = "witness-refused"
    status = 500


class MalformedRequest(WitnessError):
    """400: the body is not ``old``, proof lines, blank line, checkpoint; or old > size."""

    code = "witness-malformed-request"
    status = 400


class SignatureNotVerified(WitnessError):
    """403: no signature by a trusted key of the origin verifies (or one of them fails)."""

    code = "witness-signature-not-verified"
    status = 403


class UnknownLog(WitnessError):
    """404: the witness is not configured for the checkpoint's origin."""

    code = "witness-unknown-log"
    status = 404


class CheckpointConflict(WitnessError):
    """409: the old size is not the latest cosigned size, or same size with another root.

    ``known_size`` is set in the first case: the response body is then that size and a
    newline, with content type ``text/x.tlog.size``, so the client can retry from it.
    """

    code = "witness-conflict"
    status = 409

    def __init__(self, detail: str, known_size: int | None = None) -> None:
        super().__init__(detail, known_size=known_size)
        self.known_size = known_size


class InconsistentCheckpoint(WitnessError):
    """422: the consistency proof does not verify (a possible split view: never cosigned)."""

    code = "witness-inconsistent"
    status = 422


# --- Request format (tlog-witness §add-checkpoint) ----------------------------------------------


@dataclass(frozen=True)
class AddCheckpointRequest:
    """A parsed add-checkpoint body; the checkpoint note is kept verbatim (signatures too)."""

    old_size: int
    proof: tuple[bytes, ...]
    note: str
    checkpoint: Checkpoint


def _canonical_b64(text: str) -> bytes | None:
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error, ValueError):
        return None
    return data if base64.b64encode(data).decode("ascii") == text else None


def parse_add_checkpoint(body: bytes) -> AddCheckpointRequest:
    """Parse an add-checkpoint body; raises ``MalformedRequest`` (400).

    The old size line is ``old <decimal>`` without leading zeros; each proof line is the
    canonical base64 of one 32-byte hash, at most 63 of them; a blank line; then a signed
    note whose text parses as a tlog-checkpoint. Signatures are not checked here.
    """
    if len(body) > MAX_REQUEST_SIZE:
        raise MalformedRequest(f"request body larger than {MAX_REQUEST_SIZE} bytes")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedRequest("request body is not UTF-8") from None
    header, sep, note = text.partition("\n\n")
    if not sep:
        raise MalformedRequest("no blank line between the proof and the checkpoint")
    lines = header.split("\n")
    old_line, proof_lines = lines[0], lines[1:]
    keyword, space, size_text = old_line.partition(" ")
    if keyword != "old" or not space or not _DECIMAL.fullmatch(size_text):
        raise MalformedRequest("the first line must be 'old <size>' (decimal, no leading zeros)")
    if len(proof_lines) > MAX_PROOF_LINES:
        raise MalformedRequest(f"more than {MAX_PROOF_LINES} consistency proof lines")
    proof: list[bytes] = []
    for number, line in enumerate(proof_lines, start=1):
        node = _canonical_b64(line)
        if node is None or len(node) != _HASH_SIZE:
            raise MalformedRequest(f"proof line {number} is not base64 of a 32-byte hash")
        proof.append(node)
    checkpoint = _checkpoint_of_note(note)
    return AddCheckpointRequest(int(size_text), tuple(proof), note, checkpoint)


def _checkpoint_of_note(note: str) -> Checkpoint:
    """The checkpoint in a signed note's text; the note's form is checked, not its signatures.

    A form problem is a malformed request (400); only signatures decide 403.
    """
    split = note.rfind("\n\n")
    if split < 0:
        raise MalformedRequest("the checkpoint has no blank line before its signatures")
    block = note[split + 2 :]
    if not block.endswith("\n") or any(
        not line.startswith(_SIG_PREFIX) for line in block[:-1].split("\n")
    ):
        raise MalformedRequest("the checkpoint's signature lines are malformed")
    try:
        return Checkpoint.parse(note[: split + 1])
    except VerificationError as exc:
        raise MalformedRequest(f"not a checkpoint: {exc.detail}") from None


# --- Persistent state -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CosignedState:
    """What the witness remembers of one log: the latest checkpoint it cosigned."""

    size: int
    root_hash: bytes
    checkpoint: str  # the checkpoint note text (no signatures)

    def to_json(self) -> dict[str, Any]:
        """The state as stored in the witness's state file (root hash in standard base64)."""
        return {
            "size": self.size,
            "root_hash": base64.b64encode(self.root_hash).decode("ascii"),
            "checkpoint": self.checkpoint,
        }

    @classmethod
    def from_json(cls, value: Any) -> CosignedState:
        """Read a state written by ``to_json``; raises ``ConfigurationError`` if it is damaged."""
        try:
            root = base64.b64decode(value["root_hash"], validate=True)
            state = cls(int(value["size"]), root, str(value["checkpoint"]))
        except (KeyError, TypeError, ValueError, binascii.Error) as exc:
            raise ConfigurationError(f"witness state entry is corrupt: {exc}") from None
        if state.size < 0 or len(state.root_hash) != _HASH_SIZE:
            raise ConfigurationError("witness state entry is corrupt: size or root hash")
        return state


def _fsync_directory(directory: Path) -> None:
    # The rename is durable only once the directory entry is.
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomically(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Temporary file in the same directory, fsync, ``os.replace``, fsync the directory."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    _fsync_directory(path.parent)


def _load_or_create_key(path: Path) -> Ed25519PrivateKey:
    """The witness's Ed25519 key: created once (O_EXCL, mode 600), then only read."""
    if not path.exists():
        seed = Ed25519PrivateKey.generate().private_bytes_raw()
        data = base64.b64encode(seed) + b"\n"
        # O_EXCL: two witnesses starting at once on one directory must not make two keys.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            _fsync_directory(path.parent)
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        log.warning("witness key %s is readable by others; chmod 600 it", path)
    try:
        seed = base64.b64decode(path.read_bytes().strip(), validate=True)
    except (binascii.Error, ValueError):
        seed = b""
    if len(seed) != 32:
        raise ConfigurationError(f"{path} must hold the base64 of a 32-byte Ed25519 seed")
    return Ed25519PrivateKey.from_private_bytes(seed)


# --- The witness ----------------------------------------------------------------------------------


def _posix_now() -> int:
    return int(time.time())


class Witness:
    """A tlog-witness over one state directory, trusting the given log verifier keys.

    A log is identified by its origin, which is the name of its verifier key(s) (C2SP
    tlog-checkpoint: the log's key name SHOULD be its origin). Requests are serialized by
    a lock held from reading the recorded size to persisting the new one.
    """

    def __init__(
        self,
        state_dir: Path,
        name: str,
        log_vkeys: Sequence[str],
        *,
        clock: Callable[[], int] = _posix_now,
    ) -> None:
        self.state_dir = Path(state_dir)
        self.clock = clock
        self.logs: dict[str, tuple[NoteVerifier, ...]] = {}
        for text in log_vkeys:
            verifier = parse_vkey(text.strip())
            self.logs[verifier.name] = (*self.logs.get(verifier.name, ()), verifier)
        self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.signer = CosignatureSigner(name, _load_or_create_key(self.state_dir / KEY_FILE))
        _write_atomically(
            self.state_dir / VKEY_FILE, (self.vkey + "\n").encode("ascii"), mode=0o644
        )
        self._thread_lock = threading.Lock()
        # Read once now so that a corrupt state refuses to start rather than to cosign.
        self.cosigned()

    @property
    def name(self) -> str:
        """The witness's key name, as it appears on its cosignature lines (C2SP signed-note)."""
        return self.signer.name

    @property
    def vkey(self) -> str:
        """The cosignature verifier key (type 0x04) that logs configure for this witness."""
        return self.signer.to_vkey()

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        # The thread lock serializes requests in this process, flock those of other
        # processes serving the same directory.
        with self._thread_lock, open(self.state_dir / LOCK_FILE, "a") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def cosigned(self) -> dict[str, CosignedState]:
        """The latest cosigned checkpoint of every log, as persisted."""
        path = self.state_dir / STATE_FILE
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return {}
        try:
            document = json.loads(raw)
            if document.get("version") != _STATE_VERSION:
                raise ValueError(f"unknown state version {document.get('version')!r}")
            entries = document["logs"]
            if not isinstance(entries, dict):
                raise ValueError("'logs' is not an object")
        except (ValueError, KeyError, AttributeError) as exc:
            # Never treat unreadable state as empty: that would cosign a second view.
            raise ConfigurationError(f"witness state {path} is corrupt: {exc}") from None
        return {origin: CosignedState.from_json(entry) for origin, entry in entries.items()}

    def _persist(self, states: dict[str, CosignedState]) -> None:
        document = {
            "version": _STATE_VERSION,
            "logs": {origin: state.to_json() for origin, state in sorted(states.items())},
        }
        data = json.dumps(document, indent=1, ensure_ascii=False).encode("utf-8") + b"\n"
        _write_atomically(self.state_dir / STATE_FILE, data)

    def add_checkpoint(self, body: bytes) -> bytes:
        """c2sp.org/tlog-witness §add-checkpoint: check, record, and cosign; or raise.

        Returns the response body: the witness's cosignature line(s). The checks run in the
        order the spec states them: malformed → 400; unknown origin → 404; no trusted
        signature verifies → 403; old size larger than the checkpoint's → 400; old size not
        the latest cosigned size → 409 with that size; proof fails → 422; same size with
        another root → 409. The new state is on disk before this returns.
        """
        request = parse_add_checkpoint(body)
        checkpoint = request.checkpoint
        verifiers = self.logs.get(checkpoint.origin)
        if not verifiers:
            raise UnknownLog(f"unknown log {checkpoint.origin!r}")
        try:
            _, opened = open_checkpoint(request.note, verifiers)
        except (VerificationError, InvalidInput) as exc:
            raise SignatureNotVerified(
                f"no trusted signature of {checkpoint.origin!r} verifies: {exc.detail}"
            ) from None
        if request.old_size > checkpoint.size:
            raise MalformedRequest(
                f"old size {request.old_size} is larger than the checkpoint size {checkpoint.size}"
            )
        with self._locked():
            states = self.cosigned()
            known = states.get(checkpoint.origin)
            known_size = known.size if known else 0
            if request.old_size != known_size:
                raise CheckpointConflict(
                    f"old size {request.old_size} is not the latest cosigned size {known_size}",
                    known_size=known_size,
                )
            self._check_consistency(request, known)
            timestamp = self.clock()
            # Cosign the verified text itself, extension lines included.
            line = self.signer.cosign(opened.text, timestamp)
            if known is None or known.size != checkpoint.size:
                states[checkpoint.origin] = CosignedState(
                    checkpoint.size, checkpoint.root_hash, opened.text
                )
                self._persist(states)
        log.info("cosigned %s at size %d", checkpoint.origin, checkpoint.size)
        return line.encode("utf-8")

    def _check_consistency(
        self, request: AddCheckpointRequest, known: CosignedState | None
    ) -> None:
        checkpoint = request.checkpoint
        if known is not None and known.size == checkpoint.size:
            # Same tree size: nothing to prove, the roots must simply be identical.
            if request.proof:
                raise InconsistentCheckpoint("a proof between equal tree sizes must be empty")
            if known.root_hash != checkpoint.root_hash:
                log.warning(
                    "possible split view of %s: size %d with another root hash",
                    checkpoint.origin,
                    checkpoint.size,
                )
                raise CheckpointConflict(
                    f"checkpoint of size {checkpoint.size} has another root hash than the one "
                    "cosigned"
                )
            return
        try:
            verify_witness_consistency(
                request.old_size,
                checkpoint.size,
                request.proof,
                known.root_hash if known else None,
                checkpoint.root_hash,
            )
        except VerificationError as exc:
            # The spec allows keeping such a request as evidence of log misbehaviour.
            log.warning(
                "refused checkpoint of %s at size %d: %s; request follows\n%s",
                checkpoint.origin,
                checkpoint.size,
                exc.detail,
                request.note,
            )
            raise InconsistentCheckpoint(
                f"consistency proof does not verify: {exc.detail}"
            ) from None
