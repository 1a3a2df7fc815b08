"""What goes wrong in an audit (docs/audit.md, "Output and exit codes").

Two kinds of trouble: ``AuditError`` when the audit cannot run at all (bad usage, an
unreachable registry, an unusable state directory: exit 2), and ``VerificationError`` when
something the registry serves does not verify (exit 1), carrying the log ``index`` and
``kind`` of the first bad record when there is one.
"""

from __future__ import annotations

from registry.errors import RegistryError, VerificationError


class AuditError(RegistryError):
    """The audit could not run (bad usage, unreachable registry, unusable state): exit 2."""

    code = "audit-error"


def failure(index: int | None, kind: str | None, detail: str) -> VerificationError:
    """The VerificationError of a failed check; ``index`` names the bad record, if any."""
    return VerificationError(detail, index=index, kind=kind)
