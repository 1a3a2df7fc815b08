"""Request and response bodies of the JSON API."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import date, datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from registry.models import (
    Account,
    ApiToken,
    Batch,
    Organization,
    OrgKind,
    Product,
    Record,
    Role,
    SigningKey,
)

T = TypeVar("T")


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OrganizationIn(_In):
    kind: OrgKind
    name_zh: str = Field(min_length=1, max_length=200)
    name_en: str = Field(min_length=1, max_length=200)
    region_code: str = Field(pattern=r"^[1-8][0-9]{5}$", description="GB/T 2260 code")
    gln: str | None = Field(default=None, pattern=r"^[0-9]{13}$")
    jurisdiction: str | None = Field(default=None, pattern=r"^[1-8][0-9]{1,5}$")
    approvals_required: int = Field(
        default=1, ge=1, le=3, description="authorities: officials who must sign an endorsement"
    )


class OrganizationOut(BaseModel):
    id: uuid.UUID
    kind: OrgKind
    name_zh: str
    name_en: str
    region_code: str
    gln: str | None
    jurisdiction: str | None
    approvals_required: int

    @classmethod
    def of(cls, org: Organization) -> OrganizationOut:
        return cls.model_validate(org, from_attributes=True)


class AccountIn(_In):
    organization_id: uuid.UUID
    username: str = Field(min_length=3, max_length=64)
    role: Role
    name_zh: str = Field(min_length=1, max_length=100)
    name_en: str = Field(default="", max_length=100)
    title_zh: str = Field(default="", max_length=100)
    title_en: str = Field(default="", max_length=100)
    password: str | None = Field(default=None, min_length=10, max_length=200)


class AccountOut(BaseModel):
    id: uuid.UUID
    organization_id: uuid.UUID
    username: str
    role: Role
    name_zh: str
    name_en: str
    title_zh: str
    title_en: str

    @classmethod
    def of(cls, account: Account) -> AccountOut:
        return cls.model_validate(account, from_attributes=True)


class TokenIn(_In):
    name: str = Field(default="api", min_length=1, max_length=100)
    expires_at: datetime | None = None


class TokenOut(BaseModel):
    id: uuid.UUID
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, token: ApiToken) -> TokenOut:
        return cls.model_validate(token, from_attributes=True)


class NewTokenOut(TokenOut):
    token: str = Field(description="Shown once: only its hash is stored")


class KeyOut(BaseModel):
    key_id: str
    account_id: uuid.UUID | None
    organization_id: uuid.UUID | None
    public_key: str
    status: str
    custodial: bool
    registered_index: int
    created_at: datetime
    rotated_at: datetime | None
    revoked_at: datetime | None
    compromised_since: datetime | None
    replaced_by: str | None

    @classmethod
    def of(cls, key: SigningKey) -> KeyOut:
        return cls(
            key_id=key.key_id,
            account_id=key.account_id,
            organization_id=key.organization_id,
            public_key=base64.b64encode(key.public_key).decode(),
            status=key.status.value,
            custodial=key.custodial,
            registered_index=key.registered_index,
            created_at=key.created_at,
            rotated_at=key.rotated_at,
            revoked_at=key.revoked_at,
            compromised_since=key.compromised_since,
            replaced_by=key.replaced_by,
        )


class KeyDraftIn(_In):
    public_key: str = Field(description="raw 32-byte Ed25519 public key, base64")
    rotates: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")


class KeyDraftOut(BaseModel):
    payload: str = Field(description="base64 of the canonical key record to sign")
    payloadType: str
    key_id: str


class CustodialKeyIn(_In):
    account_id: uuid.UUID | None = Field(default=None, description="admins only; default: self")
    rotates: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")


class RevokeKeyIn(_In):
    reason: str = Field(min_length=1, max_length=500)
    compromised_since: datetime | None = None


class SignatureIn(_In):
    keyid: str = Field(max_length=200)
    sig: str = Field(max_length=200)


class EnvelopeIn(_In):
    payload: str = Field(description="base64 of the RFC 8785 bytes of the record")
    payloadType: str = Field(max_length=200)
    signatures: list[SignatureIn] = Field(min_length=1, max_length=10)


class KeyRegistrationIn(_In):
    envelope: EnvelopeIn


class ProductIn(_In):
    name_zh: str = Field(min_length=1, max_length=200)
    name_en: str = Field(default="", max_length=200)
    category: str = Field(min_length=1, max_length=64)
    gtin: str | None = Field(default=None, max_length=14)
    standard_ref: str = Field(default="", max_length=100)


class ProductOut(BaseModel):
    id: uuid.UUID
    organization_id: uuid.UUID
    name_zh: str
    name_en: str
    category: str
    gtin: str | None
    standard_ref: str

    @classmethod
    def of(cls, product: Product) -> ProductOut:
        return cls.model_validate(product, from_attributes=True)


class BatchOut(BaseModel):
    id: uuid.UUID
    code: str
    ref: str = Field(description="'<product id>:<lot>', as records name the batch")
    product_id: uuid.UUID
    lot: str
    quantity: str
    remaining: str
    unit: str
    origin_org_id: uuid.UUID
    region_code: str
    lat: str | None
    lon: str | None
    harvest_date: date | None
    best_before: date | None
    head: str = Field(description="digest of the newest record: the next record's prev")
    recalled: bool
    recall_digest: str | None

    @classmethod
    def of(cls, batch: Batch) -> BatchOut:
        return cls(
            id=batch.id,
            code=batch.code,
            ref=f"{batch.product_id}:{batch.lot}",
            product_id=batch.product_id,
            lot=batch.lot,
            quantity=batch.quantity,
            remaining=batch.remaining,
            unit=batch.unit,
            origin_org_id=batch.origin_org_id,
            region_code=batch.region_code,
            lat=batch.lat,
            lon=batch.lon,
            harvest_date=batch.harvest_date,
            best_before=batch.best_before,
            head=batch.head_digest,
            recalled=batch.recall_digest is not None,
            recall_digest=batch.recall_digest,
        )


class RecordOut(BaseModel):
    index: int = Field(description="0-based position in the Merkle log")
    digest: str = Field(description="hex SHA-256 of the payload")
    kind: str
    record: dict[str, Any] | None
    envelope: dict[str, Any] | None
    leaf: str = Field(description="base64 of the exact leaf bytes")
    logged_at: datetime
    organization_id: uuid.UUID | None

    @classmethod
    def of(cls, record: Record) -> RecordOut:
        payload = record.payload
        return cls(
            index=record.log_index,
            digest=record.digest,
            kind=record.kind,
            record=json.loads(payload) if payload is not None else None,
            envelope=(
                {
                    "payload": base64.b64encode(payload).decode(),
                    "payloadType": record.payload_type,
                    "signatures": record.signatures,
                }
                if payload is not None
                else None
            ),
            leaf=base64.b64encode(record.leaf).decode(),
            logged_at=record.logged_at,
            organization_id=record.organization_id,
        )


class AcceptedOut(RecordOut):
    checkpoint_size: int


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page")
