"""The record format (v1): what a signed record may say, kind by kind.

A record is the JSON object whose RFC 8785 bytes are a DSSE payload of type
``RECORD_PAYLOAD_TYPE``. Every record has ``kind`` and ``time`` (RFC 3339 with offset).
Supply-chain records also name the signing organization (``org``), the batches they touch
(``batches``: ``"<product id>:<lot>"``) and, for each, the digest of that batch's previous
record (``prev``; null when the record creates the batch) — the per-batch hash chain.
Quantities and measurements are decimal strings (docs/records.md); integers stay within
±(2^53 − 1). The field types are in ``registry.records.fields``.

EPCIS 2.0 / CBV mapping (used by the exporter): harvest → ObjectEvent ADD ``commissioning``;
processing → TransformationEvent; packing → ``packing``; inspection → ``inspecting``;
certificate → certificationInfo; storage → ``holding``/``sensor_reporting``; shipping →
``shipping``; receiving → ``receiving``; recall → disposition ``recalled``; assignment →
ObjectEvent OBSERVE with no bizStep of its own (a custody hand-over, see docs/records.md).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from registry.crypto.jcs import canonicalize
from registry.errors import InvalidInput
from registry.records.fields import (
    BatchRef,
    DateStr,
    Digest,
    KeyId,
    Measure,
    Phone,
    Quantity,
    ShortText,
    StrictModel,
    Text,
    Timestamp,
    Unit,
    Uuid,
    control_character,
)
from registry.records.parts import (
    Consumed,
    EpcisSource,
    EpcisText,
    EventFields,
    Holder,
    Host,
    OrgInfo,
    Package,
    Party,
    Place,
    PreconditionResult,
    Produced,
    PublicKey,
    Reading,
    SensorElement,
)

RECORD_PAYLOAD_TYPE = "application/vnd.guarantee-registry.record.v1+json"
"""The DSSE ``payloadType`` of every record (docs/records.md, "Bytes that get signed")."""


class Kind(StrEnum):
    """The record kinds of format v1 (docs/records.md, "Kinds and who signs them")."""

    HARVEST = "harvest"
    PROCESSING = "processing"
    PACKING = "packing"
    INSPECTION = "inspection"
    CERTIFICATE = "certificate"
    STORAGE = "storage"
    SHIPPING = "shipping"
    RECEIVING = "receiving"
    RECALL = "recall"
    ASSIGNMENT = "assignment"
    AGGREGATION = "aggregation"
    ASSOCIATION = "association"
    TRANSACTION = "transaction"
    OBSERVATION = "observation"
    CORRECTION = "correction"
    KEY_REGISTRATION = "key_registration"
    KEY_ROTATION = "key_rotation"
    KEY_REVOCATION = "key_revocation"
    ENDORSEMENT = "endorsement"
    ENDORSEMENT_REVOCATION = "endorsement_revocation"
    LOG_RENAME = "log_rename"
    WITNESS_POLICY = "witness_policy"
    SCRIPT_RELEASE = "script_release"
    STATUS_INDEX = "status_index"


KEY_KINDS = frozenset({Kind.KEY_REGISTRATION, Kind.KEY_ROTATION, Kind.KEY_REVOCATION})
"""The kinds that register, rotate or revoke a signing key (made through the keys API)."""

REGISTRY_KINDS = KEY_KINDS | {
    Kind.LOG_RENAME,
    Kind.WITNESS_POLICY,
    Kind.SCRIPT_RELEASE,
    Kind.STATUS_INDEX,
}
"""The kinds only the registry key signs: key records and statements about the log itself
(its name, its witness policy, the releases of the scripts its consumer page runs, the root
of its status index)."""


class _Base(StrictModel):
    kind: Kind
    time: Timestamp
    note: Text | None = None


class _SupplyChain(_Base):
    org: Uuid
    batches: list[BatchRef] = Field(min_length=1, max_length=100)
    prev: dict[BatchRef, Digest | None]
    place: Place | None = None
    # Set when the record was captured from an EPCIS event (docs/epcis.md).
    epcis: EpcisSource | None = None
    # EPCIS 2.0 sensor data, whole (docs/epcis.md, "Sensor data").
    sensors: list[SensorElement] | None = Field(default=None, min_length=1, max_length=100)
    # Instance-level identifiers (SGTIN … as EPC URIs or Digital Link URIs) of the batches.
    items: list[EpcisText] | None = Field(default=None, min_length=1, max_length=1000)
    # The captured EPCIS event's what, where and why, whole, so it exports back as the event
    # captured (docs/epcis.md, "Kept whole"); the kinds that are such an event require it.
    event: EventFields | None = None

    @model_validator(mode="after")
    def _chain_covers_batches(self) -> _SupplyChain:
        if len(set(self.batches)) != len(self.batches):
            raise ValueError("batches must not repeat")
        if set(self.prev) != set(self.batches):
            raise ValueError("prev must have exactly one entry per batch in batches")
        return self


class Harvest(_SupplyChain):
    """Origin of a batch: creates it (the 'commissioning' of EPCIS)."""

    kind: Literal[Kind.HARVEST]
    quantity: Quantity
    unit: Unit
    harvest_date: DateStr
    best_before: DateStr | None = None
    place: Place

    @model_validator(mode="after")
    def _one_new_batch(self) -> Harvest:
        if len(self.batches) != 1 or self.prev[self.batches[0]] is not None:
            raise ValueError("a harvest creates exactly one batch (prev null)")
        return self

    @model_validator(mode="after")
    def _harvested_before_recorded(self) -> Harvest:
        # A harvest is recorded once it happened; a day's slack for a date written in another
        # time zone than the record's time.
        recorded = datetime.fromisoformat(self.time).date()
        if date.fromisoformat(self.harvest_date) > recorded + timedelta(days=1):
            raise ValueError(
                f"harvest_date {self.harvest_date} is after the record's time ({recorded}): "
                "a harvest is recorded once it has happened"
            )
        return self


class Processing(_SupplyChain):
    """Transformation: consumes quantities of input batches, creates output batches."""

    kind: Literal[Kind.PROCESSING]
    inputs: list[Consumed] = Field(min_length=1, max_length=50)
    outputs: list[Produced] = Field(min_length=1, max_length=50)
    process: ShortText | None = None
    # Instance-level inputs and outputs (EPCIS 2.0 inputEPCList, outputEPCList), each an
    # instance of one of the input or output batches.
    input_items: list[EpcisText] | None = Field(default=None, min_length=1, max_length=1000)
    output_items: list[EpcisText] | None = Field(default=None, min_length=1, max_length=1000)

    @model_validator(mode="after")
    def _batches_are_inputs_and_outputs(self) -> Processing:
        ins = [i.batch for i in self.inputs]
        outs = [o.batch for o in self.outputs]
        if set(ins) & set(outs) or len(set(ins)) != len(ins) or len(set(outs)) != len(outs):
            raise ValueError("inputs and outputs must be distinct batches")
        if sorted(self.batches) != sorted(ins + outs):
            raise ValueError("batches must list exactly the input and output batches")
        if any(self.prev[o] is not None for o in outs):
            raise ValueError("outputs are created by this record: their prev must be null")
        return self


class Packing(_SupplyChain):
    """Packing of a batch (CBV ``packing``), signed by its producer."""

    kind: Literal[Kind.PACKING]
    package: Package
    packaging: ShortText | None = None


class Verdict(StrEnum):
    """A lab verdict, per substance and overall."""

    PASS = "pass"  # noqa: S105 - a verdict, not a password
    FAIL = "fail"


# Strict mode wants enum instances; records arrive as JSON strings, so enums are lax.
LooseVerdict = Annotated[Verdict, Field(strict=False)]
"""A verdict read from JSON text (strict mode would want the enum instance)."""


class SubstanceResult(StrictModel):
    """One tested substance: measured value, limit, unit, method standard, verdict."""

    substance: ShortText
    value: Measure
    limit: Measure
    unit: Unit
    method: ShortText  # method standard, e.g. GB 23200.113-2018
    verdict: LooseVerdict


class Inspection(_SupplyChain):
    """A lab inspection report (CBV ``inspecting``); fails if any substance failed."""

    kind: Literal[Kind.INSPECTION]
    report_number: ShortText
    results: list[SubstanceResult] = Field(min_length=1, max_length=200)
    verdict: LooseVerdict
    sampled_on: DateStr | None = None

    @model_validator(mode="after")
    def _overall_verdict(self) -> Inspection:
        failed = any(r.verdict is Verdict.FAIL for r in self.results)
        if failed and self.verdict is Verdict.PASS:
            raise ValueError("verdict cannot be pass when a substance failed")
        return self


class CertificateBasis(StrEnum):
    """What a 合格证 promise rests on (农产品质量安全承诺达标合格证管理办法, 2026, 第十四条):
    commissioned test, self test, internal quality control, or the producer's own promise."""

    SELF_TEST = "self_test"
    COMMISSIONED_TEST = "commissioned_test"
    QUALITY_CONTROL = "quality_control"
    SELF_COMMITMENT = "self_commitment"


