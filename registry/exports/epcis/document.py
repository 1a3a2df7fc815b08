"""The EPCISDocument envelope (EPCIS 2.0 §9.2 JSON-LD binding) and its master data
(``epcisHeader.epcisMasterData``, EPCIS 2.0.1 §7.5, CBV 2.0 §10): written on export, read
on capture.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from registry import places
from registry.errors import InvalidInput
from registry.exports.epcis.facts import BatchInfo, OrgInfo
from registry.exports.epcis.values import utc_text
from registry.exports.epcis.vocabulary import (
    CBVMDA,
    EPCIS_CONTEXT,
    NS,
    PREFIX,
    SCHEMA_VERSION,
    VTYPE_CLASS,
    VTYPE_LOCATION,
    ext,
)

# --- export ----------------------------------------------------------------------------------


def epcis_document(
    events: list[dict[str, Any]],
    master_data: list[dict[str, Any]],
    *,
    created: datetime,
    log: Mapping[str, Any] | None = None,
    document_id: str | None = None,
    namespaces: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """An EPCISDocument (EPCIS 2.0 §9.2 JSON-LD binding) holding ``events``; ``namespaces``
    are the prefixes of captured extension fields the events carry."""
    document: dict[str, Any] = {
        "@context": [EPCIS_CONTEXT, {**(namespaces or {}), PREFIX: NS}],
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


def master_data(
    classes: Mapping[str, BatchInfo], locations: Mapping[str, OrgInfo | str]
) -> list[dict[str, Any]]:
    """EPCIS master data (EPCIS 2.0 §7.5, CBV 2.0 §10): the classes and locations named."""
    class_elements = [_class_element(uri, info) for uri, info in sorted(classes.items())]
    location_elements = [_location_element(uri, what) for uri, what in sorted(locations.items())]
    vocabularies = []
    if class_elements:
        vocabularies.append({"type": VTYPE_CLASS, "vocabularyElementList": class_elements})
    if location_elements:
        vocabularies.append({"type": VTYPE_LOCATION, "vocabularyElementList": location_elements})
    return vocabularies


def _class_element(uri: str, info: BatchInfo) -> dict[str, Any]:
    """An EPCClass vocabulary element: CBV 2.0 attributes and the ``gr:`` ones a capture
    needs (product id, lot, batch code, unit)."""
    attributes = [
        {"id": CBVMDA + "descriptionShort", "attribute": info.product_zh},
        {"id": CBVMDA + "tradeItemDescription", "attribute": info.product_en},
        {"id": CBVMDA + "lotNumber", "attribute": info.lot},
        {"id": NS + "product", "attribute": str(info.product_id)},
        {"id": NS + "lot", "attribute": info.lot},
        {"id": NS + "batchCode", "attribute": info.code},
        {"id": NS + "unit", "attribute": info.unit},
    ]
    if info.best_before:
        attributes.append({"id": CBVMDA + "bestBeforeDate", "attribute": str(info.best_before)})
    return {"id": uri, "attributes": attributes}


def _location_element(uri: str, what: OrgInfo | str) -> dict[str, Any]:
    """A BusinessLocation vocabulary element: an organization, or a bare region code."""
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
        name = places.region_name(what, "zh")
        if name is not None:  # the code is what systems join on; the name is for people
            english = places.region_name(what, "en")
            label = name if english == name else f"{name} {english}"
            attributes.insert(0, {"id": CBVMDA + "name", "attribute": label})
    return {"id": uri, "attributes": attributes}


# --- capture ---------------------------------------------------------------------------------


class EventProblem(InvalidInput):
    """What is wrong with one event (or the envelope): ``problems`` are (path, message).

    The capture service reports these per event (``registry.exports.epcis.capture_service``);
    they never reach a caller as they are."""

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
    namespaces: dict[str, str] = field(default_factory=dict)  # the context's own prefixes


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
    namespaces: dict[str, str] = {}
    context = document.get("@context")
    for item in context if isinstance(context, list) else [context]:
        if isinstance(item, dict):
            prefixes.update(k for k, v in item.items() if v == NS)
            namespaces.update((k, v) for k, v in item.items() if isinstance(v, str))
    return CaptureDocument(events, _master_classes(document), frozenset(prefixes), namespaces)


def _master_classes(document: dict[str, Any]) -> dict[str, MasterClass]:
    """The EPCClass elements of a document's master data, by identifier."""
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
            classes[element["id"]] = _master_class(attributes)
    return classes


def _master_class(attributes: dict[Any, Any]) -> MasterClass:
    """A class's master data from its attributes (text values only)."""

    def text(key: str) -> str | None:
        value = attributes.get(key)
        return value if isinstance(value, str) else None

    return MasterClass(
        product_id=text(NS + "product"),
        lot=text(NS + "lot") or text(CBVMDA + "lotNumber"),
        unit=text(NS + "unit"),
        best_before=text(CBVMDA + "bestBeforeDate"),
    )
