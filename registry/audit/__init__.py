"""``registry audit URL``: verify a running registry from the outside (docs/audit.md).

An auditor trusts nothing the server says until it has checked it. One run:

1. pins the log's verifier key (``--vkey``, or trust on first use of ``/log/vkey``) and
   opens the latest checkpoint with it (C2SP signed-note / tlog-checkpoint), requiring a
   valid cosignature (C2SP tlog-cosignature) from every ``--witness`` given;
2. proves the checkpoint consistent with the last checkpoint this state directory verified
   (RFC 9162 §2.1.4.2); when it is not, it re-reads the old entries to name the first one
   the server now serves differently (a split view, or rewritten history);
3. mirrors the new entries ``[mirrored, size)`` from ``/log/entries`` into a local SQLite
   file, so an interrupted run resumes where it stopped;
4. rebuilds the RFC 6962 tree from the mirrored leaves; its root must be the checkpoint's
   (a mismatch is located with consistency proofs, by bisection);
5. replays every record in log order: the leaf is recomputed from the envelope, the payload
   must be RFC 8785 bytes of a valid v1 record, every DSSE signature must verify under a key
   that earlier key records registered and had not rotated or revoked, the signing policy
   (``registry.policy``) must allow the signer, each batch's ``prev`` chain must link, and
   an endorsement's preconditions, re-evaluated over the replayed lineage, must hold and
   match the results it signed;
6. requires the checkpoint to satisfy the latest logged witness policy, and a few consumer
   pages to load only scripts that are logged releases (``page``).

Steps 3 and 5 overlap: while a thread fetches the next pages, the main process stores and
replays the current one (and worker processes check its signatures).

A failure found by several checks is reported at the lowest log index: a replay failure at
or past a gap or a tree mismatch at index i is not reported, the gap or mismatch is, so
whatever broke first is what is named.

The replay is a pure state machine (``LogReplay``) over pure per-entry checks
(``check_entry``); both raise ``VerificationError`` carrying the log ``index`` of the first
bad record. Exit codes: 0 all verified, 1 something does not verify, 2 usage/network error.

Limits, on purpose (docs/audit.md, "What is not checked"): products and an authority's
``approvals_required`` are not logged, so "only a product's owner creates its batches" is
not re-checked and an endorsement's signed ``threshold`` stands for the authority's setting;
an erased payload cannot be verified and fails the audit; of the entries mirrored by an
earlier run, every one is re-verified from the mirror but only a random share (``--recheck``,
or all of them) is re-read from the server and compared with it.

The modules, one job each: ``entry`` (one entry on its own), ``history`` and ``replay`` (the
log in order), ``tree`` (checkpoint, consistency, tree root), ``mirror`` (the local state),
``client`` (the registry over HTTP, pipelined), ``recheck`` (re-reading mirrored entries),
``pool`` (signature workers), ``page`` (the consumer page's scripts and the logged witness
policy), ``run`` (one audit run), ``console`` (what is printed) and
``command`` (``run_audit`` and ``run_check``, the CLI's entries). The registry's check of
its own database reuses them: ``selfcheck`` (``registry check``) and ``monitor`` (the
server's background check, reported in ``/healthz``).
"""

from __future__ import annotations

from registry.audit.client import HTTP_TIMEOUT, PAGE_SIZE, RegistryClient
from registry.audit.command import EXIT_FAILED, EXIT_OK, EXIT_USAGE, run_audit
from registry.audit.entry import CheckedEntry, check_entry
from registry.audit.failures import AuditError
from registry.audit.mirror import STATE_FILE, Mirror
from registry.audit.pool import (
    CHUNK_SIZE,
    PARALLEL_MIN_RECORDS,
    key_directory,
    preverify_signatures,
)
from registry.audit.replay import LogReplay
from registry.audit.run import Audit, AuditResult
from registry.audit.tree import verify_checkpoint

_Audit = Audit  # the name the speed measurement drives the replay through

__all__ = [
    "CHUNK_SIZE",
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_USAGE",
    "HTTP_TIMEOUT",
    "PAGE_SIZE",
    "PARALLEL_MIN_RECORDS",
    "STATE_FILE",
    "Audit",
    "AuditError",
    "AuditResult",
    "CheckedEntry",
    "LogReplay",
    "Mirror",
    "RegistryClient",
    "check_entry",
    "key_directory",
    "preverify_signatures",
    "run_audit",
    "verify_checkpoint",
]