class Certificate(_SupplyChain):
    """承诺达标合格证: the producer's promise that the batch meets the standards."""

    kind: Literal[Kind.CERTIFICATE]
    certificate_number: ShortText
    promise: Text
    basis: list[Annotated[CertificateBasis, Field(strict=False)]] = Field(
        min_length=1, max_length=4
    )
    quantity: Quantity | None = None
    unit: Unit | None = None
    # The producer's phone as printed on the certificate (the 2026 rules require a contact);
    # optional, so certificates signed before it existed still verify.
    contact_phone: Phone | None = None


class Storage(_SupplyChain):
    """Storage of a batch (CBV ``holding`` / ``sensor_reporting``) with its readings."""

    kind: Literal[Kind.STORAGE]
    location: ShortText
    readings: list[Reading] = Field(default_factory=list, max_length=1000)


class Shipping(_SupplyChain):
    """A batch leaving for a destination (CBV ``shipping``), signed by the carrier."""

    kind: Literal[Kind.SHIPPING]
    to: Party
    quantity: Quantity | None = None
    unit: Unit | None = None
    vehicle: ShortText | None = None
    waybill: ShortText | None = None


class Receiving(_SupplyChain):
    """A batch arriving from a source (CBV ``receiving``)."""

    kind: Literal[Kind.RECEIVING]
    source: Party
    quantity: Quantity | None = None
    unit: Unit | None = None
    waybill: ShortText | None = None


