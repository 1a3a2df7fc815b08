"""Custodial signing: the registry holds an account's key, sealed under the master key, and
completes and signs drafts for it (docs/records.md, "Common fields": ``POST
/api/v1/records/custodial`` fills ``org``, ``time`` and ``prev`` under the append lock).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.context import RegistryContext
from registry.crypto.keys import Signer, open_private_key
from registry.errors import Conflict, InvalidInput
from registry.models import Account, KeyStatus, SigningKey
from registry.records.fields import is_batch_ref
from registry.records.schema import KEY_KINDS, Kind
from registry.records.stored import find_batch


def custodial_signer(session: Session, ctx: RegistryContext, account: Account) -> Signer:
    """The Ed25519 signer of ``account``'s active custodial key, unsealed with the master
    key; ``Conflict`` (``no-custodial-key``) if it has none."""
    key = session.scalars(
        select(SigningKey).where(
            SigningKey.account_id == account.id,
            SigningKey.status == KeyStatus.ACTIVE,
            SigningKey.custodial.is_(True),
        )
    ).first()
    if key is None or key.sealed_private_key is None:
        raise Conflict(
            f"account {account.username} has no active custodial key; create one first",
            rule="no-custodial-key",
        )
    seed = open_private_key(key.sealed_private_key, ctx.master_key, key.key_id)
    return Signer.from_raw(seed)


def complete_draft(
    session: Session, ctx: RegistryContext, account: Account, draft: dict[str, Any]
) -> dict[str, Any]:
    """A draft record completed for ``account``: ``org`` (the account's), ``time`` (now, if
    absent), ``batches`` of a processing record from its inputs and outputs, and ``prev``
    (each batch's current chain head; call under the append lock so it cannot go stale)."""
    if not isinstance(draft, dict):
        raise InvalidInput("a record draft must be a JSON object")
    if draft.get("kind") in {k.value for k in KEY_KINDS}:
        raise InvalidInput("key records are made through the keys API, not as drafts")
    document = dict(draft)
    document["org"] = str(account.organization_id)
    document.setdefault("time", ctx.clock().astimezone().isoformat(timespec="seconds"))
    if document.get("kind") == Kind.PROCESSING and "batches" not in document:
        refs = [i.get("batch") for i in document.get("inputs", []) if isinstance(i, dict)]
        refs += [o.get("batch") for o in document.get("outputs", []) if isinstance(o, dict)]
        document["batches"] = refs
    batches = document.get("batches")
    if isinstance(batches, list) and "prev" not in document:
        created = _draft_created(document)
        prev: dict[str, str | None] = {}
        for ref in batches:
            if not is_batch_ref(ref):
                continue  # the schema check names it
            batch = None if ref in created else find_batch(session, ref)
            prev[ref] = batch.head_digest if batch is not None else None
        document["prev"] = prev
    return document


def _draft_created(document: dict[str, Any]) -> set[Any]:
    if document.get("kind") == Kind.HARVEST:
        return {b for b in document.get("batches", []) if isinstance(b, str)}
    if document.get("kind") == Kind.PROCESSING:
        return {o.get("batch") for o in document.get("outputs", []) if isinstance(o, dict)}
    return set()
