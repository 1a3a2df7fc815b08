"""SQLAlchemy 2.0 typed models: the registry's tables, one class each (a data table).

The signed records are the truth; most other tables are projections of them kept for fast
reads (batches, lineage, key status) or registry metadata that no signature covers
(organizations' display data, accounts, tokens). Nothing here is ever updated in place except
those projections and the log's single-row counter. Times are stored as UTC on every
backend (``UTCDateTime``); the schema changes only through Alembic migrations
(``registry/migrations``).
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy import Enum as SAEnum
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
"""Constraint and index names, fixed so that migrations can name what they alter or drop."""

BigIntPK = BigInteger().with_variant(Integer(), "sqlite")
"""A 64-bit auto-increment key: SQLite only auto-increments exactly INTEGER PRIMARY KEY."""


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC: the default of every ``created_at``."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware datetimes on every backend (SQLite drops the offset): stored as UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """To the database: converted to UTC (naive on SQLite); a naive value is refused."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """From the database: always an aware datetime in UTC."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _enum(cls: type[StrEnum], length: int = 32) -> SAEnum:
    # Stored by value, as a plain string column (no native enum type to migrate).
    return SAEnum(
        cls,
        values_callable=lambda e: [m.value for m in e],
        native_enum=False,
        validate_strings=True,
        length=length,
    )


class Base(DeclarativeBase):
    """The declarative base of every model; its metadata carries ``NAMING_CONVENTION``."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class OrgKind(StrEnum):
    """What an organization is; decides which record kinds it may sign (``policy.SIGNERS``)."""

    OPERATOR = "operator"  # runs the registry; its admins register organizations and keys
    COOPERATIVE = "cooperative"
    PROCESSOR = "processor"
    CARRIER = "carrier"
    LAB = "lab"
    AUTHORITY = "authority"


class Role(StrEnum):
    """An account's role within its organization."""

    ADMIN = "admin"  # registry administrator (operator organization)
    CLERK = "clerk"  # records the organization's own steps
    OFFICIAL = "official"  # member of an authority who may endorse, revoke and recall


class KeyStatus(StrEnum):
    """A signing key's state, projected from its key records (docs/records.md).

    A rotated or revoked key signs nothing after the record that rotated or revoked it.
    """

    ACTIVE = "active"
    ROTATED = "rotated"
    REVOKED = "revoked"