class Task(StrEnum):
    """What the holder of a batch hands it to another organization for."""

    CARRIAGE = "carriage"  # 运输: a carrier may ship and store it
    INSPECTION = "inspection"  # 检测/抽样: a lab may sign an inspection of it


class Assignment(_SupplyChain):
    """委托: the batch's current holder hands it to a registry organization for a task (a
    carrier for carriage, a lab for inspection). Custody rules in docs/records.md."""

    kind: Literal[Kind.ASSIGNMENT]
    to: Party
    task: Annotated[Task, Field(strict=False)]

    @model_validator(mode="after")
    def _names_an_organization(self) -> Assignment:
        if self.to.org is None:
            raise ValueError("to.org is required: an assignment names a registry organization")
        return self


class Aggregation(_SupplyChain):
    """Packing into cases and pallets (EPCIS 2.0 AggregationEvent): goods of the batches put
    into (ADD), seen in (OBSERVE) or taken out of (DELETE) a logistic unit, ``event.parent``
    (an SSCC, a GRAI …). Signed like storage: the producer, the holder, a carrier."""

    kind: Literal[Kind.AGGREGATION]
    event: EventFields

    @model_validator(mode="after")
    def _has_action(self) -> Aggregation:
        if self.event.action is None:
            raise ValueError("event.action is required (ADD, OBSERVE or DELETE)")
        if self.event.action != "OBSERVE" and self.event.parent is None:
            raise ValueError("event.parent is required when goods are added or removed")
        return self


