"""Signature checks in worker processes while the main process replays (docs/audit.md, "Speed").

Ed25519 verification dominates the cost of a replay, so for large logs chunks of mirrored
entries go to a process pool that reports which DSSE signatures verify under the key whose
SHA-256 is the key id; the replay (``replay.LogReplay``) then skips those checks but still
decides whether the key was valid at that index. A chunk is replayed once its worker is
done, a few chunks behind the submissions, so fetching, verifying and replaying overlap.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import multiprocessing
import os
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor

import orjson
from cryptography.exceptions import InvalidSignature

from registry.audit.entry import check_entry, envelope_json
from registry.audit.mirror import MirrorRow
from registry.audit.replay import LogReplay
from registry.crypto.dsse import pae
from registry.crypto.keys import load_public_key
from registry.errors import InvalidInput

CHUNK_SIZE = 1000
"""Records per task of a signature worker (and per progress step)."""

PARALLEL_MIN_RECORDS = 5000
"""Below this many records, starting worker processes costs more than it saves."""


class KeyDirectory:
    """``key_directory`` built as the rows pass, for the signature workers."""

    _PREFIXES = (b'{"kind":"key_registration"', b'{"kind":"key_rotation"')

    def __init__(self) -> None:
        self._keys: dict[str, bytes] = {}
        self._snapshot: dict[str, bytes] = {}

    def add(self, rows: Sequence[MirrorRow]) -> dict[str, bytes]:
        """The directory with the keys of ``rows`` added (the same dict while unchanged)."""
        found = key_directory(
            envelope
            for _, leaf, envelope in rows
            if envelope is not None and leaf.startswith(self._PREFIXES)
        )
        if found.keys() - self._keys.keys():
            self._keys.update(found)
            self._snapshot = dict(self._keys)  # a task's keys never change after submit
        return self._snapshot


def worker_count(records: int) -> int:
    # The CPUs this process may run on, which a container or taskset can limit.
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cpus = cpus or 1
    if records < PARALLEL_MIN_RECORDS or cpus < 2 or sys.platform == "win32":
        return 0
    # The main process replays (parsing, policy) while the workers verify signatures.
    return cpus - 1


def _chunks(rows: Iterator[MirrorRow]) -> Iterator[list[MirrorRow]]:
    chunk: list[MirrorRow] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == CHUNK_SIZE:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _replay_chunk(replay: LogReplay, chunk: list[MirrorRow]) -> None:
    for index, leaf, envelope in chunk:
        replay.apply(check_entry(index, leaf, envelope_json(envelope)))


def replay_log(rows: Iterator[MirrorRow], total: int, advance: Callable[[int], None]) -> LogReplay:
    """Replay ``rows`` (the log from index 0, ``total`` entries) with a fresh ``LogReplay``;
    return it (what it rebuilt, e.g. the log's renames).

    Ed25519 checks go to worker processes when the log is large and there is more than one
    CPU (they dominate the cost). ``advance`` is told how many records each step replayed.
    Raises ``VerificationError`` at the first bad record (docs/audit.md, step 5).
    """
    replay = LogReplay()
    workers = worker_count(total)
    if workers == 0:
        for chunk in _chunks(rows):
            _replay_chunk(replay, chunk)
            advance(len(chunk))
        return replay
    _replay_in_parallel(replay, rows, workers, advance)
    return replay


def _replay_in_parallel(
    replay: LogReplay,
    rows: Iterator[MirrorRow],
    workers: int,
    advance: Callable[[int], None],
) -> None:
    context = multiprocessing.get_context("fork")
    keys = KeyDirectory()
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        pending: deque[tuple[list[MirrorRow], Future[set[tuple[int, str]]]]] = deque()

        def consume() -> None:
            chunk, verified = pending.popleft()
            replay.preverified = verified.result()
            _replay_chunk(replay, chunk)
            advance(len(chunk))

        try:
            for chunk in _chunks(rows):
                # Keys this chunk registers count too: a worker only says which
                # signatures verify; whether a key was valid there is the replay's call.
                directory = keys.add(chunk)
                signed = [(index, envelope) for index, _, envelope in chunk]
                pending.append((chunk, pool.submit(preverify_signatures, signed, directory)))
                if len(pending) > 2 * workers:
                    consume()
            while pending:
                consume()
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def key_directory(key_records: Iterable[bytes]) -> dict[str, bytes]:
    """Every public key that a key record of the log names under its true id.

    Only ``keyid == SHA-256(public key)`` entries are kept, so a keyid names one key and a
    signature checked against the directory is the check the replay would make (whether
    the key was *valid* at that index stays the replay's question; docs/audit.md, "Speed").
    """
    directory: dict[str, bytes] = {}
    for envelope in key_records:
        try:
            payload = base64.b64decode(orjson.loads(envelope)["payload"])
            key = orjson.loads(payload)["key"]
            raw = base64.b64decode(key["public_key"], validate=True)
        except (ValueError, KeyError, TypeError, binascii.Error):
            continue  # the replay names what is wrong with it
        if len(raw) == 32 and hashlib.sha256(raw).hexdigest() == key.get("id"):
            directory[key["id"]] = raw
    return directory


def preverify_signatures(
    signed: list[tuple[int, bytes | None]], keys: dict[str, bytes]
) -> set[tuple[int, str]]:
    """(index, keyid) of every signature that verifies under ``keys[keyid]`` (a worker).

    The signed message is the DSSE PAE of the payload type and payload. Anything odd
    (malformed envelope, unknown key, bad signature) is simply left out: the replay then
    verifies it itself and names the problem (docs/audit.md, "Speed").
    """
    verified: set[tuple[int, str]] = set()
    for index, served in signed:
        if served is None:
            continue
        try:
            envelope = orjson.loads(served)
            message = pae(envelope["payloadType"], base64.b64decode(envelope["payload"]))
            for signature in envelope["signatures"]:
                keyid = signature["keyid"]
                if keyid not in keys:
                    continue
                try:
                    # memoized per key
                    load_public_key(keys[keyid]).verify(base64.b64decode(signature["sig"]), message)
                except InvalidSignature:
                    continue
                verified.add((index, keyid))
        except (ValueError, KeyError, TypeError, binascii.Error, InvalidInput):
            continue
    return verified
