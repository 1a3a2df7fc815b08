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

from registry.audit.client import RegistryClient
from registry.audit.console import print_error, print_failed, print_verified, progress_bar
from registry.audit.failures import AuditError
from registry.audit.mirror import Mirror
from registry.audit.run import Audit
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
) -> int:
    """Audit the registry at ``url`` with the local ``state`` directory; return the exit code.

    0: the log, every record in it and the checkpoint verify; 1: something does not (the
    line printed names the first bad record's log index and what is wrong); 2: bad usage,
    an unusable state directory, or the registry could not be reached (docs/audit.md).
    """
    try:
        base_url = _check_url(url)
        given, cosigners = _parse_keys(vkey, witnesses)
        mirror = Mirror(state)
    except AuditError as exc:
        print_error(str(exc))
        return EXIT_USAGE
    progress = None if quiet else progress_bar()
    display: AbstractContextManager[Any] = progress or nullcontext()
    with mirror, RegistryClient(base_url) as client:
        audit = Audit(mirror, client, progress)
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