class Organization(Base):
    """A registered organization: cooperative, processor, carrier, lab, authority, operator."""

    __tablename__ = "organizations"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    kind: Mapped[OrgKind] = mapped_column(_enum(OrgKind))
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    region_code: Mapped[str] = mapped_column(String(6))
    gln: Mapped[str | None] = mapped_column(String(13), unique=True)
    # Authorities only: the GB/T 2260 region-code prefix they govern (e.g. "1504").
    jurisdiction: Mapped[str | None] = mapped_column(String(6))
    # Authorities only: how many distinct officials must sign an endorsement.
    approvals_required: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Account(Base):
    """A person who signs in, belonging to one organization, with one role."""

    __tablename__ = "accounts"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"), index=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[Role] = mapped_column(_enum(Role))
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100), default="")
    title_zh: Mapped[str] = mapped_column(String(100), default="")
    title_en: Mapped[str] = mapped_column(String(100), default="")
    password_hash: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ApiToken(Base):
    """A bearer token for the API, belonging to an account; only its hash is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    # SHA-256 of the token: tokens are 256-bit random, so a fast hash is enough at rest.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SigningKey(Base):
    """A client's Ed25519 key, projected from its key records (docs/records.md).

    ``custodial`` keys are held by the registry, sealed under the master key
    (``registry.crypto.keys.seal_private_key``); others never leave the client.
    """

    __tablename__ = "signing_keys"

    key_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    organization_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organizations.id"), index=True
    )
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    status: Mapped[KeyStatus] = mapped_column(_enum(KeyStatus))
    custodial: Mapped[bool] = mapped_column(Boolean)
    # AES-256-GCM under the master key; only for custodial keys.
    sealed_private_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    registered_index: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    compromised_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    replaced_by: Mapped[str | None] = mapped_column(String(64))


class ServerKey(Base):
    """The registry's own keys: ``registry`` attests key bindings, ``log`` signs checkpoints."""

    __tablename__ = "server_keys"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    sealed_private_key: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Product(Base):
    """A product an organization makes, optionally with a GTIN (GS1 General Specifications)."""

    __tablename__ = "products"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"), index=True)
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(64))
    gtin: Mapped[str | None] = mapped_column(String(14), unique=True)
    standard_ref: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Batch(Base):
    """A lot, as created by a harvest or processing record (a projection of the log)."""

    __tablename__ = "batches"
    __table_args__ = (UniqueConstraint("product_id", "lot"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    product_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("products.id"))
    lot: Mapped[str] = mapped_column(String(20))
    quantity: Mapped[str] = mapped_column(String(40))
    remaining: Mapped[str] = mapped_column(String(40))
    unit: Mapped[str] = mapped_column(String(16))
    origin_org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"), index=True)
    region_code: Mapped[str] = mapped_column(String(6))
    lat: Mapped[str | None] = mapped_column(String(16))
    lon: Mapped[str | None] = mapped_column(String(16))
    harvest_date: Mapped[date | None] = mapped_column(Date)
    best_before: Mapped[date | None] = mapped_column(Date)
    created_index: Mapped[int] = mapped_column(BigInteger)
    # Digest of the newest record in this batch's chain (what the next record's prev must be).
    head_digest: Mapped[str] = mapped_column(String(64))
    # Digest of the recall record that reached this batch (its own or an ancestor's).
    recall_digest: Mapped[str | None] = mapped_column(String(64))
    # Custody (docs/records.md, "Custody"), moved by policy.custody_after record by record:
    # who holds the batch, the carriers handed it since it was last received, where the
    # latest shipping sends it, and the labs its holder asked to inspect it (organization ids
    # as strings, a JSON list: read with the row, so ingestion needs no extra query). They
    # are facts of signed records, not references: a shipping may name an organization id
    # the registry does not know, so there is no foreign key; and SQLite cannot add a NOT
    # NULL column to a table others reference, so the holder is nullable (ingestion always
    # sets it, and migration 0009 filled it in).
    holder_org_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    carrier_org_ids: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    destination_org_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    lab_org_ids: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")


class Record(Base):
    """One signed record: a DSSE envelope stored byte-exact, and its log leaf."""

    __tablename__ = "records"

    log_index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    digest: Mapped[str] = mapped_column(String(64), unique=True)  # hex SHA-256 of payload
    kind: Mapped[str] = mapped_column(String(32), index=True)
    payload_type: Mapped[str] = mapped_column(String(100))
    # Nullable so a payload holding personal data can be erased: the leaf keeps its hash.
    payload: Mapped[bytes | None] = mapped_column(LargeBinary)
    signatures: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    leaf: Mapped[bytes] = mapped_column(LargeBinary)
    organization_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organizations.id"), index=True
    )
    record_time: Mapped[datetime] = mapped_column(UTCDateTime())
    logged_at: Mapped[datetime] = mapped_column(UTCDateTime())
    corrects: Mapped[str | None] = mapped_column(String(64))


