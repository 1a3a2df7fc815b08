"""Endorsement status, computed in exactly one place (PRODUCT.md §5).

Order matters: a recall outranks a revocation (the goods themselves are unsafe), which
outranks the validity window.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum


class Status(StrEnum):
    VALID = "valid"
    NOT_YET_VALID = "not_yet_valid"
    EXPIRED = "expired"
    REVOKED = "revoked"
    RECALLED = "recalled"


def endorsement_status(
    now: datetime,
    valid_from: datetime,
    valid_until: datetime,
    *,
    revoked: bool,
    recalled: bool,
) -> Status:
    if recalled:
        return Status.RECALLED
    if revoked:
        return Status.REVOKED
    if now < valid_from:
        return Status.NOT_YET_VALID
    if now >= valid_until:
        return Status.EXPIRED
    return Status.VALID
