"""Signing keys: registration (client-held or custodial), rotation and revocation.

Every change is itself a logged record signed by the registry key, so that any old
signature can be checked against the key that was valid when it was logged. Registration
and rotation are also signed by the new key (proof of possession).
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.context import RegistryContext
from registry.crypto.dsse import Envelope, add_signature, sign_envelope
from registry.crypto.jcs import canonicalize
from registry.crypto.keys import Signer, key_id, load_public_key, seal_private_key
from registry.errors import Forbidden, InvalidInput, NotFound
from registry.models import Account, Organization, Role, SigningKey
from registry.records import ingest
from registry.records.schema import RECORD_PAYLOAD_TYPE, Kind


def _now_text(ctx: RegistryContext) -> str:
    return ctx.clock().isoformat(timespec="seconds")


def _public_key_entry(public_raw: bytes) -> dict[str, str]:
    load_public_key(public_raw)
    return {
        "algorithm": "ed25519",
        "id": key_id(public_raw),
        "public_key": base64.b64encode(public_raw).decode(),
    }


def registration_document(
    session: Session,
    ctx: RegistryContext,
    account: Account,
    public_raw: bytes,
    rotates: str | None = None,
) -> dict[str, Any]:
    """The key record for ``account``'s new key (what the new key must sign)."""
    if rotates is not None:
        old = session.get(SigningKey, rotates)
        if old is None or old.account_id != account.id:
            raise NotFound(f"account {account.username} has no key {rotates}")
        return {
            "kind": Kind.KEY_ROTATION.value,
            "time": _now_text(ctx),
            "old_key": rotates,
            "key": _public_key_entry(public_raw),
        }
    org = session.get(Organization, account.organization_id)
    assert org is not None
    holder = {"account": str(account.id), "role": account.role.value, "name_zh": account.name_zh}
    for field in ("name_en", "title_zh", "title_en"):
        if getattr(account, field):
            holder[field] = getattr(account, field)
    organization = {
        "id": str(org.id),
        "kind": org.kind.value,
        "name_zh": org.name_zh,
        "name_en": org.name_en,
        "region": org.region_code,
    }
    if org.jurisdiction:
        organization["jurisdiction"] = org.jurisdiction
    return {
        "kind": Kind.KEY_REGISTRATION.value,
        "time": _now_text(ctx),
        "key": _public_key_entry(public_raw),
        "holder": holder,
        "organization": organization,
    }


def registration_draft(
    session: Session,
    ctx: RegistryContext,
    account: Account,
    public_raw: bytes,
    rotates: str | None = None,
) -> bytes:
    """Canonical payload a client-held key signs to register (or rotate to) itself."""
    return canonicalize(registration_document(session, ctx, account, public_raw, rotates))


def register_client_key(
    session: Session, ctx: RegistryContext, submitter: Account, envelope: Envelope
) -> SigningKey:
    """Countersign a key record already signed by the new key, and accept it."""
    try:
        kind = json.loads(envelope.payload).get("kind")
    except (ValueError, AttributeError):
        kind = None
    if kind not in (Kind.KEY_REGISTRATION, Kind.KEY_ROTATION):
        raise InvalidInput(
            "POST /api/v1/keys takes a signed key_registration or key_rotation draft",
            rule="not-a-key-record",
        )
    countersigned = add_signature(envelope, ctx.registry_signer)
    accepted = ingest.submit(session, ctx, countersigned, submitter)
    return _key_of(session, accepted.row(session).payload)


def create_custodial_key(
    session: Session, ctx: RegistryContext, account: Account, rotates: str | None = None
) -> SigningKey:
    """Generate a key the registry holds for ``account`` (sealed under the master key)."""
    signer = Signer.generate()
    payload = canonicalize(
        registration_document(session, ctx, account, signer.public_key_raw, rotates)
    )
    envelope = sign_envelope(RECORD_PAYLOAD_TYPE, payload, [ctx.registry_signer, signer])
    accepted = ingest.submit(session, ctx, envelope, None)
    key = _key_of(session, accepted.row(session).payload)
    key.custodial = True
    key.sealed_private_key = seal_private_key(signer.private_raw(), ctx.master_key, key.key_id)
    session.flush()
    return key


def revoke_key(
    session: Session,
    ctx: RegistryContext,
    actor: Account,
    key_to_revoke: str,
    reason: str,
    compromised_since: datetime | None = None,
) -> SigningKey:
    """Revoke a key by a key-revocation record signed by the registry key (its holder or an admin
    asks); ``compromised_since`` marks what it signed from then on as suspect (docs/records.md)."""
    key = session.get(SigningKey, key_to_revoke)
    if key is None:
        raise NotFound(f"no key {key_to_revoke}")
    if actor.role is not Role.ADMIN and key.account_id != actor.id:
        raise Forbidden("only the key's holder or an administrator may revoke it")
    if not reason.strip():
        raise InvalidInput("a revocation needs a reason")
    document: dict[str, Any] = {
        "kind": Kind.KEY_REVOCATION.value,
        "time": _now_text(ctx),
        "key_id": key_to_revoke,
        "reason": reason.strip(),
    }
    if compromised_since is not None:
        document["compromised_since"] = compromised_since.isoformat(timespec="seconds")
    envelope = sign_envelope(RECORD_PAYLOAD_TYPE, canonicalize(document), [ctx.registry_signer])
    ingest.submit(session, ctx, envelope, None)
    session.refresh(key)
    return key


def list_keys(session: Session, account: Account) -> list[SigningKey]:
    """The keys an account may see (its organization's; an admin, all), by registration index."""
    query = select(SigningKey).order_by(SigningKey.registered_index)
    if account.role is not Role.ADMIN:
        query = query.where(SigningKey.organization_id == account.organization_id)
    return list(session.scalars(query))


def get_key(session: Session, key_id: str) -> SigningKey:
    """The signing key with this id; ``NotFound`` if there is none."""
    key = session.get(SigningKey, key_id)
    if key is None:
        raise NotFound(f"no key {key_id}")
    return key


def _key_of(session: Session, payload: bytes | None) -> SigningKey:
    assert payload is not None
    document = json.loads(payload)
    key = session.get(SigningKey, document["key"]["id"])
    assert key is not None
    return key