class RecordBatch(Base):
    """Which batches a record touches, and the per-batch hash chain link."""

    __tablename__ = "record_batches"
    __table_args__ = (Index("ix_record_batches_batch_record", "batch_id", "record_index"),)

    record_index: Mapped[int] = mapped_column(
        ForeignKey("records.log_index"), primary_key=True, autoincrement=False
    )
    batch_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("batches.id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))  # subject, input, output
    prev_digest: Mapped[str | None] = mapped_column(String(64))

    # Declared so the unit of work inserts records and batches first when a whole
    # submission is flushed at once; never loaded implicitly.
    record: Mapped[Record] = relationship(lazy="raise")
    batch: Mapped[Batch] = relationship(lazy="raise")


class BatchInput(Base):
    """Lineage edge: a processing record consumed ``quantity`` of input into output."""

    __tablename__ = "batch_inputs"
    __table_args__ = (
        Index("ix_batch_inputs_input_output", "input_batch_id", "output_batch_id"),
        Index("ix_batch_inputs_output_input", "output_batch_id", "input_batch_id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    input_batch_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("batches.id"))
    output_batch_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("batches.id"))
    record_index: Mapped[int] = mapped_column(ForeignKey("records.log_index"))
    quantity: Mapped[str] = mapped_column(String(40))

    record: Mapped[Record] = relationship(lazy="raise")
    input_batch: Mapped[Batch] = relationship(foreign_keys=[input_batch_id], lazy="raise")
    output_batch: Mapped[Batch] = relationship(foreign_keys=[output_batch_id], lazy="raise")


class LogNode(Base):
    """Hash of the complete, aligned subtree covering leaves [idx*2^level, (idx+1)*2^level)."""

    __tablename__ = "log_nodes"

    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class LogState(Base):
    """Single row whose lock serializes appends: indices stay contiguous across workers.

    ``origin`` is the log's name (the c2sp.org/tlog-checkpoint origin line and the log key's
    note name), fixed when the log is created: deployment settings never change it, only an
    explicit, logged rename (docs/audit.md, "The log's identity")."""

    __tablename__ = "log_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    size: Mapped[int] = mapped_column(BigInteger)
    origin: Mapped[str | None] = mapped_column(Text, nullable=True)


class StatusIndexEntry(Base):
    """A key of the status index and its current value (docs/records.md, "The status
    index"): what the next appending transaction updates."""

    __tablename__ = "status_index_entries"

    key_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    key: Mapped[str] = mapped_column(Text)
    value: Mapped[str] = mapped_column(Text)  # RFC 8785 JSON, the bytes the leaf hashes


class StatusIndexNode(Base):
    """A subtree of the status index as of the ``status_index`` record at log index
    ``size``: its hash, and for a subtree holding one key that key and its value. Rows are
    only added, one per subtree a transaction changed, so a proof can be built against any
    committed root (the newest row at or below a size is the subtree then)."""

    __tablename__ = "status_index_nodes"

    depth: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    prefix: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    leaf_key: Mapped[str | None] = mapped_column(Text, nullable=True)
    leaf_value: Mapped[str | None] = mapped_column(Text, nullable=True)


class Checkpoint(Base):
    """A signed c2sp.org/tlog-checkpoint note of the log at tree size ``size``."""

    __tablename__ = "checkpoints"

    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class IdempotencyKey(Base):
    """A POST retried with the same Idempotency-Key returns the first response."""

    __tablename__ = "idempotency_keys"

    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_sha256: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[Any] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CheckpointCosignature(Base):
    """A witness's c2sp.org/tlog-cosignature line on a checkpoint, verified before storing.

    Keyed by checkpoint size and witness key name: one cosignature per witness per tree
    head is all a client needs, so a later re-cosignature of the same size is not stored.
    """

    __tablename__ = "checkpoint_cosignatures"
    __table_args__ = (Index("ix_checkpoint_cosignatures_witness_size", "witness", "size"),)

    size: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("checkpoints.size"), primary_key=True, autoincrement=False
    )
    witness: Mapped[str] = mapped_column(String(200), primary_key=True)
    line: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RequestStatus(StrEnum):
    """Where an endorsement request stands in an official's review."""

    PENDING = "pending"  # waiting for an official
    PARTIALLY_APPROVED = "partially_approved"  # signed by fewer officials than required
    APPROVED = "approved"
    REJECTED = "rejected"


class EndorsementRequest(Base):
    """A cooperative's request for an endorsement of batches for a livestream."""

    __tablename__ = "endorsement_requests"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"), index=True)
    authority_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"), index=True)
    requested_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id"))
    product_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("products.id"))
    batch_ids: Mapped[list[str]] = mapped_column(JSON)
    official_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id"))
    stream: Mapped[dict[str, Any]] = mapped_column(JSON)
    claims: Mapped[list[str]] = mapped_column(JSON)
    quantity: Mapped[str] = mapped_column(String(40))
    unit: Mapped[str] = mapped_column(String(16))
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime())
    valid_until: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[RequestStatus] = mapped_column(_enum(RequestStatus), index=True)
    code: Mapped[str | None] = mapped_column(String(12), unique=True)
    # The envelope being signed, while it has fewer signatures than required (JSON).
    pending_envelope: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    decided_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("accounts.id"))
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Endorsement(Base):
    """Projection of an endorsement record, with what its status depends on."""

    __tablename__ = "endorsements"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    record_index: Mapped[int] = mapped_column(ForeignKey("records.log_index"), unique=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    request_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("endorsement_requests.id"))
    authority_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"), index=True)
    product_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("products.id"))
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime())
    valid_until: Mapped[datetime] = mapped_column(UTCDateTime())
    revocation_index: Mapped[int | None] = mapped_column(BigInteger)
    revocation_reason: Mapped[str | None] = mapped_column(Text)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class EndorsementSigner(Base):
    """An official (account and key) who signed an endorsement: a threshold counts people."""

    __tablename__ = "endorsement_signers"

    endorsement_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("endorsements.id"), primary_key=True
    )
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(64))


