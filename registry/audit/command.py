"""``registry audit URL``: the command, from arguments to exit code (docs/audit.md).

Exit codes: 0 all verified, 1 something does not verify (the line printed names the first
bad record), 2 bad usage, an unusable state directory, or an unreachable registry.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from registry.audit.client import RegistryClient
from registry.audit.console import (
    print_checked,
    print_error,
    print_failed,
    print_verified,
    progress_bar,
)
from registry.audit.failures import AuditError
from registry.audit.mirror import Mirror
from registry.audit.recheck import Recheck, recheck_count
from registry.audit.run import Audit
from registry.audit.selfcheck import SelfCheck
from registry.errors import InvalidInput, VerificationError
from registry.log.note import (
    CosignatureVerifier,
    NoteVerifier,
    parse_cosignature_vkey,
    parse_vkey,
)

EXIT_OK = 0
"""Exit code: the log, every record in it and the checkpoint verify."""
EXIT_FAILED = 1
"""Exit code: something does not verify; the verdict names the first bad record."""
EXIT_USAGE = 2
"""Exit code: bad usage, an unusable state directory, or the registry could not be reached."""


def _check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise AuditError(f"{url!r} is not an http(s) URL of a registry")
    return url.rstrip("/")


def _parse_keys(
    vkey: str | None, witnesses: Sequence[str]
) -> tuple[NoteVerifier | None, list[CosignatureVerifier]]:
    try:
        log_key = parse_vkey(vkey.strip()) if vkey else None
    except InvalidInput as exc:
        raise AuditError(f"--vkey is not a C2SP verifier key: {exc.detail}") from None
    cosigners = []
    for text in witnesses:
        try:
            cosigners.append(parse_cosignature_vkey(text.strip()))
        except InvalidInput as exc:
            raise AuditError(
                f"--witness {text!r} is not a cosignature/v1 verifier key: {exc.detail}"
            ) from None
    return log_key, cosigners


def run_audit(
    url: str,
    state: Path,
    *,
    vkey: str | None,
    witnesses: list[str],
    quiet: bool,
    recheck: Recheck = None,
    recheck_seed: int | None = None,
) -> int:
    """Audit the registry at ``url`` with the local ``state`` directory; return the exit code.

    0: the log, every record in it and the checkpoint verify; 1: something does not (the
    line printed names the first bad record's log index and what is wrong); 2: bad usage,
    an unusable state directory, or the registry could not be reached (docs/audit.md).

    ``recheck`` already-mirrored entries are re-fetched and compared with the mirror: a
    number, ``"all"``, or ``None`` for the default (``recheck.recheck_count``); chosen at
    random with ``recheck_seed`` (default: from the operating system).
    """
    try:
        base_url = _check_url(url)
        given, cosigners = _parse_keys(vkey, witnesses)
        recheck_count(recheck, 0)  # a bad value is a usage error, before any request
        mirror = Mirror(state)
    except AuditError as exc:
        print_error(str(exc))
        return EXIT_USAGE
    progress = None if quiet else progress_bar()
    display: AbstractContextManager[Any] = progress or nullcontext()
    with mirror, RegistryClient(base_url) as client:
        audit = Audit(mirror, client, progress, recheck=recheck, seed=recheck_seed)
        try:
            with display:
                result = audit.run(given, cosigners)
        except AuditError as exc:
            print_error(str(exc))
            return EXIT_USAGE
        except sqlite3.Error as exc:
            print_error(f"the audit state in {state} is unusable: {exc}")
            return EXIT_USAGE
        except VerificationError as exc:
            verified = mirror.verified()
            # Keep what an earlier run verified; refetch anything newer next time.
            mirror.truncate(verified[0] if verified is not None else 0)
            print_failed(exc)
            return EXIT_FAILED
    print_verified(result, cosigners, quiet)
    return EXIT_OK


def run_check(factory: sessionmaker[Session], log_key: NoteVerifier, *, quiet: bool) -> int:
    """``registry check``: verify this registry's own database (``selfcheck``); return the
    exit code. 0: every record, signature, tree node and the latest checkpoint verify; 1:
    something does not (the line printed names the lowest bad log index and what differs);
    2: the database cannot be read (docs/audit.md, "The registry checks itself")."""
    progress = None if quiet else progress_bar()
    task = None if progress is None else progress.add_task("checking", total=None)

    def advance(amount: int) -> None:
        if progress is not None and task is not None:
            progress.advance(task, amount)

    def on_size(size: int) -> None:
        if progress is not None and task is not None:
            progress.update(task, total=size)

    display: AbstractContextManager[Any] = progress or nullcontext()
    try:
        with display:
            result = SelfCheck(log_key).run(factory, advance, on_size=on_size)
    except SQLAlchemyError as exc:
        print_error(f"the database cannot be read: {exc}")
        return EXIT_USAGE
    except VerificationError as exc:
        print_failed(exc)
        return EXIT_FAILED
    print_checked(result, quiet)
    return EXIT_OK
