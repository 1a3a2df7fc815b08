"""Endorsement status, computed in exactly one place (docs/records.md, Endorsements).

Order matters: a recall outranks a revocation (the goods themselves are unsafe), which
outranks the validity window.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum


class Status(StrEnum):
    """What a consumer is told about an endorsement; the values are the API's ``status``."""

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
    """The status of an endorsement at ``now``: ``recalled`` > ``revoked`` > the window.

    ``recalled`` is true when a covered batch is marked recalled (a recall marks every
    descendant, so an ancestor's recall counts); ``revoked`` when an
    ``endorsement_revocation`` record names it. The window is half-open:
    valid from ``valid_from`` inclusive until ``valid_until`` exclusive.
    """
    if recalled:
        return Status.RECALLED
    if revoked:
        return Status.REVOKED
    if now < valid_from:
        return Status.NOT_YET_VALID
    if now >= valid_until:
        return Status.EXPIRED
    return Status.VALID
