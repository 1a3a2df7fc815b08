"""A signing key's life as the log tells it, and what that makes of a signature.

Key records (docs/records.md) register a key, rotate it to a successor, or revoke it,
optionally declaring it compromised from some time on. A signature made at log index ``i``
at record time ``t`` by a key is judged (docs/verification.md, "Keys as the log says"):

* ``refused`` when no key record before ``i`` registered the key, or when the key was
  rotated or revoked at an index before ``i``;
* ``suspect`` when a revocation declared the key compromised since a time ``<= t``;
* ``ok`` otherwise.

``LogReplay`` (the auditor) and the consumer page's script apply exactly these rules; the
case files under ``tests/vectors/keylife/`` hold both to the same verdicts. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from registry.records.schema import KeyRegistration, KeyRevocation, KeyRotation

Verdict = Literal["ok", "refused", "suspect"]


class KeyState(Protocol):
    """What the rules read of a key: when it began and ended, and since when it is suspect."""

    registered_index: int
    ended_index: int | None
    ended_how: str
    compromised_since: datetime | None


@dataclass
class KeyLife:
    """A key's life on its own (the auditor's ``KnownKey`` carries the same fields)."""

    registered_index: int
    ended_index: int | None = None
    ended_how: str = ""
    compromised_since: datetime | None = None


@dataclass(frozen=True)
class KeyVerdict:
    """The verdict on one signature, with the reason shown to people."""

    verdict: Verdict
    reason: str


def rotate(key: KeyState, index: int) -> None:
    """The key is rotated at ``index``: nothing it signs after that is accepted."""
    key.ended_index, key.ended_how = index, "rotated"


def revoke(key: KeyState, index: int, compromised_since: str | None) -> None:
    """The key is revoked at ``index`` (if not already ended by a rotation), and suspect
    from ``compromised_since`` on when the revocation says so."""
    if key.ended_index is None:
        key.ended_index = index
    key.ended_how = "revoked"
    if compromised_since:
        key.compromised_since = datetime.fromisoformat(compromised_since)


def judge(key: KeyState | None, key_id: str, index: int, time: datetime | None) -> KeyVerdict:
    """The verdict on a signature by ``key_id`` on the record at log ``index`` made at record
    ``time`` (None: not known, so never suspect by time)."""
    if key is None or key.registered_index >= index:
        return KeyVerdict(
            "refused", f"signed by key {key_id}, which no earlier key record registered"
        )
    if key.ended_index is not None and key.ended_index < index:
        return KeyVerdict(
            "refused", f"signed by key {key_id}, {key.ended_how} at log index {key.ended_index}"
        )
    if key.compromised_since is not None and time is not None and time >= key.compromised_since:
        return KeyVerdict("suspect", f"signed with key {key_id[:12]}… after it was compromised")
    return KeyVerdict("ok", "")


class KeyHistory:
    """Every key's life, from key records applied in log order (no signatures checked: the
    caller verifies those)."""

    def __init__(self) -> None:
        self.keys: dict[str, KeyLife] = {}

    def apply(self, index: int, record: KeyRegistration | KeyRotation | KeyRevocation) -> None:
        """Apply the key record logged at ``index``."""
        if isinstance(record, KeyRegistration):
            self.keys[record.key.id] = KeyLife(index)
        elif isinstance(record, KeyRotation):
            old = self.keys.get(record.old_key)
            if old is not None:
                rotate(old, index)
            self.keys[record.key.id] = KeyLife(index)
        else:
            key = self.keys.get(record.key_id)
            if key is not None:
                revoke(key, index, record.compromised_since)

    def judge(self, key_id: str, index: int, time: datetime | None) -> KeyVerdict:
        """``judge`` against the lives known so far."""
        return judge(self.keys.get(key_id), key_id, index, time)
