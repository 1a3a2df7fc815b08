"""What the auditor prints (docs/audit.md, "Output and exit codes").

The verdict goes to stdout, one line; errors, the progress bar (rich) and the run summary
go to stderr, so a script can read the verdict alone.
"""

from __future__ import annotations

import base64
import sys
from collections.abc import Sequence

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)

from registry.audit.run import AuditResult
from registry.audit.selfcheck import SelfCheckResult
from registry.errors import VerificationError
from registry.log.note import CosignatureVerifier


def progress_bar() -> Progress:
    """A progress bar on stderr, so stdout carries only the verdict."""
    return Progress(
        TextColumn("{task.description:>10}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
    )


def describe(exc: VerificationError) -> str:
    """The verdict line of a failed audit, naming the first bad record's log index if any."""
    index, kind = exc.extra.get("index"), exc.extra.get("kind")
    if index is None:
        return f"FAILED: {exc.detail}"
    where = f"log index {index}" + (f" (kind {kind})" if kind else "")
    return f"FAILED at {where}: {exc.detail}"


def print_error(message: str) -> None:
    """An audit that could not run (exit 2): ``error: …`` on stderr."""
    print(f"error: {message}", file=sys.stderr)


def print_failed(exc: VerificationError) -> None:
    """The verdict of an audit that found a bad record or checkpoint (exit 1), on stdout."""
    print(describe(exc), flush=True)


def print_verified(
    result: AuditResult, cosigners: Sequence[CosignatureVerifier], quiet: bool
) -> None:
    """The verdict of a verified audit (exit 0) on stdout: size and RFC 6962 root of the
    C2SP tlog-checkpoint verified; unless ``quiet``, what the run fetched and its speed."""
    print(
        f"verified {result.size} records up to checkpoint size {result.size}, "
        f"root {base64.b64encode(result.root).decode()}",
        flush=True,
    )
    if not quiet:
        rate = result.size / result.seconds if result.seconds else 0.0
        names = ", ".join(c.name for c in cosigners)
        rechecked = f"rechecked {result.rechecked} entries"
        if 0 < result.rechecked < result.size:
            rechecked += f" at random (seed {result.seed})"
        print(
            f"fetched {result.fetched} new entries; {rechecked}; {result.seconds:.2f} s "
            f"({rate:,.0f} records/s)" + (f"; cosigned by {names}" if names else ""),
            file=sys.stderr,
        )


def print_checked(result: SelfCheckResult, quiet: bool) -> None:
    """The verdict of ``registry check`` on a database that verifies (exit 0) on stdout;
    unless ``quiet``, its speed and the erased payloads it could not check on stderr."""
    print(
        f"verified {result.size} records up to checkpoint size {result.size}, "
        f"root {base64.b64encode(result.root).decode()}",
        flush=True,
    )
    if not quiet:
        rate = result.checked / result.seconds if result.seconds else 0.0
        erased = f"; {result.erased} erased payloads not checkable" if result.erased else ""
        print(
            f"checked {result.checked} records in {result.seconds:.2f} s "
            f"({rate:,.0f} records/s){erased}",
            file=sys.stderr,
        )
