"""Domain errors: one base, one module.

The API maps each class to an HTTP status in one table (``api/problems.py``) and answers
with an RFC 9457 problem (``application/problem+json``) whose ``type`` ends in the class's
``code`` and whose ``detail`` is the error's (docs/records.md, Refusals); ``extra`` becomes
the problem's extension members (RFC 9457 §3.2), e.g. ``rule`` or ``field``. Callers never
see a bool they could forget to check: verification functions raise. Every exception the
domain raises on purpose derives from ``RegistryError``.
"""

from __future__ import annotations

from typing import Any


class RegistryError(Exception):
    """Base of every expected error. ``code`` names the problem type (RFC 9457 §3.1.1).

    ``detail`` is the human-readable explanation (RFC 9457 §3.1.4); keyword arguments are
    kept in ``extra`` for the problem's extension members.
    """

    code = "registry-error"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class InvalidInput(RegistryError):
    """The request is well-formed JSON but its content is wrong (a field, a type, a range)."""

    code = "invalid-input"


class NotFound(RegistryError):
    """The thing asked for does not exist (an unknown code, id, batch or log entry)."""

    code = "not-found"


class Conflict(RegistryError):
    """The request contradicts what the registry already holds (duplicate, stale chain)."""

    code = "conflict"


class Unauthenticated(RegistryError):
    """No credentials, or an unknown, revoked or expired token."""

    code = "unauthenticated"


class Forbidden(RegistryError):
    """Authenticated, but the account's role or organization does not allow this."""

    code = "forbidden"


class PolicyViolation(RegistryError):
    """A signed record breaks the signing policy. ``rule`` names the rule that refused it."""

    code = "policy-violation"

    def __init__(self, rule: str, detail: str, **extra: Any) -> None:
        super().__init__(detail, rule=rule, **extra)
        self.rule = rule


class VerificationError(RegistryError):
    """A signature, hash, proof or canonical form does not verify."""

    code = "verification-failed"


class CanonicalizationError(InvalidInput):
    """A value cannot be expressed in RFC 8785 (JCS): NaN, out-of-range integer, bad key."""

    code = "not-canonicalizable"


class RateLimited(RegistryError):
    """Too many requests from one client; ``retry_after`` is in whole seconds."""

    code = "rate-limited"

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail, retry_after=retry_after)
        self.retry_after = retry_after


class ConfigurationError(RegistryError):
    """Settings refuse to start (e.g. a production registry without a master key)."""

    code = "configuration-error"