class EndorsementBatch(Base):
    """A batch an endorsement covers; a recall of any of them makes it ``recalled``."""

    __tablename__ = "endorsement_batches"

    endorsement_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("endorsements.id"), primary_key=True
    )
    batch_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("batches.id"), primary_key=True, index=True
    )


class ScanCount(Base):
    """Verifications per endorsement per hour. No IP address or viewer id is stored."""

    __tablename__ = "scan_counts"

    endorsement_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("endorsements.id"), primary_key=True
    )
    hour: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger)


class LoginSession(Base):
    """A browser's login to the back office (``/office``).

    The cookie holds a 256-bit random token; only its SHA-256 is stored, so a database
    leak cannot be replayed as a login. Ended by logout, a password change or expiry.
    """

    __tablename__ = "login_sessions"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AccountInvite(Base):
    """A one-time link an administrator hands to a new (or locked-out) account holder, who
    sets a password with it. Only the SHA-256 of the link's token is stored."""

    __tablename__ = "account_invites"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class WebhookSubscription(Base):
    """An organization's webhook: events are POSTed to ``url``, signed with HMAC-SHA256.

    The secret is shown once, at creation; at rest it is sealed with AES-256-GCM under the
    master key, bound to the subscription id (``registry.notifications.signing``).
    """

    __tablename__ = "webhook_subscriptions"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[list[str]] = mapped_column(JSON)
    sealed_secret: Mapped[bytes] = mapped_column(LargeBinary)
    secret_prefix: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Deleted subscriptions stay (their delivery log references them) but get no events.
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class WebhookDelivery(Base):
    """One event for one subscription: the outbox row, written in the event's transaction,
    and the state of its delivery (retried with exponential backoff)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("subscription_id", "event", "event_id"),
        Index("ix_webhook_deliveries_status_due", "status", "next_attempt_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    subscription_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhook_subscriptions.id"))
    event: Mapped[str] = mapped_column(String(32))
    # What the event is about, e.g. the recall record's digest (one delivery per event).
    event_id: Mapped[str] = mapped_column(String(64))
    # The exact bytes POSTed (and HMAC-signed) on every attempt.
    body: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16))  # pending, delivered, failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # A worker's claim on the delivery while its request is in flight.
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class WebhookAttempt(Base):
    """The delivery log: one row per HTTP attempt."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (UniqueConstraint("delivery_id", "number"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    delivery_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhook_deliveries.id"))
    number: Mapped[int] = mapped_column(Integer)
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int] = mapped_column(Integer)