class Association(_SupplyChain):
    """Sensor association (EPCIS 2.0 AssociationEvent): a device or asset (``event.parent``,
    e.g. a GIAI data logger) associated with (ADD), seen with or taken from the batches'
    goods. Signed like storage."""

    kind: Literal[Kind.ASSOCIATION]
    event: EventFields

    @model_validator(mode="after")
    def _has_parent(self) -> Association:
        if self.event.action is None or self.event.parent is None:
            raise ValueError("event.action and event.parent are required")
        return self


class Transaction(_SupplyChain):
    """A transaction reference (EPCIS 2.0 TransactionEvent): the batches' goods tied to, or
    released from, business transactions (a purchase order, an invoice …). Signed like
    storage."""

    kind: Literal[Kind.TRANSACTION]
    event: EventFields

    @model_validator(mode="after")
    def _has_transactions(self) -> Transaction:
        if self.event.action is None or not self.event.biz_transactions:
            raise ValueError("event.action and event.biz_transactions are required")
        return self


class Observation(_SupplyChain):
    """Any other EPCIS 2.0 ObjectEvent (a CBV 2.0 bizStep the registry has no kind for:
    arriving, departing, destroying …), kept whole in ``event``. Signed like storage."""

    kind: Literal[Kind.OBSERVATION]
    event: EventFields

    @model_validator(mode="after")
    def _has_action(self) -> Observation:
        if self.event.action is None:
            raise ValueError("event.action is required (ADD, OBSERVE or DELETE)")
        return self


class Recall(_SupplyChain):
    """Reaches every descendant of the batches named (through processing records)."""

    kind: Literal[Kind.RECALL]
    reason: Text
    scope: Literal["batch_and_descendants"] = "batch_and_descendants"


class Correction(_SupplyChain):
    """Nothing is edited: a correction references the wrong record and says why."""

    kind: Literal[Kind.CORRECTION]
    corrects: Digest
    reason: Text
    corrected: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _corrected_is_plain_text(self) -> Correction:
        found = _first_control_character(self.corrected, "corrected")
        if found is not None:
            raise ValueError(f"{found[0]} contains the control character {found[1]}")
        return self


def _first_control_character(value: Any, path: str) -> tuple[str, str] | None:
    """Where in a free JSON value a string (or key) holds a control character, and which."""
    if isinstance(value, str):
        character = control_character(value)
        return (path, character) if character else None
    found: tuple[str, str] | None = None
    if isinstance(value, dict):
        for key, item in value.items():
            found = _first_control_character(key, path) or _first_control_character(
                item, f"{path}.{key}"
            )
            if found:
                return found
    if isinstance(value, list):
        for i, item in enumerate(value):
            found = _first_control_character(item, f"{path}.{i}")
            if found:
                return found
    return None


class KeyRegistration(_Base):
    """Binds a key to a holder and organization. Signed by the registry key (attesting the
    binding) and by the new key itself (proof of possession)."""

    kind: Literal[Kind.KEY_REGISTRATION]
    key: PublicKey
    holder: Holder
    organization: OrgInfo


class KeyRotation(_Base):
    """Replaces an active key by a new one (signed by the registry and the new key)."""

    kind: Literal[Kind.KEY_ROTATION]
    old_key: KeyId
    key: PublicKey


class KeyRevocation(_Base):
    """Revokes a key, optionally from when it was compromised (signed by the registry)."""

    kind: Literal[Kind.KEY_REVOCATION]
    key_id: KeyId
    reason: Text
    compromised_since: Timestamp | None = None


class Claim(StrEnum):
    """What an endorsement vouches for (docs/records.md, "Endorsements")."""

    ORIGIN_VERIFIED = "origin_verified"  # 产地核验
    LAB_TESTED = "lab_tested"  # 检测合格
    CERTIFIED = "certified"  # 承诺达标合格证
    COLD_CHAIN = "cold_chain"  # 全程冷链
    PERSONALLY_VOUCHED = "personally_vouched"  # 本人担保


class Platform(StrEnum):
    """The livestream platform an endorsement is given on."""

    TAOBAO_LIVE = "taobao_live"
    PINDUODUO = "pinduoduo"
    DOUYIN = "douyin"
    KUAISHOU = "kuaishou"
    WECHAT_CHANNELS = "wechat_channels"
    OTHER = "other"


