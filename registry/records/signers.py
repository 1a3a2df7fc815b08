"""Who signed a record, and may they: signatures checked against the registered keys, the
signers' facts for the policy, and the submitting account's entitlement (docs/records.md,
"Kinds and who signs them").

A key id is the SHA-256 of the raw Ed25519 public key; a DSSE signature is over
``PAE(payloadType, payload)`` (DSSE v1).
"""

from __future__ import annotations

import base64
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry import policy
from registry.crypto.dsse import Envelope, verified_keyids
from registry.crypto.keys import key_id, load_public_key
from registry.errors import Forbidden, InvalidInput, PolicyViolation, VerificationError
from registry.models import Account, KeyStatus, Organization, Role, SigningKey
from registry.records.ingest_cache import IngestCache
from registry.records.schema import KeyRegistration, KeyRevocation, KeyRotation


def verify_signers(
    session: Session, envelope: Envelope, record: Any, cache: IngestCache
) -> list[policy.SignerFacts]:
    """Check every signature of ``envelope`` against its registered key and return the
    signers' facts; a key record's new key must sign too (proof of possession)."""
    keyids = [s.keyid for s in envelope.signatures]
    missing = [k for k in keyids if k not in cache.keys]
    if missing:
        for key in session.scalars(select(SigningKey).where(SigningKey.key_id.in_(missing))):
            cache.keys[key.key_id] = key
    rows = {k: cache.keys[k] for k in keyids if k in cache.keys}
    # A key record's new key is not registered yet: its signature is the proof of possession.
    # isinstance, not getattr: a pydantic model answers a missing attribute slowly (2 us).
    new_key = record.key if isinstance(record, KeyRegistration | KeyRotation) else None
    new_public = None
    if new_key is not None:
        new_public = base64.b64decode(new_key.public_key)
        if key_id(new_public) != new_key.id:
            raise InvalidInput("key.id is not the SHA-256 of key.public_key")

    def lookup(keyid: str) -> Any:
        if keyid in rows:
            return load_public_key(rows[keyid].public_key)
        if new_key is not None and keyid == new_key.id and new_public is not None:
            return load_public_key(new_public)
        return None

    unknown = [k for k in keyids if k not in rows and (new_key is None or k != new_key.id)]
    if unknown:
        raise VerificationError(
            f"signature by unknown key {unknown[0]}: register the key first", rule="unknown-key"
        )
    if envelope not in cache.verified:
        verified_keyids(envelope, lookup)
    if new_key is not None and new_key.id not in keyids:
        raise PolicyViolation(
            "proof-of-possession", "a key record must also be signed by the new key"
        )
    facts = _signing_facts(session, keyids, rows, cache)
    if not facts and isinstance(record, KeyRegistration) and record.holder.role == "registry":
        facts.append(_genesis_facts(session, record))
    return facts


def _signing_facts(
    session: Session, keyids: list[str], rows: dict[str, SigningKey], cache: IngestCache
) -> list[policy.SignerFacts]:
    """The facts of each registered signer, refusing keys that may no longer sign."""
    facts = []
    for keyid in keyids:
        row = rows.get(keyid)
        if row is None:
            continue  # the new key of a key record: not a signing party yet
        if row.status is KeyStatus.REVOKED:
            raise PolicyViolation("key-revoked", f"key {keyid} was revoked at {row.revoked_at}")
        if row.status is KeyStatus.ROTATED:
            raise PolicyViolation(
                "key-rotated", f"key {keyid} was rotated; sign with its successor {row.replaced_by}"
            )
        if keyid not in cache.facts:
            cache.facts[keyid] = signer_facts(session, row)
        facts.append(cache.facts[keyid])
    return facts


def _genesis_facts(session: Session, record: KeyRegistration) -> policy.SignerFacts:
    """Genesis: the registry key registers itself, before any key is known."""
    if session.scalars(select(SigningKey).limit(1)).first() is not None:
        raise PolicyViolation("registry-key-exists", "the registry key is already registered")
    org = record.organization
    return policy.SignerFacts(
        key_id=record.key.id,
        org_id=uuid.UUID(org.id),
        org_kind=org.kind,
        role=policy.REGISTRY_ROLE,
        region=org.region,
        jurisdiction=org.jurisdiction,
    )


def signer_facts(session: Session, key: SigningKey) -> policy.SignerFacts:
    """What the signing policy knows of a key's holder: organization, kind, role, region."""
    org = session.get(Organization, key.organization_id)
    account = session.get(Account, key.account_id) if key.account_id else None
    assert org is not None
    return policy.SignerFacts(
        key_id=key.key_id,
        org_id=org.id,
        org_kind=org.kind.value,
        role=account.role.value if account is not None else policy.REGISTRY_ROLE,
        region=org.region_code,
        jurisdiction=org.jurisdiction,
        account=str(key.account_id) if key.account_id else None,
    )


def check_submitter(
    session: Session, submitter: Account | None, signer: policy.SignerFacts, record: Any
) -> None:
    """The account posting a record must be entitled to: its own organization's records,
    and key records only for itself (registering its key, rotating a key it holds)."""
    if submitter is None or submitter.role is Role.ADMIN:
        return
    if isinstance(record, KeyRegistration):
        if record.holder.account != str(submitter.id):
            raise Forbidden("you may register keys only for your own account", rule="key-holder")
        return
    if isinstance(record, KeyRotation):
        old = session.get(SigningKey, record.old_key)
        if old is None or old.account_id != submitter.id:
            raise Forbidden("you may rotate only a key you hold", rule="key-holder")
        return
    if isinstance(record, KeyRevocation):
        raise Forbidden("revoke keys through POST /api/v1/keys/{id}/revoke", rule="key-holder")
    if signer.org_id != submitter.organization_id:
        raise Forbidden(
            "the record is signed for another organization than the submitting account's",
            rule="submitter-organization",
        )