class ReportCategory(StrEnum):
    """What a viewer's problem report is about."""

    NOT_AS_DESCRIBED = "not_as_described"
    QUALITY_PROBLEM = "quality_problem"
    SUSPECTED_COUNTERFEIT = "suspected_counterfeit"
    OTHER = "other"


class ProblemReport(Base):
    """A viewer's report of a problem with an endorsed product ("report a problem").

    Anonymous: no account, and no IP address (rate limiting hashes it in memory only). The
    contact is whatever the viewer chose to leave. Visible to the cooperative that asked for
    the endorsement, the endorsing authority's members, and admins."""

    __tablename__ = "problem_reports"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    endorsement_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("endorsements.id"), index=True)
    # Copied from the endorsement (and its request) so visibility is one indexed filter.
    organization_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organizations.id"), index=True
    )
    authority_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"), index=True)
    category: Mapped[ReportCategory] = mapped_column(_enum(ReportCategory))
    text: Mapped[str] = mapped_column(Text)
    contact: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class ReportBundle(Base):
    """The guarantee bundle a viewer's phone attached to a problem report: what the phone
    verified, as the compact JSON of ``GET /e/{code}/bundle.json`` (docs/verification.md),
    checked by ``registry verify-bundle`` on receipt and by whoever downloads it. Kept apart
    from the report so listing reports never reads bundles."""

    __tablename__ = "report_bundles"

    report_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("problem_reports.id"), primary_key=True)
    bundle: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(Integer)
    checkpoint_size: Mapped[int] = mapped_column(BigInteger)


class ComplaintAnswer(Base):
    """An answer to a viewer's problem report, written in the back office by the cooperative
    that asked for the endorsement or by the endorsing authority. The reporter is anonymous:
    the answer is the organization's record of what it did (and counts on report cards)."""

    __tablename__ = "complaint_answers"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    report_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("problem_reports.id"), index=True)
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id"))
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CapturedEvent(Base):
    """An EPCIS event captured as a record: by its CBV 2.0 event hash and its eventID, so
    the same event captured again is answered with the record it became, not logged twice
    (docs/epcis.md, "Duplicate capture")."""

    __tablename__ = "captured_events"

    event_hash: Mapped[str] = mapped_column(String(100), primary_key=True)
    event_id: Mapped[str | None] = mapped_column(String(500), unique=True)
    record_index: Mapped[int] = mapped_column(ForeignKey("records.log_index"), index=True)
    captured_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CaptureJobState(StrEnum):
    """Where a capture job is (EPCIS 2.0 §12.3 capture interface)."""

    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class CaptureJob(Base):
    """One ``POST /api/v1/epcis/capture``: its state and report, read at
    ``GET /api/v1/epcis/capture/{captureID}`` by the account's organization."""

    __tablename__ = "capture_jobs"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"), index=True)
    state: Mapped[CaptureJobState] = mapped_column(_enum(CaptureJobState), index=True)
    error_behaviour: Mapped[str] = mapped_column(String(16))
    event_count: Mapped[int] = mapped_column(Integer)
    report: Mapped[Any] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # An asynchronous job (``Prefer: respond-async``) keeps the document it was given and
    # the account that gave it until a worker has run it (registry.exports.epcis.capture_jobs):
    # a restart does not lose it. Emptied once the job is done or failed; the report stays.
    account_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("accounts.id"))
    document: Mapped[Any | None] = mapped_column(JSON(none_as_null=True))
    # How many times a worker has started running it, each counted in a transaction of its
    # own before the run: a run that ends its process still counts, and a job that never
    # finishes is failed after REGISTRY_CAPTURE_MAX_ATTEMPTS (capture_jobs.start_attempt).
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