class Stream(StrictModel):
    """The livestream an endorsement is given on: platform, room, title, times, hosts."""

    platform: Annotated[Platform, Field(strict=False)]
    room: Annotated[str, StringConstraints(min_length=1, max_length=300)]  # room id or URL
    title: Text
    start: Timestamp
    end: Timestamp
    hosts: list[Host] = Field(min_length=1, max_length=10)

    @model_validator(mode="after")
    def _ordered(self) -> Stream:
        if datetime.fromisoformat(self.end) <= datetime.fromisoformat(self.start):
            raise ValueError("the stream must end after it starts")
        return self


class Endorsement(_Base):
    """An official's guarantee: names exactly what it covers (docs/records.md,
    "Endorsements"). ``evidence``
    pins each covered batch's chain head as reviewed; ``threshold`` officials of the
    authority sign the same envelope."""

    kind: Literal[Kind.ENDORSEMENT]
    org: Uuid
    code: Annotated[str, StringConstraints(pattern=r"^[0-9A-HJKMNP-TV-Z]{8,10}$")]
    request: Uuid
    product: Uuid
    covers: list[BatchRef] = Field(min_length=1, max_length=20)
    evidence: dict[BatchRef, Digest]
    claims: list[Annotated[Claim, Field(strict=False)]] = Field(min_length=1, max_length=5)
    stream: Stream
    valid_from: Timestamp
    valid_until: Timestamp
    quantity: Quantity
    unit: Unit
    threshold: Annotated[int, Field(ge=1, le=3)] = 1
    preconditions: list[PreconditionResult] = Field(min_length=1, max_length=20)

    @model_validator(mode="after")
    def _consistent(self) -> Endorsement:
        if set(self.evidence) != set(self.covers) or len(set(self.covers)) != len(self.covers):
            raise ValueError("evidence must pin exactly one chain head per covered batch")
        if datetime.fromisoformat(self.valid_until) <= datetime.fromisoformat(self.valid_from):
            raise ValueError("valid_until must be after valid_from")
        if len(set(self.claims)) != len(self.claims):
            raise ValueError("claims must not repeat")
        return self


class EndorsementRevocation(_Base):
    """Withdraws an endorsement, by an official of the endorsing authority."""

    kind: Literal[Kind.ENDORSEMENT_REVOCATION]
    org: Uuid
    endorsement: Digest
    code: Annotated[str, StringConstraints(pattern=r"^[0-9A-HJKMNP-TV-Z]{8,10}$")]
    reason: Text


LogName = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\s+]+$")]
"""A log's origin (c2sp.org/tlog-checkpoint) that is also a valid note key name: no spaces,
no "+"."""


class LogRename(_Base):
    """The log takes a new name (docs/records.md, "The log's identity"): ``registry log
    rename``, signed by the registry key, logged under the old name; every checkpoint after it
    carries ``new_origin`` and is signed by the same log key under that name."""

    kind: Literal[Kind.LOG_RENAME]
    old_origin: LogName
    new_origin: LogName
    reason: Text


PolicyText = Annotated[str, StringConstraints(min_length=1, max_length=16384)]
"""A c2sp.org/tlog-policy text (checked by ``registry.log.policy_text.parse_policy``)."""


class WitnessPolicy(_Base):
    """The witness policy in force from this record on (docs/verification.md): which witness
    keys count and how many must cosign, as c2sp.org/tlog-policy text, and how old a
    cosignature may be for a viewer's phone to call the checkpoint recently witnessed.
    Signed by the registry key; a change of policy is a new record."""

    kind: Literal[Kind.WITNESS_POLICY]
    policy: PolicyText
    max_age_seconds: int = Field(ge=60, le=31_536_000)


ScriptName = Annotated[
    str, StringConstraints(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._-]+\.js$")
]
"""A script's file name under ``/static/`` (no directories)."""
Sha256Hex = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class ScriptRelease(_Base):
    """A release of a script the consumer page runs (docs/verification.md): the SHA-256 of
    the exact bytes served at ``/static/<name>``. Signed by the registry key, appended at
    start-up when the script on disk is not a logged release; auditors refuse a page whose
    script is not one."""

    kind: Literal[Kind.SCRIPT_RELEASE]
    name: ScriptName
    sha256: Sha256Hex
    size: int = Field(ge=0, le=2**31)


