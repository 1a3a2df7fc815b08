"""Signing keys: custodial (held by the registry) or client-held (registered by proof of
possession: the client signs the draft key record, the registry countersigns)."""

from __future__ import annotations

import base64

from fastapi import APIRouter

from api.deps import ContextDep, CurrentAccount, SessionDep
from api.schemas import (
    CustodialKeyIn,
    KeyDraftIn,
    KeyDraftOut,
    KeyOut,
    KeyRegistrationIn,
    RevokeKeyIn,
)
from registry.accounts import accounts
from registry.crypto.dsse import Envelope
from registry.crypto.keys import key_id
from registry.errors import Forbidden, InvalidInput
from registry.models import Role
from registry.records import keys
from registry.records.schema import RECORD_PAYLOAD_TYPE

router = APIRouter(prefix="/api/v1/keys", tags=["keys"])


@router.get("", response_model=list[KeyOut])
def list_keys(session: SessionDep, account: CurrentAccount) -> list[KeyOut]:
    return [KeyOut.of(k) for k in keys.list_keys(session, account)]


@router.get("/{key_id}", response_model=KeyOut)
def get_key(key_id: str, session: SessionDep) -> KeyOut:
    return KeyOut.of(keys.get_key(session, key_id))


@router.post("/drafts", response_model=KeyDraftOut)
def key_draft(
    body: KeyDraftIn, session: SessionDep, ctx: ContextDep, account: CurrentAccount
) -> KeyDraftOut:
    """Step 1 of registering a client-held key: the record your new key must sign."""
    try:
        public_raw = base64.b64decode(body.public_key, validate=True)
    except ValueError:  # binascii.Error, or non-ASCII characters
        raise InvalidInput("public_key is not base64") from None
    payload = keys.registration_draft(session, ctx, account, public_raw, body.rotates)
    return KeyDraftOut(
        payload=base64.b64encode(payload).decode(),
        payloadType=RECORD_PAYLOAD_TYPE,
        key_id=key_id(public_raw),
    )


@router.post("", status_code=201, response_model=KeyOut)
def register_key(
    body: KeyRegistrationIn, session: SessionDep, ctx: ContextDep, account: CurrentAccount
) -> KeyOut:
    """Step 2: post the draft signed by the new key; the registry countersigns and logs it."""
    envelope = Envelope.from_json(body.envelope.model_dump())
    return KeyOut.of(keys.register_client_key(session, ctx, account, envelope))


@router.post("/custodial", status_code=201, response_model=KeyOut)
def create_custodial(
    body: CustodialKeyIn, session: SessionDep, ctx: ContextDep, account: CurrentAccount
) -> KeyOut:
    holder = account
    if body.account_id is not None and body.account_id != account.id:
        if account.role is not Role.ADMIN:
            raise Forbidden("only administrators create keys for other accounts")
        holder = accounts.get_account(session, body.account_id)
    return KeyOut.of(keys.create_custodial_key(session, ctx, holder, body.rotates))


@router.post("/{key_id}/revoke", response_model=KeyOut)
def revoke(
    key_id: str, body: RevokeKeyIn, session: SessionDep, ctx: ContextDep, account: CurrentAccount
) -> KeyOut:
    key = keys.revoke_key(session, ctx, account, key_id, body.reason, body.compromised_since)
    return KeyOut.of(key)
