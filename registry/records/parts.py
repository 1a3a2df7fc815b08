"""The parts records are made of: places, batch quantities, readings, parties, keys and
their holders, stream hosts, precondition results (docs/records.md).

Each is a strict model (``StrictModel``): unknown fields are refused, nothing is coerced.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StringConstraints

from registry.records.fields import (
    BatchRef,
    DateStr,
    KeyId,
    Measure,
    Quantity,
    RegionCode,
    ShortText,
    StrictModel,
    Text,
    Timestamp,
    Unit,
    Uuid,
    latitude,
    longitude,
)

JCS_MAX_INT = 2**53 - 1
"""The largest integer RFC 8785 keeps exact (an IEEE 754 double's integer range)."""


def _iri(value: str) -> str:
    if any(c.isspace() for c in value) or ":" not in value or value.startswith(":"):
        raise ValueError("must be an absolute IRI (a scheme, no spaces)")
    return value


class Place(StrictModel):
    """Where a step happened: a GB/T 2260 region code, optionally a point and a name."""

    region: RegionCode
    lat: Annotated[str, AfterValidator(latitude)] | None = None
    lon: Annotated[str, AfterValidator(longitude)] | None = None
    name: ShortText | None = None


class Consumed(StrictModel):
    """A processing input: how much of which batch the transformation used. ``counted``:
    the quantity is the number of the batch's instances the record lists (``input_items``),
    which no quantity of its own gave."""

    batch: BatchRef
    quantity: Quantity
    counted: Literal[True] | None = None


class Produced(StrictModel):
    """A processing output: the batch it creates, its quantity and best-before."""

    batch: BatchRef
    quantity: Quantity
    unit: Unit
    best_before: DateStr | None = None
    counted: Literal[True] | None = None  # the number of its instances (``output_items``)


class Package(StrictModel):
    """How a packed batch is packaged: ``count`` packages of ``size`` ``unit`` each."""

    count: Annotated[int, Field(ge=1, le=JCS_MAX_INT)]
    size: Quantity
    unit: Unit


class Reading(StrictModel):
    """One storage sensor reading: temperature (and humidity) at a time."""

    time: Timestamp
    celsius: Measure
    humidity: Measure | None = None


class Party(StrictModel):
    """The other side of a shipment: a registry organization or just a name."""

    org: Uuid | None = None
    name: ShortText
    place: Place | None = None


class PublicKey(StrictModel):
    """An Ed25519 public key as records carry it: key id (SHA-256) and raw base64."""

    id: KeyId
    public_key: Annotated[str, StringConstraints(min_length=40, max_length=64)]  # base64 raw
    algorithm: Literal["ed25519"] = "ed25519"


class Holder(StrictModel):
    """Who holds a registered key: an account (none for the registry key) and its role."""

    account: Uuid | None
    role: Literal["registry", "admin", "clerk", "official"]
    name_zh: ShortText
    name_en: ShortText | None = None
    title_zh: ShortText | None = None
    title_en: ShortText | None = None


class OrgInfo(StrictModel):
    """The facts of a key holder's organization, as the registry key attests them."""

    id: Uuid
    kind: Literal["operator", "cooperative", "processor", "carrier", "lab", "authority"]
    name_zh: ShortText
    name_en: ShortText
    region: RegionCode
    jurisdiction: Annotated[str, StringConstraints(pattern=r"^[1-8][0-9]{1,5}$")] | None = None


class Host(StrictModel):
    """A person on the stream: the endorsing official or the streamer."""

    name: ShortText
    role: Literal["official", "streamer"]
    account: Uuid | None = None
    title: ShortText | None = None


class PreconditionResult(StrictModel):
    """One precondition as evaluated when the endorsement was signed."""

    id: Annotated[str, StringConstraints(pattern=r"^[a-z_]{1,40}$")]
    ok: bool
    detail: Text


EventHash = Annotated[str, StringConstraints(pattern=r"^ni:///sha-256;[0-9a-f]{64}\?ver=CBV2\.0$")]
"""A CBV 2.0 event hash (CBV 2.0 §8.9): ``ni:///sha-256;<hex>?ver=CBV2.0``."""


class EpcisSource(StrictModel):
    """The EPCIS event a record was captured from: its ``eventID`` (if it had one) and its
    CBV 2.0 event hash, so the same event is never logged twice (docs/epcis.md)."""

    event_id: Annotated[str, StringConstraints(min_length=1, max_length=500)] | None = None
    event_hash: EventHash


IriText = Annotated[str, StringConstraints(min_length=1, max_length=500), AfterValidator(_iri)]
"""An IRI or URI (a device, a document, a vocabulary term in full): no spaces, a scheme."""


class SensorMetadata(StrictModel):
    """EPCIS 2.0 §7.3.9 sensorMetadata: when and by which device a sensor element was
    read, where its raw data is, and how it was processed."""

    time: Timestamp | None = None
    start_time: Timestamp | None = None
    end_time: Timestamp | None = None
    device_id: IriText | None = None
    device_metadata: IriText | None = None
    raw_data: IriText | None = None
    data_processing_method: IriText | None = None
    biz_rules: IriText | None = None
    extensions: Extensions | None = None


class SensorReport(StrictModel):
    """EPCIS 2.0 §7.3.9 sensorReport, whole: its type as a full IRI (a gs1:MeasurementType
    is ``https://gs1.org/voc/{term}``), values as decimal strings, and every other field."""

    type: IriText
    exception: IriText | None = None
    device_id: IriText | None = None
    device_metadata: IriText | None = None
    raw_data: IriText | None = None
    data_processing_method: IriText | None = None
    biz_rules: IriText | None = None
    time: Timestamp | None = None
    microorganism: IriText | None = None
    chemical_substance: IriText | None = None
    coordinate_reference_system: IriText | None = None
    value: Measure | None = None
    component: IriText | None = None
    string_value: Text | None = None
    boolean_value: bool | None = None
    hex_binary_value: (
        Annotated[str, StringConstraints(pattern=r"^([0-9A-Fa-f]{2}){1,4096}$")] | None
    ) = None
    uri_value: IriText | None = None
    min_value: Measure | None = None
    max_value: Measure | None = None
    mean_value: Measure | None = None
    s_dev: Measure | None = None
    perc_rank: Measure | None = None
    perc_value: Measure | None = None
    uom: Annotated[str, StringConstraints(min_length=1, max_length=16)] | None = None
    extensions: Extensions | None = None


class SensorElement(StrictModel):
    """One EPCIS 2.0 sensorElement: its metadata and its reports; the user extension fields
    of the element, its metadata and its reports, and the namespaces of the prefixes they
    use."""

    metadata: SensorMetadata | None = None
    reports: list[SensorReport] = Field(min_length=1, max_length=1000)
    extensions: Extensions | None = None
    namespaces: Namespaces | None = None


EpcisText = Annotated[str, StringConstraints(min_length=1, max_length=500, pattern=r"^\S+$")]
"""An EPCIS identifier or vocabulary value as the event wrote it (an EPC URI, a Digital Link
URI, a CBV term or IRI): no spaces."""


class EpcisLink(StrictModel):
    """A bizTransaction, source or destination: its CBV type (optional) and identifier."""

    type: EpcisText | None = None
    id: EpcisText


class ClassQuantity(StrictModel):
    """An EPCIS 2.0 QuantityElement as the event wrote it: the class, quantity and uom."""

    epc_class: EpcisText
    quantity: Measure | None = None
    uom: Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{2,3}$")] | None = None


class PersistentDisposition(StrictModel):
    """EPCIS 2.0 persistentDisposition: the dispositions set and unset by the event."""

    set: list[EpcisText] | None = Field(default=None, max_length=50)
    unset: list[EpcisText] | None = Field(default=None, max_length=50)


ExtensionJson = Annotated[str, StringConstraints(min_length=1, max_length=20000)]
"""A user extension's value as RFC 8785 JSON text."""

Extensions = dict[EpcisText, ExtensionJson]
"""User extension fields (EPCIS 2.0 §6.4) by their name as written (``ex:shelf`` or a full
IRI), each value as its RFC 8785 JSON text so nothing of it is lost."""

Namespaces = dict[Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][\w.-]{0,39}$")], IriText]
"""The namespaces of the prefixes user extension fields use, by prefix."""


class EventFields(StrictModel):
    """The what, where and why of an EPCIS 2.0 event, whole: of the record kinds that are
    such an event (aggregation, association, transaction, observation; docs/records.md),
    and of any other record captured from an event."""

    action: Literal["ADD", "OBSERVE", "DELETE"] | None = None
    parent: EpcisText | None = None  # parentID: the case, pallet or sensor device
    items: list[EpcisText] | None = Field(default=None, min_length=1, max_length=1000)
    quantities: list[ClassQuantity] | None = Field(default=None, min_length=1, max_length=100)
    # A TransformationEvent's inputQuantityList and outputQuantityList (processing).
    input_quantities: list[ClassQuantity] | None = Field(default=None, min_length=1, max_length=50)
    output_quantities: list[ClassQuantity] | None = Field(default=None, min_length=1, max_length=50)
    transformation_id: EpcisText | None = None  # a TransformationEvent's transformationID
    biz_step: EpcisText | None = None
    disposition: EpcisText | None = None
    persistent_disposition: PersistentDisposition | None = None
    read_point: EpcisText | None = None
    read_point_extensions: Extensions | None = None  # user extension fields inside readPoint
    biz_location: EpcisText | None = None
    biz_location_extensions: Extensions | None = None
    biz_transactions: list[EpcisLink] | None = Field(default=None, min_length=1, max_length=50)
    sources: list[EpcisLink] | None = Field(default=None, min_length=1, max_length=50)
    destinations: list[EpcisLink] | None = Field(default=None, min_length=1, max_length=50)
    certification_info: list[EpcisText] | None = Field(default=None, min_length=1, max_length=20)
    ilmd: dict[EpcisText, Text] | None = None
    # User extension fields of the event (EPCIS 2.0 §6.4), each value as its RFC 8785 JSON
    # text so nothing of it is lost, and the namespaces of the prefixes they use.
    extensions: dict[EpcisText, ExtensionJson] | None = None
    namespaces: (
        dict[Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][\w.-]{0,39}$")], IriText] | None
    ) = None
