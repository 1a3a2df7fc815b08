"""Re-reading what was mirrored: a returning auditor rechecks old entries (docs/audit.md).

An auditor that verified a checkpoint before only fetches the entries after it; the
consistency proof shows that the *tree* was not rewritten, but not that the server still
serves the payloads it committed to. So every run also re-fetches some already-mirrored
entries — chosen at random, in aligned blocks of ``RECHECK_BLOCK`` so a few requests cover
many entries — or all of them (``--recheck all``), and compares the served leaf and
envelope (payload bytes, payload type, signatures) with the mirror. The first (lowest)
index served differently fails the audit.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence

from registry.audit.client import FetchFailed, PageFetcher, RegistryClient
from registry.audit.entry import check_entry, envelope_json, leaf_kind
from registry.audit.failures import AuditError, failure
from registry.audit.mirror import Mirror, MirrorRow
from registry.errors import VerificationError

RECHECK_MIN = 256
"""The default recheck re-fetches at least this many mirrored entries (all of a small log)."""
RECHECK_SHARE = 0.01
"""... or this share of the mirror, when that is more ..."""
RECHECK_MAX = 4096
"""... but no more than this many (four requests' worth of entries, in blocks)."""
RECHECK_BLOCK = 16
"""Entries are chosen in aligned blocks of this many: one request per block at most."""

Recheck = int | str | None
"""``--recheck``: a number of entries, ``"all"``, or ``None`` for the default."""


def recheck_count(recheck: Recheck, mirrored: int) -> int:
    """How many of ``mirrored`` verified entries to re-fetch. Raises ``AuditError`` for a
    value that is neither a non-negative number nor ``all``."""
    if recheck is None:
        wanted = max(RECHECK_MIN, math.ceil(mirrored * RECHECK_SHARE))
        return min(wanted, RECHECK_MAX, mirrored)
    if isinstance(recheck, str):
        text = recheck.strip().lower()
        if text == "all":
            return mirrored
        if not text.isdigit():
            raise AuditError(f"--recheck {recheck!r} is neither a number of entries nor 'all'")
        recheck = int(text)
    if recheck < 0:
        raise AuditError(f"--recheck {recheck} is negative")
    return min(recheck, mirrored)


def sample_ranges(count: int, mirrored: int, rng: random.Random) -> list[tuple[int, int]]:
    """About ``count`` of the indices ``[0, mirrored)``, at random, as sorted ranges
    (merged aligned blocks of ``RECHECK_BLOCK``); all of them when ``count`` reaches it."""
    if count <= 0 or mirrored <= 0:
        return []
    if count >= mirrored:
        return [(0, mirrored)]
    blocks = math.ceil(mirrored / RECHECK_BLOCK)
    picked = sorted(rng.sample(range(blocks), min(blocks, math.ceil(count / RECHECK_BLOCK))))
    ranges: list[tuple[int, int]] = []
    for block in picked:
        low, high = block * RECHECK_BLOCK, min((block + 1) * RECHECK_BLOCK, mirrored)
        if ranges and ranges[-1][1] == low:
            ranges[-1] = (ranges[-1][0], high)
        else:
            ranges.append((low, high))
    return ranges


def served_difference(served: MirrorRow | None, leaf: bytes, envelope: bytes | None) -> str | None:
    """How the served entry differs from the mirrored one, or ``None`` when it does not."""
    if served is None:
        return "the server no longer serves this entry"
    if served[1] != leaf:
        return "the server now serves a different leaf"
    if served[2] != envelope and envelope_json(served[2]) != envelope_json(envelope):
        return "the server now serves a different envelope"
    return None


def _why(served: MirrorRow | None) -> str:
    """What is wrong with the served entry on its own, if anything (the payload altered…)."""
    if served is None:
        return ""
    try:
        check_entry(served[0], served[1], envelope_json(served[2]))
    except VerificationError as exc:
        return f"; as served, {exc.detail}"
    return ""


def recheck(
    client: RegistryClient,
    mirror: Mirror,
    ranges: Sequence[tuple[int, int]],
    verified_size: int,
    advance: Callable[[int], None],
) -> VerificationError | None:
    """Re-fetch the mirrored entries in ``ranges`` and compare each with the mirror; the
    first differing (lowest) index as a ``VerificationError``, or ``None``."""
    for low, high in ranges:
        pages = PageFetcher(client, low, high)
        pages.start()
        try:
            mirrored = mirror.rows(low, high)
            for rows in pages:
                for served in rows:
                    index, leaf, envelope = next(mirrored)
                    detail = served_difference(served, leaf, envelope)
                    if detail is not None:
                        return _recheck_failure(index, leaf, detail, served, verified_size)
                advance(len(rows))
            if pages.gap is not None:
                index, leaf, envelope = next(mirrored)
                detail = served_difference(None, leaf, envelope)
                return _recheck_failure(index, leaf, str(detail), None, verified_size)
        except FetchFailed as failed:
            raise failed.error from None
        finally:
            pages.stop()
    return None


def _recheck_failure(
    index: int, leaf: bytes, detail: str, served: MirrorRow | None, verified_size: int
) -> VerificationError:
    return failure(
        index,
        leaf_kind(leaf),
        f"recheck: {detail} (mirrored when checkpoint {verified_size} was verified){_why(served)}",
    )
