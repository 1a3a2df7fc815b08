"""One audit run against one registry, in the order of docs/audit.md "What is checked".

Pin the log key, verify the checkpoint and its consistency with the last one verified,
mirror and replay the entries (overlapped: a thread fetches the next pages while this one
stores and replays the current one, and worker processes check signatures), then check the
RFC 6962 tree. A failure found by several checks is reported at the lowest log index.
"""

from __future__ import annotations

import base64
import itertools
import math
import random
import secrets
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from urllib.parse import quote

from rich.progress import Progress, TaskID

from registry.audit.client import FetchFailed, PageFetcher, RegistryClient
from registry.audit.failures import failure
from registry.audit.mirror import Mirror, MirrorRow
from registry.audit.page import (
    check_page_scripts,
    check_script,
    check_witness_policy,
    choose_codes,
    page_scripts,
)
from registry.audit.pool import replay_log
from registry.audit.recheck import Recheck, recheck, recheck_count, sample_ranges
from registry.audit.replay import LogReplay
from registry.audit.tree import check_consistency, check_tree, verify_checkpoint
from registry.errors import InvalidInput, VerificationError
from registry.log.note import CosignatureVerifier, NoteVerifier, parse_vkey


@dataclass(frozen=True)
class AuditResult:
    """A verified run: checkpoint size and RFC 6962 root, entries fetched, seconds taken,
    mirrored entries re-fetched and compared, and the seed that chose them."""

    size: int
    root: bytes
    fetched: int
    seconds: float
    rechecked: int = 0
    seed: int | None = None


def _index(problem: VerificationError) -> float:
    """Where a failure is, to report the first one; one without an index comes last."""
    index = problem.extra.get("index")
    return math.inf if index is None else float(index)


