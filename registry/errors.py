"""Domain errors: one base, one module.

The API maps each class to an HTTP status in one table (``api/problems.py``); every error
carries a stable ``code`` (the problem type slug) and a human-readable ``detail``. Callers
never see a bool they could forget to check: verification functions raise.
"""

from __future__ import annotations

from typing import Any


class RegistryError(Exception):
    """Base of every expected error. ``code`` names the problem type."""

    code = "registry-error"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class InvalidInput(RegistryError):
    """The request is well-formed JSON but its content is wrong (a field, a type, a range)."""

    code = "invalid-input"


class NotFound(RegistryError):
    code = "not-found"


class Conflict(RegistryError):
    """The request contradicts what the registry already holds (duplicate, stale chain)."""

    code = "conflict"


class Unauthenticated(RegistryError):
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
