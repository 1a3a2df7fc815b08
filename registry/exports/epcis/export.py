"""EPCIS 2.0 JSON-LD: signed records to events (export) and events to record drafts (capture).

Pure mapping, no database: the services in ``registry.services.exports`` and
``registry.services.capture`` supply the facts (batches, organizations) and the lookups.

Record kinds map to EPCIS 2.0 events and CBV 2.0 vocabulary (GS1 EPCIS 2.0.1 §7, CBV 2.0
§7-§8) as PRODUCT.md §4 says:

=============  ===================================================================
harvest        ObjectEvent ADD, bizStep ``commissioning``, ILMD harvest/best-before dates
processing     TransformationEvent, inputQuantityList → outputQuantityList
packing        ObjectEvent OBSERVE ``packing``
inspection     ObjectEvent OBSERVE ``inspecting``, sensorReport per substance
               (chemicalSubstance, value, uom), bizTransaction ``testres`` (the report),
               disposition ``conformant`` / ``non_conformant``
certificate    ObjectEvent OBSERVE with ``certificationInfo`` (the printable 合格证)
storage        ObjectEvent OBSERVE ``holding``, a Temperature (and RelativeHumidity)
               sensorReport per reading; capture also takes ``sensor_reporting``
shipping       ObjectEvent OBSERVE ``shipping``, destinationList, bizTransaction ``bol``
receiving      ObjectEvent OBSERVE ``receiving``, sourceList, bizTransaction ``bol``
recall         ObjectEvent OBSERVE, disposition ``recalled``
correction     the corrected record's event again, with an ``errorDeclaration``
=============  ===================================================================

Identifiers. A batch of a product with a GTIN is named at class level by its GS1 Digital
Link URI ``https://id.gs1.org/01/{GTIN-14}/10/{lot}``; any other batch by its page in this
registry, ``{base_url}/b/{code}``. Master data (``epcisHeader``) lists every class with its
product id and lot, so another registry can capture the document. Places are registry URIs
of GB/T 2260 region codes (``{base_url}/regions/{code}``); an organization with a GLN is
located by its GS1 Digital Link (``https://id.gs1.org/414/{GLN}``), else by its registry URI.

Every event names its proof: the registry-namespace extension fields ``gr:logIndex`` and
``gr:digest`` (the record's log index and payload SHA-256) and ``eventID``, the record's URL
in the JSON API; the document names the signed checkpoint it was cut at (``gr:log``).
What standard EPCIS cannot say (the organization's own unit, the package, the lab's limit
and method, a place's name) travels in ``gr:`` extension fields too, so a capture of an
export re-creates the same records.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from registry.errors import InvalidInput
from registry.gs1 import digital_link_path, gtin_check_digit, normalize_gtin, validate_lot

EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
NS = "https://guarantee-registry.org/ns/epcis/"
PREFIX = "gr"
CERTIFYING = NS + "certifying"  # bizStep of a 合格证 event (CBV 2.0 has none for it)
SCHEMA_VERSION = "2.0"
VTYPE_CLASS = "urn:epcglobal:epcis:vtype:EPCClass"
VTYPE_LOCATION = "urn:epcglobal:epcis:vtype:BusinessLocation"
CBVMDA = "urn:epcglobal:cbv:mda#"
GS1_RESOLVER = "https://id.gs1.org"

# Registry units ↔ UN/ECE Recommendation 20 codes (the ``uom`` of EPCIS quantities, which
# the schema restricts to 2-3 upper-case letters or digits). The first unit of a code is
# the one a capture writes back.
UNIT_CODES: dict[str, str] = {
    "kg": "KGM",
    "g": "GRM",
    "mg": "MGM",
    "t": "TNE",
    "L": "LTR",
    "l": "LTR",
    "mL": "MLT",
    "ml": "MLT",
    "piece": "H87",
    "pcs": "H87",
    "bag": "XBG",
    "box": "XBX",
    "carton": "XCT",
    "case": "XCS",
    "bottle": "XBO",
    "jar": "XJR",
    "tray": "XPU",
    "dozen": "DZN",
}
CODE_UNITS: dict[str, str] = {
    **{code: unit for unit, code in reversed(list(UNIT_CODES.items()))},
    "EA": "piece",
    "C62": "piece",
}

# Units of measured values (sensorReport ``uom``), with the kind of quantity they measure.
MEASURE_CODES: dict[str, tuple[str, str]] = {
    "mg/kg": ("NA", "Dimensionless"),
    "μg/kg": ("J33", "Dimensionless"),
    "µg/kg": ("J33", "Dimensionless"),
    "ug/kg": ("J33", "Dimensionless"),
    "mg/L": ("M1", "MassConcentration"),
    "mg/l": ("M1", "MassConcentration"),
    "μg/L": ("H29", "MassConcentration"),
    "µg/L": ("H29", "MassConcentration"),
    "%": ("P1", "Dimensionless"),
    "CFU/g": ("CFU", "Dimensionless"),
}
MEASURE_UNITS = {code: unit for unit, (code, _) in reversed(list(MEASURE_CODES.items()))}

SUPPLY_KINDS = frozenset(
    {
        "harvest",
        "processing",
        "packing",
        "inspection",
        "certificate",
        "storage",
        "shipping",
        "receiving",
        "recall",
        "correction",
    }
)
CST = timezone(timedelta(hours=8))


# --- facts the exporter is given -------------------------------------------------------------


@dataclass(frozen=True)
class BatchInfo:
    """A batch as the export names it."""

    ref: str  # "<product id>:<lot>", as records name it
    product_id: uuid.UUID
    lot: str
    code: str
    unit: str
    gtin: str | None
    product_zh: str
    product_en: str
    best_before: date | None = None


@dataclass(frozen=True)
class OrgInfo:
    id: uuid.UUID
    name_zh: str
    name_en: str
    region: str
    gln: str | None = None


@dataclass(frozen=True)
class LoggedRecord:
    """A signed record as logged: its payload (decoded) and where it sits in the log."""

    log_index: int
    digest: str
    logged_at: datetime
    kind: str
    document: dict[str, Any]
    org: OrgInfo | None


# --- small helpers ---------------------------------------------------------------------------


def ext(name: str) -> str:
    """The compact IRI of a registry extension field (``gr:logIndex``)."""
    return f"{PREFIX}:{name}"


def number(text: str) -> int | float:
    """A decimal string as a JSON number (the schema's ``decimal`` is a number). Integers
    stay exact; a fraction becomes the nearest double, exact for up to 15 significant
    digits."""
    value = Decimal(text)
    if value == value.to_integral_value() and abs(value) < 2**53:
        return int(value)
    return float(value)


def decimal_text(value: object) -> str:
    """A JSON number (or numeric string) as a registry decimal string."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError("must be a number")
    try:
        parsed = Decimal(repr(value) if isinstance(value, float) else str(value))
    except InvalidOperation:
        raise ValueError("must be a number") from None
    if not parsed.is_finite():
        raise ValueError("must be a finite number")
    text = format(parsed, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def offset_of(timestamp: str) -> str:
    """``eventTimeZoneOffset`` of an RFC 3339 time: ``+08:00`` (``Z`` is ``+00:00``)."""
    moment = datetime.fromisoformat(timestamp)
    delta = moment.utcoffset() or timedelta(0)
    minutes = int(delta.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    minutes = abs(minutes)
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def class_uri(base_url: str, batch: BatchInfo) -> str:
    """The class-level identifier of a batch (see the module docstring)."""
    if batch.gtin:
        try:
            return GS1_RESOLVER + digital_link_path(
                normalize_gtin(batch.gtin), validate_lot(batch.lot)
            )
        except InvalidInput:  # a lot outside the GS1 character set: named by its code
            pass
    return f"{base_url}/b/{batch.code}"


def region_uri(base_url: str, region: str) -> str:
    return f"{base_url}/regions/{region}"


def org_uri(base_url: str, org_id: uuid.UUID | str) -> str:
    return f"{base_url}/api/v1/organizations/{org_id}"


def org_location_uri(base_url: str, org: OrgInfo) -> str:
    return f"{GS1_RESOLVER}/414/{org.gln}" if org.gln else org_uri(base_url, org.id)


def record_uri(base_url: str, digest: str) -> str:
    return f"{base_url}/api/v1/records/{digest}"


def document_uri(base_url: str, kind: str, number_text: str) -> str:
    """A business document (waybill, lab report) named by its number, as a URI."""
    return f"{base_url}/documents/{kind}/{quote(number_text, safe='')}"


def substance_uri(base_url: str, substance: str) -> str:
    return f"{base_url}/substances/{quote(substance, safe='')}"


def certificate_uri(base_url: str, code: str) -> str:
    return f"{base_url}/b/{code}/certificate"


# --- export ----------------------------------------------------------------------------------


@dataclass
class Exporter:
    """Builds EPCIS events of records. ``batches`` maps batch refs to what the export needs
    to name them; ``lookup`` is asked for refs missing from it."""

    base_url: str
    batches: dict[str, BatchInfo]
    lookup: Callable[[str], BatchInfo | None] = lambda ref: None
    classes_used: dict[str, BatchInfo] = field(default_factory=dict)
    locations_used: dict[str, OrgInfo | str] = field(default_factory=dict)

    def batch(self, ref: str) -> BatchInfo:
        found = self.batches.get(ref)
        if found is None:
            found = self.lookup(ref)
            if found is None:
                raise KeyError(f"batch {ref} is not in the registry")
            self.batches[ref] = found
        return found

    def epc_class(self, ref: str) -> str:
        info = self.batch(ref)
        uri = class_uri(self.base_url, info)
        self.classes_used[uri] = info
        return uri

    def quantity(self, ref: str, amount: str | None, unit: str | None) -> dict[str, Any]:
        element: dict[str, Any] = {"epcClass": self.epc_class(ref)}
        if amount is not None:
            element["quantity"] = number(amount)
            code = UNIT_CODES.get(unit or self.batch(ref).unit)
            if code is not None:
                element["uom"] = code
        return element

    def _units(self, pairs: Iterable[tuple[str, str | None]]) -> dict[str, str]:
        """Units with no UN/ECE code, by class: the ``gr:units`` extension."""
        return {
            self.epc_class(ref): unit
            for ref, unit in pairs
            if unit is not None and unit not in UNIT_CODES
        }

    def _read_point(self, record: LoggedRecord) -> str | None:
        place = record.document.get("place")
        region = place.get("region") if isinstance(place, dict) else None
        if region is None and record.org is not None:
            region = record.org.region
        if region is None:
            return None
        uri = region_uri(self.base_url, region)
        self.locations_used.setdefault(uri, region)
        return uri

    def event(self, record: LoggedRecord) -> dict[str, Any] | None:
        """The EPCIS event of a record, or None for kinds that are not supply-chain events."""
        doc = record.document
        kind = record.kind
        if kind not in SUPPLY_KINDS:
            return None
        if kind == "correction":
            return None  # built by correction_event, which needs the corrected record
        time = str(doc["time"])
        refs: list[str] = [str(r) for r in doc.get("batches", [])]
        event: dict[str, Any] = {
            "type": "ObjectEvent",
            "eventTime": time,
            "eventTimeZoneOffset": offset_of(time),
            "recordTime": utc_text(record.logged_at),
            "eventID": record_uri(self.base_url, record.digest),
        }
        extensions: dict[str, Any] = {
            ext("logIndex"): record.log_index,
            ext("digest"): record.digest,
            ext("kind"): kind,
        }
        if record.org is not None:
            extensions[ext("org")] = str(record.org.id)
        if doc.get("note"):
            extensions[ext("note")] = doc["note"]
        if isinstance(doc.get("place"), dict):
            extensions[ext("place")] = doc["place"]
        read_point = self._read_point(record)
        biz_location = None
        if record.org is not None:
            biz_location = org_location_uri(self.base_url, record.org)
            self.locations_used.setdefault(biz_location, record.org)

        body: dict[str, Any]
        if kind == "processing":
            inputs = doc.get("inputs", [])
            outputs = doc.get("outputs", [])
            body = {
                "type": "TransformationEvent",
                "inputQuantityList": [
                    self.quantity(i["batch"], i["quantity"], None) for i in inputs
                ],
                "outputQuantityList": [
                    self.quantity(o["batch"], o["quantity"], o["unit"]) for o in outputs
                ],
                "bizStep": "commissioning",
                "disposition": "active",
            }
            best_before = {o.get("best_before") for o in outputs}
            if len(best_before) == 1 and None not in best_before:
                body["ilmd"] = {"cbvmda:bestBeforeDate": best_before.pop()}
            units = self._units(
                [(i["batch"], self.batch(i["batch"]).unit) for i in inputs]
                + [(o["batch"], o["unit"]) for o in outputs]
            )
            if units:
                extensions[ext("units")] = units
            if doc.get("process"):
                extensions[ext("process")] = doc["process"]
            extensions[ext("outputs")] = [
                {"epcClass": self.epc_class(o["batch"]), "bestBefore": o.get("best_before")}
                for o in outputs
            ]
            # The record's own event type replaces the ObjectEvent defaults.
            event.update(body)
        else:
            event.update(self._object_event(record, refs, extensions))
        if read_point is not None:
            event["readPoint"] = {"id": read_point}
        if biz_location is not None:
            event["bizLocation"] = {"id": biz_location}
        event.update(extensions)
        return _ordered(event)

    def _object_event(
        self, record: LoggedRecord, refs: list[str], extensions: dict[str, Any]
    ) -> dict[str, Any]:
        doc = record.document
        kind = record.kind
        base = self.base_url
        body: dict[str, Any] = {"action": "OBSERVE"}
        quantities = [self.quantity(ref, None, None) for ref in refs]
        if kind == "harvest":
            ref = refs[0]
            body.update(
                action="ADD",
                bizStep="commissioning",
                disposition="active",
            )
            quantities = [self.quantity(ref, doc["quantity"], doc["unit"])]
            ilmd: dict[str, Any] = {
                "cbvmda:harvestStartDate": doc["harvest_date"],
                "cbvmda:countryOfOrigin": "CN",
            }
            if doc.get("best_before"):
                ilmd["cbvmda:bestBeforeDate"] = doc["best_before"]
            body["ilmd"] = ilmd
            units = self._units([(ref, doc["unit"])])
            if units:
                extensions[ext("units")] = units
        elif kind == "packing":
            package = doc["package"]
            total = Decimal(package["size"]) * package["count"]
            quantities = [self.quantity(ref, str(total), package["unit"]) for ref in refs]
            body.update(bizStep="packing", disposition="active")
            extensions[ext("package")] = package
            if doc.get("packaging"):
                extensions[ext("packaging")] = doc["packaging"]
        elif kind == "inspection":
            body.update(
                bizStep="inspecting",
                disposition="conformant" if doc["verdict"] == "pass" else "non_conformant",
                bizTransactionList=[
                    {
                        "type": "testres",
                        "bizTransaction": document_uri(base, "reports", doc["report_number"]),
                    }
                ],
                sensorElementList=[{"sensorReport": [self._result(r) for r in doc["results"]]}],
            )
            extensions[ext("reportNumber")] = doc["report_number"]
            extensions[ext("verdict")] = doc["verdict"]
            if doc.get("sampled_on"):
                extensions[ext("sampledOn")] = doc["sampled_on"]
        elif kind == "certificate":
            body.update(
                bizStep=CERTIFYING,
                certificationInfo=[certificate_uri(base, self.batch(ref).code) for ref in refs],
            )
            if len(refs) == 1 and doc.get("quantity"):
                quantities = [self.quantity(refs[0], doc["quantity"], doc.get("unit"))]
            extensions[ext("certificateNumber")] = doc["certificate_number"]
            extensions[ext("promise")] = doc["promise"]
            extensions[ext("basis")] = list(doc["basis"])
            if doc.get("quantity"):
                extensions[ext("quantity")] = doc["quantity"]
                extensions[ext("unit")] = doc.get("unit")
        elif kind == "storage":
            readings = doc.get("readings", [])
            body["bizStep"] = "holding"
            if readings:
                body["sensorElementList"] = [_reading(r) for r in readings]
            extensions[ext("location")] = doc["location"]
        elif kind in ("shipping", "receiving"):
            party_key, list_key, item_key = (
                ("to", "destinationList", "destination")
                if kind == "shipping"
                else ("source", "sourceList", "source")
            )
            party = doc[party_key]
            body.update(
                bizStep=kind,
                disposition="in_transit" if kind == "shipping" else "in_progress",
            )
            parties = []
            if party.get("org"):
                parties.append({"type": "owning_party", item_key: org_uri(base, party["org"])})
            if isinstance(party.get("place"), dict):
                parties.append(
                    {"type": "location", item_key: region_uri(base, party["place"]["region"])}
                )
            if parties:
                body[list_key] = parties
            if doc.get("waybill"):
                body["bizTransactionList"] = [
                    {
                        "type": "bol",
                        "bizTransaction": document_uri(base, "waybills", doc["waybill"]),
                    }
                ]
                extensions[ext("waybill")] = doc["waybill"]
            if doc.get("quantity") and len(refs) == 1:
                quantities = [self.quantity(refs[0], doc["quantity"], doc.get("unit"))]
                units = self._units([(refs[0], doc.get("unit"))])
                if units:
                    extensions[ext("units")] = units
            extensions[ext(party_key)] = party
            if doc.get("vehicle"):
                extensions[ext("vehicle")] = doc["vehicle"]
        elif kind == "recall":
            body["disposition"] = "recalled"
            extensions[ext("reason")] = doc["reason"]
            extensions[ext("scope")] = doc.get("scope", "batch_and_descendants")
        body["quantityList"] = quantities
        return body

    def _result(self, result: dict[str, Any]) -> dict[str, Any]:
        code, measurement = MEASURE_CODES.get(result["unit"], (None, "Dimensionless"))
        report: dict[str, Any] = {
            "type": measurement,
            "chemicalSubstance": substance_uri(self.base_url, result["substance"]),
            "value": number(result["value"]),
            "uom": code or result["unit"],
            ext("substance"): result["substance"],
            ext("limit"): result["limit"],
            ext("unit"): result["unit"],
            ext("method"): result["method"],
            ext("verdict"): result["verdict"],
        }
        return report

    def correction_event(
        self, correction: LoggedRecord, corrected: LoggedRecord
    ) -> dict[str, Any] | None:
        """EPCIS error declaration (EPCIS 2.0 §7.4.1.3): the erroneous event again, same
        eventID, with ``errorDeclaration``; the extension fields name the correction record."""
        original = self.event(corrected)
        if original is None:
            return None
        doc = correction.document
        original["recordTime"] = utc_text(correction.logged_at)
        original["errorDeclaration"] = {
            "declarationTime": doc["time"],
            "reason": "incorrect_data",
            ext("reason"): doc["reason"],
        }
        original.update(
            {
                ext("logIndex"): correction.log_index,
                ext("digest"): correction.digest,
                ext("kind"): "correction",
                ext("corrects"): corrected.digest,
            }
        )
        if correction.org is not None:
            original[ext("org")] = str(correction.org.id)
        if doc.get("corrected"):
            original[ext("corrected")] = doc["corrected"]
        return original

    def master_data(self) -> list[dict[str, Any]]:
        """EPCIS master data (EPCIS 2.0 §7.5, CBV 2.0 §10): the classes and locations named."""
        classes = [
            {
                "id": uri,
                "attributes": [
                    {"id": CBVMDA + "descriptionShort", "attribute": info.product_zh},
                    {"id": CBVMDA + "tradeItemDescription", "attribute": info.product_en},
                    {"id": CBVMDA + "lotNumber", "attribute": info.lot},
                    {"id": NS + "product", "attribute": str(info.product_id)},
                    {"id": NS + "lot", "attribute": info.lot},
                    {"id": NS + "batchCode", "attribute": info.code},
                    {"id": NS + "unit", "attribute": info.unit},
                    *(
                        [{"id": CBVMDA + "bestBeforeDate", "attribute": str(info.best_before)}]
                        if info.best_before
                        else []
                    ),
                ],
            }
            for uri, info in sorted(self.classes_used.items())
        ]
        locations = []
        for uri, what in sorted(self.locations_used.items()):
            if isinstance(what, OrgInfo):
                attributes = [
                    {"id": CBVMDA + "name", "attribute": f"{what.name_zh} {what.name_en}"},
                    {"id": CBVMDA + "countryCode", "attribute": "CN"},
                    {"id": NS + "region", "attribute": what.region},
                ]
            else:
                attributes = [
                    {"id": NS + "region", "attribute": what},
                    {"id": CBVMDA + "countryCode", "attribute": "CN"},
                ]
            locations.append({"id": uri, "attributes": attributes})
        vocabularies = []
        if classes:
            vocabularies.append({"type": VTYPE_CLASS, "vocabularyElementList": classes})
        if locations:
            vocabularies.append({"type": VTYPE_LOCATION, "vocabularyElementList": locations})
        return vocabularies


def _reading(reading: dict[str, Any]) -> dict[str, Any]:
    reports: list[dict[str, Any]] = [
        {"type": "Temperature", "value": number(reading["celsius"]), "uom": "CEL"}
    ]
    if reading.get("humidity") is not None:
        reports.append(
            {"type": "RelativeHumidity", "value": number(reading["humidity"]), "uom": "P1"}
        )
    return {"sensorMetadata": {"time": reading["time"]}, "sensorReport": reports}


_ORDER = [
    "type",
    "eventTime",
    "eventTimeZoneOffset",
    "recordTime",
    "eventID",
    "errorDeclaration",
    "certificationInfo",
    "action",
    "quantityList",
    "inputQuantityList",
    "outputQuantityList",
    "bizStep",
    "disposition",
    "readPoint",
    "bizLocation",
    "bizTransactionList",
    "sourceList",
    "destinationList",
    "sensorElementList",
    "ilmd",
]


def _ordered(event: dict[str, Any]) -> dict[str, Any]:
    """Standard fields in the order of the standard's examples, extensions last."""
    ordered = {k: event[k] for k in _ORDER if k in event}
    ordered.update({k: v for k, v in event.items() if k not in ordered})
    return ordered


def epcis_document(
    events: list[dict[str, Any]],
    master_data: list[dict[str, Any]],
    *,
    created: datetime,
    log: Mapping[str, Any] | None = None,
    document_id: str | None = None,
) -> dict[str, Any]:
    """An EPCISDocument (EPCIS 2.0 §9.2 JSON-LD binding) holding ``events``."""
    document: dict[str, Any] = {
        "@context": [EPCIS_CONTEXT, {PREFIX: NS}],
        "type": "EPCISDocument",
        "schemaVersion": SCHEMA_VERSION,
        "creationDate": utc_text(created),
    }
    if document_id:
        document["id"] = document_id
    if master_data:
        document["epcisHeader"] = {"epcisMasterData": {"vocabularyList": master_data}}
    if log is not None:
        document[ext("log")] = dict(log)
    document["epcisBody"] = {"eventList": events}
    return document


# --- capture ---------------------------------------------------------------------------------


class EventProblem(Exception):
    """What is wrong with one event: ``problems`` are (path, message) pairs."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{p}: {m}" for p, m in problems))
        self.problems = problems


@dataclass(frozen=True)
class MasterClass:
    """What a document's master data says about a class identifier."""

    product_id: str | None
    lot: str | None
    unit: str | None
    best_before: str | None


@dataclass
class CaptureDocument:
    """A parsed EPCIS document to capture: its events and master data."""

    events: list[Any]
    classes: dict[str, MasterClass]
    prefixes: frozenset[str]


def parse_capture_document(document: object) -> CaptureDocument:
    """Check the envelope of an EPCIS document; the events are checked one by one later."""
    if not isinstance(document, dict):
        raise EventProblem([("(document)", "an EPCIS document is a JSON object")])
    if document.get("type") != "EPCISDocument":
        raise EventProblem([("type", "must be 'EPCISDocument'")])
    body = document.get("epcisBody")
    events = body.get("eventList") if isinstance(body, dict) else None
    if not isinstance(events, list):
        raise EventProblem([("epcisBody.eventList", "must be a list of events")])
    prefixes = {PREFIX}
    context = document.get("@context")
    for item in context if isinstance(context, list) else [context]:
        if isinstance(item, dict):
            prefixes.update(k for k, v in item.items() if v == NS)
    classes: dict[str, MasterClass] = {}
    header = document.get("epcisHeader")
    master = header.get("epcisMasterData") if isinstance(header, dict) else None
    vocabularies = master.get("vocabularyList") if isinstance(master, dict) else None
    for vocabulary in vocabularies if isinstance(vocabularies, list) else []:
        if not isinstance(vocabulary, dict) or vocabulary.get("type") != VTYPE_CLASS:
            continue
        for element in vocabulary.get("vocabularyElementList") or []:
            if not isinstance(element, dict) or not isinstance(element.get("id"), str):
                continue
            attributes = {
                a.get("id"): a.get("attribute")
                for a in element.get("attributes") or []
                if isinstance(a, dict)
            }

            def text(key: str, attrs: dict[Any, Any] = attributes) -> str | None:
                value = attrs.get(key)
                return value if isinstance(value, str) else None

            classes[element["id"]] = MasterClass(
                product_id=text(NS + "product"),
                lot=text(NS + "lot") or text(CBVMDA + "lotNumber"),
                unit=text(NS + "unit"),
                best_before=text(CBVMDA + "bestBeforeDate"),
            )
    return CaptureDocument(events, classes, frozenset(prefixes))


_DIGITAL_LINK = re.compile(r"^https?://[^/?#]+(?:/[^?#]*)?/01/([0-9]{8,14})/10/([^/?#]+)")
_LGTIN = re.compile(r"^urn:epc:class:lgtin:([0-9]+)\.([0-9]+)\.(.+)$")
_REGION = re.compile(r"/regions/([1-8][0-9]{5})$")


def gtin_and_lot(identifier: str) -> tuple[str, str] | None:
    """(GTIN-14, lot) of a GS1 Digital Link URI or an LGTIN class URN (GS1 TDS 2.0 §6.3.2),
    or None for another kind of identifier. Raises InvalidInput for a GTIN whose length or
    check digit is wrong, ValueError for an LGTIN whose digits do not make a GTIN."""
    match = _DIGITAL_LINK.match(identifier)
    if match is not None:
        return normalize_gtin(match.group(1)), unquote(match.group(2))
    match = _LGTIN.match(identifier)
    if match is not None:
        company, item = match.group(1), match.group(2)
        if len(company) + len(item) != 13 or not item:
            raise ValueError(f"{identifier}: an LGTIN needs 13 digits of company and item")
        body = item[0] + company + item[1:]
        return body + gtin_check_digit(body), unquote(match.group(3))
    return None


@dataclass(frozen=True)
class ResolvedClass:
    """A class identifier resolved to a batch ref, and the unit the registry knows for it."""

    ref: str
    unit: str | None = None


Resolver = Callable[[str, bool], ResolvedClass]
"""``resolve(identifier, creating)``: the batch ref of a class identifier; ``creating`` when
the event makes the batch (so it cannot be looked up by code). Raises ValueError."""


class _Event:
    """Accessors over one captured event that collect problems instead of stopping."""

    def __init__(
        self, event: dict[str, Any], prefixes: frozenset[str], classes: dict[str, MasterClass]
    ) -> None:
        self.event = event
        self.prefixes = prefixes
        self.classes = classes
        self.problems: list[tuple[str, str]] = []

    def problem(self, path: str, message: str) -> None:
        self.problems.append((path, message))

    def ext(self, name: str, where: dict[str, Any] | None = None) -> Any:
        source = self.event if where is None else where
        for prefix in self.prefixes:
            if f"{prefix}:{name}" in source:
                return source[f"{prefix}:{name}"]
        return source.get(NS + name)

    def text(self, key: str) -> str | None:
        value = self.event.get(key)
        return value if isinstance(value, str) else None

    def list(self, key: str) -> list[Any]:
        value = self.event.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.problem(key, "must be a list")
            return []
        return value


def event_id(event: object) -> str | None:
    if isinstance(event, dict) and isinstance(event.get("eventID"), str):
        return str(event["eventID"])
    return None


def record_time(event_time: str, offset: str | None) -> str:
    """The record's time: ``eventTime`` shown in ``eventTimeZoneOffset`` (both EPCIS
    fields), to the microsecond at most, with its offset (RFC 3339)."""
    moment = datetime.fromisoformat(event_time.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError("eventTime needs an offset")
    if offset:
        sign = -1 if offset.startswith("-") else 1
        hours, _, minutes = offset[1:].partition(":")
        zone = timezone(sign * timedelta(hours=int(hours), minutes=int(minutes or 0)))
        moment = moment.astimezone(zone)
    spec = "microseconds" if moment.microsecond else "seconds"
    return moment.isoformat(timespec=spec).replace("+00:00", "Z")


def draft_of(
    event: object,
    document: CaptureDocument,
    resolve: Resolver,
    default_region: str,
) -> dict[str, Any]:
    """The record draft an EPCIS event says, for the capturing organization to sign.

    Raises EventProblem naming every problem found (path within the event, message)."""
    if not isinstance(event, dict):
        raise EventProblem([("(event)", "an event is a JSON object")])
    view = _Event(event, document.prefixes, document.classes)
    event_type = event.get("type")
    draft: dict[str, Any] = {}
    time_text = view.text("eventTime")
    if time_text is None:
        view.problem("eventTime", "required")
    else:
        try:
            draft["time"] = record_time(time_text, view.text("eventTimeZoneOffset"))
        except ValueError as exc:
            view.problem("eventTime", f"not an RFC 3339 time with an offset ({exc})")
    note = view.ext("note")
    if isinstance(note, str):
        draft["note"] = note
    elif view.text("eventID"):
        draft["note"] = f"EPCIS capture of {view.text('eventID')}"[:500]
    if event.get("errorDeclaration") is not None:
        view.problem("errorDeclaration", "error declarations are not captured: post a correction")
    elif event_type == "TransformationEvent":
        _processing(view, draft, resolve)
    elif event_type == "ObjectEvent":
        _object_event(view, draft, resolve, default_region)
    else:
        view.problem(
            "type",
            f"{event_type!r} events are not captured (ObjectEvent and TransformationEvent are)",
        )
    if view.problems:
        raise EventProblem(view.problems)
    return draft


def _ilmd(view: _Event) -> dict[str, Any]:
    ilmd = view.event.get("ilmd")
    return ilmd if isinstance(ilmd, dict) else {}


def _quantity_elements(view: _Event, key: str) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for i, element in enumerate(view.list(key)):
        path = f"{key}[{i}]"
        if not isinstance(element, dict) or not isinstance(element.get("epcClass"), str):
            view.problem(path, "needs an epcClass")
            continue
        found.append((path, element))
    return found


def _resolve(
    view: _Event, path: str, identifier: str, resolve: Resolver, creating: bool
) -> ResolvedClass | None:
    try:
        return resolve(identifier, creating)
    except ValueError as exc:
        view.problem(path, str(exc))
        return None


def _amount(view: _Event, path: str, element: dict[str, Any], required: bool) -> str | None:
    if "quantity" not in element:
        if required:
            view.problem(f"{path}.quantity", "required")
        return None
    try:
        return decimal_text(element["quantity"])
    except ValueError as exc:
        view.problem(f"{path}.quantity", str(exc))
        return None


def _unit(view: _Event, path: str, element: dict[str, Any], fallback: str | None) -> str:
    units = view.ext("units")
    if isinstance(units, dict) and isinstance(units.get(element["epcClass"]), str):
        return str(units[element["epcClass"]])
    uom = element.get("uom")
    if isinstance(uom, str):
        unit = CODE_UNITS.get(uom)
        if unit is None:
            view.problem(f"{path}.uom", f"unit {uom!r} is not one the registry knows")
            return uom
        return unit
    # EPCIS 2.0 §7.3.3.3: a quantity without uom counts instances of the class.
    return fallback or "piece"


def _processing(view: _Event, draft: dict[str, Any], resolve: Resolver) -> None:
    draft["kind"] = "processing"
    inputs = []
    for path, element in _quantity_elements(view, "inputQuantityList"):
        resolved = _resolve(view, f"{path}.epcClass", element["epcClass"], resolve, False)
        amount = _amount(view, path, element, True)
        if resolved is not None and amount is not None:
            inputs.append({"batch": resolved.ref, "quantity": amount})
    if view.event.get("inputEPCList"):
        view.problem("inputEPCList", "instance-level inputs are not captured: use quantities")
    outputs_ext = view.ext("outputs")
    best_before_of = {
        o.get("epcClass"): o.get("bestBefore")
        for o in (outputs_ext if isinstance(outputs_ext, list) else [])
        if isinstance(o, dict)
    }
    ilmd = _ilmd(view)
    outputs = []
    for path, element in _quantity_elements(view, "outputQuantityList"):
        identifier = element["epcClass"]
        resolved = _resolve(view, f"{path}.epcClass", identifier, resolve, True)
        amount = _amount(view, path, element, True)
        if resolved is None or amount is None:
            continue
        output: dict[str, Any] = {
            "batch": resolved.ref,
            "quantity": amount,
            "unit": _unit(view, path, element, resolved.unit),
        }
        best_before = best_before_of.get(identifier) or ilmd.get("cbvmda:bestBeforeDate")
        if best_before is None and identifier in view.classes:
            best_before = view.classes[identifier].best_before
        if best_before:
            output["best_before"] = best_before
        outputs.append(output)
    if not inputs and not view.problems:
        view.problem("inputQuantityList", "a transformation needs input quantities")
    if not outputs and not view.problems:
        view.problem("outputQuantityList", "a transformation needs output quantities")
    draft["inputs"] = inputs
    draft["outputs"] = outputs
    process = view.ext("process")
    if isinstance(process, str):
        draft["process"] = process


def _batches(view: _Event, resolve: Resolver) -> list[tuple[str, dict[str, Any], str]]:
    """(path, quantity element, ref) of every class the event names."""
    found = []
    for path, element in _quantity_elements(view, "quantityList"):
        resolved = _resolve(view, f"{path}.epcClass", element["epcClass"], resolve, False)
        if resolved is not None:
            found.append((path, element, resolved.ref))
    if view.event.get("epcList"):
        view.problem("epcList", "instance-level identifiers are not captured: use quantityList")
    if not found and not view.problems:
        view.problem("quantityList", "names no batch (a class-level epcClass per batch)")
    return found


def _object_event(
    view: _Event, draft: dict[str, Any], resolve: Resolver, default_region: str
) -> None:
    event = view.event
    biz_step = view.text("bizStep")
    disposition = view.text("disposition")
    action = view.text("action")
    place = view.ext("place")
    if isinstance(place, dict):
        draft["place"] = place

    if biz_step == "commissioning" and action == "ADD":
        if "place" not in draft:  # a harvest names its origin: the read point's region
            read_point = event.get("readPoint")
            where = read_point.get("id") if isinstance(read_point, dict) else None
            match = _REGION.search(where) if isinstance(where, str) else None
            draft["place"] = {"region": match.group(1) if match else default_region}
        _harvest(view, draft, resolve, default_region)
        return
    if disposition == "recalled":
        draft["kind"] = "recall"
        draft["batches"] = [ref for _, _, ref in _batches(view, resolve)]
        reason = view.ext("reason")
        draft["reason"] = reason if isinstance(reason, str) else "EPCIS: disposition recalled"
        return
    if biz_step == "commissioning":
        view.problem("action", "a commissioning (harvest) event has action ADD")
        return
    batches = _batches(view, resolve)
    draft["batches"] = [ref for _, _, ref in batches]
    if biz_step == "packing":
        _packing(view, draft, batches)
    elif biz_step == "inspecting":
        _inspection(view, draft)
    elif biz_step in ("holding", "sensor_reporting", "storing"):
        _storage(view, draft)
    elif biz_step in ("shipping", "receiving"):
        _transfer(view, draft, biz_step, batches)
    elif biz_step == CERTIFYING or (biz_step is None and event.get("certificationInfo")):
        _certificate(view, draft)
    else:
        view.problem(
            "bizStep",
            f"{biz_step!r} is not captured (commissioning, packing, inspecting, holding, "
            "sensor_reporting, shipping, receiving are)",
        )


def _harvest(view: _Event, draft: dict[str, Any], resolve: Resolver, default_region: str) -> None:
    draft["kind"] = "harvest"
    elements = _quantity_elements(view, "quantityList")
    if len(elements) != 1:
        view.problem("quantityList", "a commissioning (harvest) event creates exactly one batch")
        return
    path, element = elements[0]
    resolved = _resolve(view, f"{path}.epcClass", element["epcClass"], resolve, True)
    amount = _amount(view, path, element, True)
    if resolved is None or amount is None:
        return
    draft["batches"] = [resolved.ref]
    draft["quantity"] = amount
    draft["unit"] = _unit(view, path, element, resolved.unit)
    ilmd = _ilmd(view)
    harvested = ilmd.get("cbvmda:harvestStartDate")
    if not isinstance(harvested, str) and "time" in draft:
        harvested = str(draft["time"])[:10]
    draft["harvest_date"] = harvested
    best_before = ilmd.get("cbvmda:bestBeforeDate") or ilmd.get("cbvmda:itemExpirationDate")
    if best_before:
        draft["best_before"] = best_before


def _packing(
    view: _Event, draft: dict[str, Any], batches: list[tuple[str, dict[str, Any], str]]
) -> None:
    draft["kind"] = "packing"
    package = view.ext("package")
    if isinstance(package, dict):
        draft["package"] = package
    elif len(batches) == 1 and "quantity" in batches[0][1]:
        path, element, _ = batches[0]
        amount = _amount(view, path, element, True)
        draft["package"] = {
            "count": 1,
            "size": amount,
            "unit": _unit(view, path, element, None),
        }
    else:
        view.problem("quantityList", "packing needs a quantity (or the gr:package extension)")
    packaging = view.ext("packaging")
    if isinstance(packaging, str):
        draft["packaging"] = packaging


def _text_of_uri(uri: str, marker: str) -> str:
    """A number or name written into one of our URIs (``…/documents/reports/QC-1``), or the
    URI itself when it is someone else's."""
    path = urlsplit(uri).path
    if marker in path:
        return unquote(path.rsplit("/", 1)[1])
    return uri


def _inspection(view: _Event, draft: dict[str, Any]) -> None:
    draft["kind"] = "inspection"
    report = view.ext("reportNumber")
    if not isinstance(report, str):
        for transaction in view.list("bizTransactionList"):
            if isinstance(transaction, dict) and transaction.get("type") == "testres":
                report = _text_of_uri(str(transaction.get("bizTransaction")), "/reports/")
                break
    if not isinstance(report, str):
        view.problem("bizTransactionList", "an inspection names its report (type testres)")
    else:
        draft["report_number"] = report
    results = []
    for i, element in enumerate(view.list("sensorElementList")):
        reports = element.get("sensorReport") if isinstance(element, dict) else None
        for j, reading in enumerate(reports if isinstance(reports, list) else []):
            path = f"sensorElementList[{i}].sensorReport[{j}]"
            if not isinstance(reading, dict) or "chemicalSubstance" not in reading:
                continue
            results.append(_substance(view, path, reading))
    if not results:
        view.problem("sensorElementList", "an inspection reports chemicalSubstance results")
    draft["results"] = results
    verdict = view.ext("verdict")
    if verdict not in ("pass", "fail"):
        disposition = view.text("disposition")
        if disposition in ("conformant", "non_conformant"):
            verdict = "pass" if disposition == "conformant" else "fail"
        else:
            failed = any(r.get("verdict") == "fail" for r in results)
            verdict = "fail" if failed else "pass"
    draft["verdict"] = verdict
    sampled = view.ext("sampledOn")
    if isinstance(sampled, str):
        draft["sampled_on"] = sampled


def _substance(view: _Event, path: str, reading: dict[str, Any]) -> dict[str, Any]:
    substance = view.ext("substance", reading)
    if not isinstance(substance, str):
        substance = _text_of_uri(str(reading["chemicalSubstance"]), "/substances/")
    unit = view.ext("unit", reading)
    if not isinstance(unit, str):
        uom = reading.get("uom")
        unit = MEASURE_UNITS.get(str(uom), str(uom)) if uom is not None else None
        if unit is None:
            view.problem(f"{path}.uom", "required")
    value = None
    try:
        value = decimal_text(reading.get("value"))
    except ValueError as exc:
        view.problem(f"{path}.value", str(exc))
    limit = view.ext("limit", reading)
    if limit is None:
        view.problem(f"{path}.{PREFIX}:limit", "the limit the value is judged against")
    else:
        try:
            limit = decimal_text(limit)
        except ValueError as exc:
            view.problem(f"{path}.{PREFIX}:limit", str(exc))
    method = view.ext("method", reading)
    if not isinstance(method, str):
        method = reading.get("dataProcessingMethod") or reading.get("bizRules")
        if not isinstance(method, str):
            view.problem(f"{path}.{PREFIX}:method", "the method standard (e.g. GB 23200.113-2018)")
    verdict = view.ext("verdict", reading)
    if verdict not in ("pass", "fail") and value is not None and isinstance(limit, str):
        verdict = "pass" if Decimal(value) <= Decimal(limit) else "fail"
    return {
        "substance": substance,
        "value": value,
        "limit": limit,
        "unit": unit,
        "method": method,
        "verdict": verdict,
    }


def _storage(view: _Event, draft: dict[str, Any]) -> None:
    draft["kind"] = "storage"
    location = view.ext("location")
    if not isinstance(location, str):
        for key in ("bizLocation", "readPoint"):
            where = view.event.get(key)
            if isinstance(where, dict) and isinstance(where.get("id"), str):
                location = where["id"]
                break
    if not isinstance(location, str):
        view.problem("bizLocation", "storage names where (bizLocation or readPoint)")
    else:
        draft["location"] = location
    readings = []
    for i, element in enumerate(view.list("sensorElementList")):
        if not isinstance(element, dict):
            continue
        metadata = element.get("sensorMetadata") or {}
        reports = element.get("sensorReport") or []
        reading: dict[str, Any] = {}
        for j, report in enumerate(reports if isinstance(reports, list) else []):
            if not isinstance(report, dict):
                continue
            path = f"sensorElementList[{i}].sensorReport[{j}]"
            slot = {"Temperature": "celsius", "RelativeHumidity": "humidity"}.get(
                str(report.get("type"))
            )
            if slot is None:
                continue
            if slot == "celsius" and report.get("uom", "CEL") != "CEL":
                view.problem(f"{path}.uom", "temperatures are captured in CEL")
                continue
            try:
                reading[slot] = decimal_text(report.get("value"))
            except ValueError as exc:
                view.problem(f"{path}.value", str(exc))
            when = report.get("time") or metadata.get("time")
            if isinstance(when, str):
                reading.setdefault("time", when)
        if "celsius" in reading:
            reading.setdefault("time", draft.get("time"))
            readings.append(reading)
    draft["readings"] = readings


def _party(view: _Event, list_key: str, item_key: str) -> dict[str, Any] | None:
    for entry in view.list(list_key):
        if isinstance(entry, dict) and isinstance(entry.get(item_key), str):
            return {"name": str(entry[item_key])[:100]}
    return None


def _transfer(
    view: _Event,
    draft: dict[str, Any],
    kind: str,
    batches: list[tuple[str, dict[str, Any], str]],
) -> None:
    draft["kind"] = kind
    party_key, list_key, item_key = (
        ("to", "destinationList", "destination")
        if kind == "shipping"
        else ("source", "sourceList", "source")
    )
    party = view.ext(party_key)
    if not isinstance(party, dict):
        party = _party(view, list_key, item_key)
    if party is None:
        view.problem(list_key, f"{kind} names the other party ({list_key})")
    else:
        draft[party_key] = party
    waybill = view.ext("waybill")
    if not isinstance(waybill, str):
        for transaction in view.list("bizTransactionList"):
            if isinstance(transaction, dict) and transaction.get("type") in ("bol", "desadv"):
                waybill = _text_of_uri(str(transaction.get("bizTransaction")), "/waybills/")
                break
    if isinstance(waybill, str):
        draft["waybill"] = waybill
    vehicle = view.ext("vehicle")
    if kind == "shipping" and isinstance(vehicle, str):
        draft["vehicle"] = vehicle
    if len(batches) == 1 and "quantity" in batches[0][1]:
        path, element, _ = batches[0]
        draft["quantity"] = _amount(view, path, element, True)
        draft["unit"] = _unit(view, path, element, None)


def _certificate(view: _Event, draft: dict[str, Any]) -> None:
    draft["kind"] = "certificate"
    for name, key in (("certificateNumber", "certificate_number"), ("promise", "promise")):
        value = view.ext(name)
        if not isinstance(value, str):
            view.problem(f"{PREFIX}:{name}", "required for a 合格证")
        else:
            draft[key] = value
    basis = view.ext("basis")
    draft["basis"] = basis if isinstance(basis, list) else ["self_test"]
    quantity = view.ext("quantity")
    if isinstance(quantity, str):
        draft["quantity"] = quantity
        unit = view.ext("unit")
        if isinstance(unit, str):
            draft["unit"] = unit


def local_date(timestamp: str) -> date:
    """The calendar date of a record time, as written (its own offset)."""
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).date()