class StatusIndex(_Base):
    """The root of the status index over every entry before this one (docs/records.md,
    "The status index"): appended by the registry as the last entry of every transaction
    that appends, so every checkpoint ends with one. ``size`` is the record's own log
    index; ``keys`` how many keys the index holds."""

    kind: Literal[Kind.STATUS_INDEX]
    size: int = Field(ge=0, le=2**62)
    root: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9+/]{43}=$")]
    keys: int = Field(ge=0, le=2**62)


AnyRecord = Annotated[
    Harvest
    | Processing
    | Packing
    | Inspection
    | Certificate
    | Storage
    | Shipping
    | Receiving
    | Recall
    | Assignment
    | Aggregation
    | Association
    | Transaction
    | Observation
    | Correction
    | KeyRegistration
    | KeyRotation
    | KeyRevocation
    | Endorsement
    | EndorsementRevocation
    | LogRename
    | WitnessPolicy
    | ScriptRelease
    | StatusIndex,
    Field(discriminator="kind"),
]
"""Any record of format v1, told apart by its ``kind``."""

_ADAPTER: TypeAdapter[Any] = TypeAdapter(AnyRecord)


def parse_record(document: object) -> Any:
    """Validate a decoded record; raise InvalidInput listing every problem with its path."""
    if not isinstance(document, dict) or "kind" not in document:
        raise InvalidInput("a record must be a JSON object with a 'kind'")
    if document["kind"] not in Kind.__members__.values():
        raise InvalidInput(
            f"unknown record kind {document['kind']!r}",
            errors=[{"path": "kind", "message": f"one of {', '.join(k.value for k in Kind)}"}],
        )
    try:
        return _ADAPTER.validate_python(document)
    except ValidationError as exc:
        errors = [_error_entry(e) for e in exc.errors(include_url=False)]
        summary = "; ".join(f"{e['path']}: {e['message']}" for e in errors[:5])
        raise InvalidInput(f"invalid {document['kind']} record: {summary}", errors=errors) from None


def _error_entry(error: Any) -> dict[str, str]:
    loc = [str(p) for p in error["loc"]]
    # Drop the discriminator tag pydantic puts first.
    if loc and loc[0] in Kind.__members__.values():
        loc = loc[1:]
    return {"path": ".".join(loc) or "(record)", "message": str(error["msg"])}


def split_batch_ref(ref: str) -> tuple[uuid.UUID, str]:
    """The product id and lot of a ``"<product id>:<lot>"`` batch reference."""
    product, _, lot = ref.partition(":")
    return uuid.UUID(product), lot


def batch_ref(product_id: uuid.UUID, lot: str) -> str:
    """The ``"<product id>:<lot>"`` reference records use for a batch."""
    return f"{product_id}:{lot}"


def leaf_bytes(
    kind: str,
    payload_type: str,
    payload_sha256: str,
    signatures: list[dict[str, str]],
    logged_at: str,
) -> bytes:
    """The log leaf of a record (RFC 8785 JSON).

    It commits to the payload's SHA-256 rather than the payload, so a payload holding
    personal data can be erased later without breaking the log; and to the signatures, so a
    signature cannot be swapped. ``logged_at`` is the registry's time of appending.
    """
    return canonicalize(
        {
            "kind": kind,
            "logged_at": logged_at,
            "payload_sha256": payload_sha256,
            "payload_type": payload_type,
            "signatures": signatures,
            "v": 1,
        }
    )


def parse_stream(document: object) -> Stream:
    """Validate a livestream description; raise InvalidInput naming each problem."""
    try:
        return Stream.model_validate(document)
    except ValidationError as exc:
        errors = [_error_entry(e) for e in exc.errors(include_url=False)]
        summary = "; ".join(f"stream.{e['path']}: {e['message']}" for e in errors[:5])
        raise InvalidInput(f"invalid stream: {summary}", errors=errors) from None
