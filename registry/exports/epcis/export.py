"""Signed records to EPCIS 2.0 events: the common fields every event carries, the
correction of a record as an error declaration, and the master data of what they named.

What each kind says is in ``event_bodies``; see the package docstring for the mapping and
docs/records.md for the kinds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from registry.exports.epcis.document import master_data
from registry.exports.epcis.event_bodies import object_event_body, transformation_body
from registry.exports.epcis.event_fields import EVENT_TYPES, event_body
from registry.exports.epcis.facts import LoggedRecord
from registry.exports.epcis.identifiers import record_uri
from registry.exports.epcis.naming import EventNames
from registry.exports.epcis.sensor_data import sensor_element_list
from registry.exports.epcis.values import offset_of, utc_text
from registry.exports.epcis.vocabulary import PREFIX, SUPPLY_KINDS, ext

_ORDER = [
    "type",
    "eventTime",
    "eventTimeZoneOffset",
    "recordTime",
    "eventID",
    "errorDeclaration",
    "certificationInfo",
    "parentID",
    "epcList",
    "childEPCs",
    "inputEPCList",
    "outputEPCList",
    "action",
    "quantityList",
    "childQuantityList",
    "inputQuantityList",
    "outputQuantityList",
    "bizStep",
    "disposition",
    "persistentDisposition",
    "readPoint",
    "bizLocation",
    "bizTransactionList",
    "sourceList",
    "destinationList",
    "sensorElementList",
    "ilmd",
]


_BODY = frozenset(_ORDER) - {"eventTime", "eventTimeZoneOffset", "recordTime", "eventID"}
"""The fields of an event's body, which an event kept whole says instead of the kind."""


def _ordered(event: dict[str, Any]) -> dict[str, Any]:
    """Standard fields in the order of the standard's examples, extensions last."""
    ordered = {k: event[k] for k in _ORDER if k in event}
    ordered.update({k: v for k, v in event.items() if k not in ordered})
    return ordered


def _proof(record: LoggedRecord, kind: str) -> dict[str, Any]:
    """The extensions that name a record's place in the log and who signed it."""
    extensions: dict[str, Any] = {
        ext("logIndex"): record.log_index,
        ext("digest"): record.digest,
        ext("kind"): kind,
    }
    if record.org is not None:
        extensions[ext("org")] = str(record.org.id)
    return extensions


@dataclass
class Exporter(EventNames):
    """Builds EPCIS events of records, remembering the classes and locations they name."""

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
        extensions = _proof(record, kind)
        if doc.get("note"):
            extensions[ext("note")] = doc["note"]
        if isinstance(doc.get("place"), dict):
            extensions[ext("place")] = doc["place"]
        if isinstance(doc.get("epcis"), dict):  # captured: the event it came from
            extensions[ext("capturedFrom")] = doc["epcis"]
        read_point: str | dict[str, Any] | None = self.read_point(record)
        biz_location: str | dict[str, Any] | None = self.biz_location(record.org)
        if kind == "processing":
            # The record's own event type replaces the ObjectEvent defaults.
            event.update(transformation_body(self, doc, extensions))
        elif kind not in EVENT_TYPES:
            event.update(object_event_body(self, kind, doc, refs, extensions))
        if isinstance(doc.get("event"), dict):  # an event kept whole: as it was captured
            renamed = self._bind(doc["event"].get("namespaces") or {})
            derived = event.pop("sensorElementList", [])
            event = {k: v for k, v in event.items() if k not in _BODY}
            event.update(event_body(kind, doc["event"], renamed))
            if kind == "processing":  # its instances are the record's, not the event's
                for key, items in (
                    ("inputEPCList", "input_items"),
                    ("outputEPCList", "output_items"),
                ):
                    if doc.get(items):
                        event[key] = list(doc[items])
            if derived and kind == "inspection":  # its results, as the builder writes them
                event["sensorElementList"] = derived
            read_point = event.pop("readPoint", None)  # whole, with its extensions
            biz_location = event.pop("bizLocation", None)
        if doc.get("items") and kind not in EVENT_TYPES:
            event["epcList"] = list(doc["items"])
        if doc.get("sensors"):  # captured sensor data, whole
            whole = sensor_element_list(doc["sensors"], self._bind)
            derived = event.get("sensorElementList", []) if kind == "inspection" else []
            event["sensorElementList"] = derived + whole
        for key, where in (("readPoint", read_point), ("bizLocation", biz_location)):
            if where is not None:
                event[key] = where if isinstance(where, dict) else {"id": where}
        event.update(extensions)
        return _ordered(event)

    def _bind(self, namespaces: dict[str, str]) -> dict[str, str]:
        """Bind a record's extension prefixes in the document's @context; a prefix another
        record binds to another IRI is renamed (``ex`` → ``ex2``). Returns the renames."""
        renamed = {}
        for prefix, iri in namespaces.items():
            name, n = prefix, 1
            while name == PREFIX or self.namespaces_used.get(name, iri) != iri:
                n += 1
                name = f"{prefix}{n}"  # a URI scheme: no "_"
            self.namespaces_used[name] = iri
            if name != prefix:
                renamed[prefix] = name
        return renamed

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
        return master_data(self.classes_used, self.locations_used)