class Audit:
    """One run of the auditor over a state directory's ``mirror`` and a registry ``client``;
    ``progress`` (when given) shows mirroring and verifying (docs/audit.md)."""

    def __init__(
        self,
        mirror: Mirror,
        client: RegistryClient,
        progress: Progress | None,
        *,
        recheck: Recheck = None,
        seed: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``recheck``: how many already-mirrored entries to re-fetch (``None``: the
        default share, ``"all"``: every one); ``seed``: of their random choice (default:
        from the operating system's randomness); ``clock``: the audit's own time (POSIX
        seconds), which the checkpoint's cosignatures must be recent by."""
        self.mirror = mirror
        self.client = client
        self.progress = progress
        self.recheck = recheck
        self.seed = secrets.randbits(64) if seed is None else seed
        self.clock = clock

    def _task(self, description: str, total: int) -> TaskID | None:
        if self.progress is None:
            return None
        return self.progress.add_task(description, total=total)

    def _advance(self, task: TaskID | None, amount: int = 1) -> None:
        if self.progress is not None and task is not None:
            self.progress.advance(task, amount)

    def log_key(self, given: NoteVerifier | None) -> NoteVerifier:
        """The pinned log key: ``--vkey`` must match it; without one, trust on first use."""
        pinned = self.mirror.get("vkey")
        if given is not None:
            if pinned is not None and pinned != given.to_vkey():
                raise failure(
                    None, None, f"--vkey {given.to_vkey()} differs from the pinned key {pinned}"
                )
            if pinned is None:
                self.mirror.put({"vkey": given.to_vkey(), "url": self.client.base_url})
            return given
        if pinned is None:
            pinned = self.client.vkey()
            try:
                parse_vkey(pinned)
            except InvalidInput as exc:
                raise failure(
                    None, None, f"the served /log/vkey is invalid: {exc.detail}"
                ) from None
            self.mirror.put({"vkey": pinned, "url": self.client.base_url})
        return parse_vkey(pinned)

    def run(
        self, given: NoteVerifier | None, witnesses: Sequence[CosignatureVerifier]
    ) -> AuditResult:
        """Audit the registry's latest checkpoint (C2SP tlog-checkpoint, cosigned by every
        witness) and the whole log under it; record it as verified. ``VerificationError``
        names the first bad record; ``AuditError`` means the audit could not run."""
        started = time.perf_counter()
        note = self.client.checkpoint()
        pinned = self.log_key(given)
        log_key = _named_as_served(note, pinned)
        checkpoint = verify_checkpoint(note, log_key, witnesses)
        size = checkpoint.size
        previous = self.mirror.verified()
        if previous is not None:
            check_consistency(self.client, self.mirror, previous, checkpoint)
        if self.mirror.size() > size:
            self.mirror.truncate(size)  # fetched by an interrupted run, beyond this tree
        fetched_from = self.mirror.size()
        # Only what a checkpoint verified is rechecked: the rest is fetched anew below.
        verified_size = 0 if previous is None else min(previous[0], fetched_from)
        rechecked, changed = self._recheck(verified_size)
        gap, replay_problem, replay = self._fetch_and_replay(size)
        problem = gap or check_tree(self.client, self.mirror, checkpoint)
        # Report what broke first: a replay failure past a gap or a bad leaf is a
        # consequence of it (and the replay would not have reached it, run after the fetch).
        limit = (
            size if problem is None or problem.extra["index"] is None else problem.extra["index"]
        )
        if replay_problem is not None and (replay_problem.extra.get("index") or 0) < limit:
            problem = replay_problem
        if changed is not None and (problem is None or _index(changed) < _index(problem)):
            problem = changed
        if problem is not None:
            raise problem
        assert replay is not None  # no replay problem: the replay ran to the end
        replay.status.check_checkpoint(size, replay.last_kind)
        if log_key.name != pinned.name:
            _check_renamed(replay.renames, pinned.name, log_key.name)
        check_witness_policy(replay.witness_policies, note, int(self.clock()))
        self._check_pages(replay, random.Random(self.seed ^ 0x5A6E))  # noqa: S311
        if log_key.name != pinned.name:
            self.mirror.put({"vkey": log_key.to_vkey()})  # the pin follows the logged rename
        self.mirror.put(
            {
                "checkpoint_size": str(size),
                "checkpoint_root": base64.b64encode(checkpoint.root_hash).decode(),
                "checkpoint_note": note,
            }
        )
        elapsed = time.perf_counter() - started
        return AuditResult(
            size, checkpoint.root_hash, size - fetched_from, elapsed, rechecked, self.seed
        )

    def _recheck(self, verified_size: int) -> tuple[int, VerificationError | None]:
        """Re-fetch the chosen entries of ``[0, verified_size)`` and compare them with the
        mirror (``recheck.recheck``); how many, and the first served differently."""
        count = recheck_count(self.recheck, verified_size)
        # Seeded (from secrets, unless a test or a rerun gives one) so a run can be
        # repeated exactly: the choice must be unguessable beforehand, not a key.
        rng = random.Random(self.seed)  # noqa: S311
        ranges = sample_ranges(count, verified_size, rng)
        total = sum(high - low for low, high in ranges)
        if not total:
            return 0, None
        task = self._task("rechecking", total)
        changed = recheck(
            self.client,
            self.mirror,
            ranges,
            verified_size,
            lambda amount: self._advance(task, amount),
        )
        return total, changed

    def _fetch_and_replay(
        self, size: int
    ) -> tuple[VerificationError | None, VerificationError | None, LogReplay | None]:
        """Mirror ``[mirrored, size)`` and replay ``[0, size)`` at once: a thread fetches the
        next pages over HTTP while this one stores and replays the current one (the server
        works on the next page while the replay works on this one).

        Returns the gap in what the server serves, if any, the replay's first failure, if
        any, and the replay when it had none; the mirror holds every entry the server
        served either way. Network failures and malformed answers raise as they happen."""
        start = self.mirror.size()
        pages = PageFetcher(self.client, start, size)
        task = self._task("mirroring", size - start)

        def fetched() -> Iterator[MirrorRow]:
            for rows in pages:
                self.mirror.append(rows)
                self._advance(task, len(rows))
                yield from rows

        replay_problem = None
        replay = None
        pages.start()
        try:
            try:
                replay = self._replay(itertools.chain(self.mirror.rows(0, start), fetched()), size)
            except VerificationError as exc:
                replay_problem = exc  # the tree check decides whether it came first
            for _ in fetched():  # mirror what the replay did not reach
                pass
        except FetchFailed as failed:
            raise failed.error from None
        finally:
            pages.stop()
        return pages.gap, replay_problem, replay

    def _check_pages(self, replay: LogReplay, rng: random.Random) -> None:
        """A few consumer pages: every script they load is a logged release (``page``)."""
        for code in choose_codes(self.client.endorsement_codes(), rng):
            url, html, csp = self.client.page(f"/e/{quote(code, safe='')}")
            scripts, inline = page_scripts(url, html)
            for script in scripts:
                check_script(script, self.client.body(script.url), replay.script_releases)
            check_page_scripts(scripts, inline, csp, replay.script_releases)

    def _replay(self, rows: Iterator[MirrorRow], total: int) -> LogReplay:
        """Replay ``rows`` (the log from index 0), showing progress (``pool.replay_log``)."""
        task = self._task("verifying", total)
        return replay_log(rows, total, lambda amount: self._advance(task, amount))


def _named_as_served(note: str, pinned: NoteVerifier) -> NoteVerifier:
    """The log key under the name the served checkpoint gives (its first line).

    A log's name changes only by a logged rename (docs/audit.md, "The log's identity"): the
    same key then signs under the new name. The checkpoint is verified under that name, and
    ``_check_renamed`` requires the rename to be in the log once the entries are replayed;
    a different key is never accepted this way."""
    served = note.split("\n", 1)[0]
    if served == pinned.name or not served:
        return pinned
    try:
        return NoteVerifier.from_public_key(served, pinned.public_key)
    except InvalidInput:
        return pinned  # not a key name: the checkpoint check reports the origin


def _check_renamed(renames: Sequence[tuple[int, str, str]], pinned: str, served: str) -> None:
    """Fail unless the log's renames, followed from the pinned name, lead to the served name
    (the replay has checked that each rename starts from the name the one before gave)."""
    name = pinned
    for _index, old, new in renames:
        if old == name:
            name = new
    if name != served:
        raise failure(
            None,
            None,
            f"the checkpoint names the log {served!r}, but this auditor pinned {pinned!r} "
            "and the log holds no rename between them (a log's name changes only by a "
            "logged rename)",
        )
