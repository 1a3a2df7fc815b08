"""The log's name, changed only on purpose: ``registry log rename``.

A log's origin (c2sp.org/tlog-checkpoint) is fixed when the log is created and stored with
it (``log_state.origin``); the base URL never changes it. Renaming is an explicit act that
the log itself records: a ``log_rename`` record signed by the registry key is appended, and
the checkpoint that includes it is signed by the same log key under the new name. A
generated witness policy names the log by its vkey, which carries the name, so the rename's
transaction also logs the policy naming the new vkey: the verification document never pairs
the renamed log with a policy for the old name. An auditor that pinned the old name follows
the rename it finds in the log; one that finds a new name without a logged rename fails
(docs/audit.md, "The log's identity").
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from registry.context import RegistryContext
from registry.crypto.dsse import sign_envelope
from registry.crypto.jcs import canonicalize
from registry.db import transaction
from registry.errors import InvalidInput
from registry.log.note_syntax import valid_key_name
from registry.models import Checkpoint, LogState
from registry.operations.publication import log_witness_policy
from registry.records import ingest as record_service
from registry.records.schema import RECORD_PAYLOAD_TYPE, Kind
from registry.transparency import log as log_service


@dataclass(frozen=True)
class Renamed:
    """A logged rename: the names, the rename record's index, the index of the witness
    policy logged with it (None when the configured policy does not name the log's key, so it
    did not change) and the new checkpoint size."""

    old_origin: str
    new_origin: str
    index: int
    checkpoint_size: int
    policy_index: int | None = None


def rename_log(
    factory: sessionmaker[Session], ctx: RegistryContext, new_origin: str, reason: str
) -> Renamed:
    """Log the rename of the log to ``new_origin`` and sign its checkpoint under that name.

    Run with every server of this registry stopped: a running server keeps the name it
    started with until restarted. ``InvalidInput`` when the name is not a valid note key name
    or is the current one."""
    old_origin = ctx.log_origin
    if new_origin == old_origin:
        raise InvalidInput(f"the log is already named {old_origin!r}")
    if not valid_key_name(new_origin):
        raise InvalidInput(
            f"{new_origin!r} is not a log name: one line of printable UTF-8 without spaces "
            "or '+' (c2sp.org/signed-note key names)"
        )
    document = {
        "kind": Kind.LOG_RENAME.value,
        "time": ctx.clock().isoformat(timespec="seconds"),
        "old_origin": old_origin,
        "new_origin": new_origin,
        "reason": reason,
    }
    envelope = sign_envelope(RECORD_PAYLOAD_TYPE, canonicalize(document), [ctx.registry_signer])
    with transaction(factory) as session:
        log_service.lock_log(session)
        accepted = record_service.submit(session, ctx, envelope, None)
        session.execute(
            update(LogState)
            .where(LogState.id == log_service.LOG_STATE_ID)
            .values(origin=new_origin)
        )
        # The checkpoint that includes the rename is signed under the new name (same tree:
        # the note written under the old name in this transaction is never served).
        old_note = session.get(Checkpoint, accepted.checkpoint_size)
        if old_note is not None:
            session.delete(old_note)
            session.flush()
        renamed = dataclasses.replace(ctx, log_origin=new_origin)
        log_service.publish_checkpoint(session, renamed, accepted.checkpoint_size)
        # Appended under the new name: its checkpoint is signed as the renamed log.
        policy_index = log_witness_policy(session, renamed)
        size = accepted.checkpoint_size if policy_index is None else policy_index + 2
    return Renamed(old_origin, new_origin, accepted.index, size, policy_index)
