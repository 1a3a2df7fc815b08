"""What each kind of record says as an EPCIS 2.0 event: the body fields and the ``gr:``
extensions of its kind (the table in the package docstring and docs/records.md).

A builder fills ``body`` (standard fields) and ``extensions`` (in the order they are
written) and returns the event's quantityList, or None to keep the default (every batch
named, without a quantity).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from functools import partial
from typing import Any

from registry.exports.epcis.identifiers import (
    certificate_uri,
    document_uri,
    org_uri,
    region_uri,
    substance_uri,
)
from registry.exports.epcis.naming import EventNames
from registry.exports.epcis.values import number
from registry.exports.epcis.vocabulary import ASSIGNING, CERTIFYING, MEASURE_CODES, ext

Quantities = list[dict[str, Any]]
"""An event's quantityList (EPCIS 2.0 QuantityElements)."""

Builder = Callable[
    [EventNames, dict[str, Any], list[str], dict[str, Any], dict[str, Any]], Quantities | None
]
"""``builder(names, doc, refs, body, extensions)``: fills the event of one record kind and
returns its quantityList, or None to keep the default."""


def transformation_body(
    names: EventNames, doc: dict[str, Any], extensions: dict[str, Any]
) -> dict[str, Any]:
    """A processing record as a TransformationEvent (EPCIS 2.0 TransformationEvent; CBV 2.0
    bizStep ``commissioning``): inputs consumed, outputs made."""
    inputs = doc.get("inputs", [])
    outputs = doc.get("outputs", [])
    body: dict[str, Any] = {"type": "TransformationEvent"}
    # Instances (inputEPCList, outputEPCList), and the quantities no instance count gave.
    for key, items in (("inputEPCList", "input_items"), ("outputEPCList", "output_items")):
        if doc.get(items):
            body[key] = list(doc[items])
    quantities = {
        "inputQuantityList": [
            names.quantity(i["batch"], i["quantity"], None) for i in inputs if not i.get("counted")
        ],
        "outputQuantityList": [
            names.quantity(o["batch"], o["quantity"], o["unit"])
            for o in outputs
            if not o.get("counted")
        ],
    }
    body.update({key: listed for key, listed in quantities.items() if listed})
    body.update(bizStep="commissioning", disposition="active")
    for counted in [*inputs, *outputs]:
        if counted.get("counted"):
            names.epc_class(counted["batch"])  # named in master data, as its instances' class
    best_before = {o.get("best_before") for o in outputs}
    if len(best_before) == 1 and None not in best_before:
        body["ilmd"] = {"cbvmda:bestBeforeDate": best_before.pop()}
    units = names.units(
        [(i["batch"], names.batch(i["batch"]).unit) for i in inputs]
        + [(o["batch"], o["unit"]) for o in outputs]
    )
    if units:
        extensions[ext("units")] = units
    if doc.get("process"):
        extensions[ext("process")] = doc["process"]
    extensions[ext("outputs")] = [
        {"epcClass": names.epc_class(o["batch"]), "bestBefore": o.get("best_before")}
        for o in outputs
    ]
    return body


def object_event_body(
    names: EventNames, kind: str, doc: dict[str, Any], refs: list[str], extensions: dict[str, Any]
) -> dict[str, Any]:
    """The ObjectEvent fields of a record of ``kind`` (EPCIS 2.0 ObjectEvent)."""
    body: dict[str, Any] = {"action": "OBSERVE"}
    quantities = [names.quantity(ref, None, None) for ref in refs]
    builder = _BUILDERS.get(kind)
    if builder is not None:
        quantities = builder(names, doc, refs, body, extensions) or quantities
    body["quantityList"] = quantities
    return body


def _harvest(
    names: EventNames,
    doc: dict[str, Any],
    refs: list[str],
    body: dict[str, Any],
    extensions: dict[str, Any],
) -> Quantities:
    """Commissioning (CBV 2.0 bizStep ``commissioning``, action ADD) with harvest ILMD."""
    ref = refs[0]
    body.update(action="ADD", bizStep="commissioning", disposition="active")
    quantities = [names.quantity(ref, doc["quantity"], doc["unit"])]
    ilmd: dict[str, Any] = {
        "cbvmda:harvestStartDate": doc["harvest_date"],
        "cbvmda:countryOfOrigin": "CN",
    }
    if doc.get("best_before"):
        ilmd["cbvmda:bestBeforeDate"] = doc["best_before"]
    body["ilmd"] = ilmd
    units = names.units([(ref, doc["unit"])])
    if units:
        extensions[ext("units")] = units
    return quantities


def _packing(
    names: EventNames,
    doc: dict[str, Any],
    refs: list[str],
    body: dict[str, Any],
    extensions: dict[str, Any],
) -> Quantities:
    """CBV 2.0 bizStep ``packing``: the packed quantity, the package in ``gr:package``."""
    package = doc["package"]
    total = Decimal(package["size"]) * package["count"]
    quantities = [names.quantity(ref, str(total), package["unit"]) for ref in refs]
    body.update(bizStep="packing", disposition="active")
    extensions[ext("package")] = package
    if doc.get("packaging"):
        extensions[ext("packaging")] = doc["packaging"]
    return quantities


def _inspection(
    names: EventNames,
    doc: dict[str, Any],
    refs: list[str],
    body: dict[str, Any],
    extensions: dict[str, Any],
) -> None:
    """CBV 2.0 bizStep ``inspecting``: a sensorReport per substance, the report as a
    ``testres`` business transaction, disposition ``conformant`` / ``non_conformant``."""
    body.update(
        bizStep="inspecting",
        disposition="conformant" if doc["verdict"] == "pass" else "non_conformant",
        bizTransactionList=[
            {
                "type": "testres",
                "bizTransaction": document_uri(names.base_url, "reports", doc["report_number"]),
            }
        ],
        sensorElementList=[{"sensorReport": [_result(names, r) for r in doc["results"]]}],
    )
    extensions[ext("reportNumber")] = doc["report_number"]
    extensions[ext("verdict")] = doc["verdict"]
    if doc.get("sampled_on"):
        extensions[ext("sampledOn")] = doc["sampled_on"]


def _result(names: EventNames, result: dict[str, Any]) -> dict[str, Any]:
    """A lab result as an EPCIS 2.0 sensorReport with ``chemicalSubstance``."""
    code, measurement = MEASURE_CODES.get(result["unit"], (None, "Dimensionless"))
    return {
        "type": measurement,
        "chemicalSubstance": substance_uri(names.base_url, result["substance"]),
        "value": number(result["value"]),
        "uom": code or result["unit"],
        ext("substance"): result["substance"],
        ext("limit"): result["limit"],
        ext("unit"): result["unit"],
        ext("method"): result["method"],
        ext("verdict"): result["verdict"],
    }


def _certificate(
    names: EventNames,
    doc: dict[str, Any],
    refs: list[str],
    body: dict[str, Any],
    extensions: dict[str, Any],
) -> Quantities | None:
    """A 合格证: ``certificationInfo`` (EPCIS 2.0) naming each batch's certificate page."""
    body.update(
        bizStep=CERTIFYING,
        certificationInfo=[certificate_uri(names.base_url, names.batch(ref).code) for ref in refs],
    )
    quantities = None
    if len(refs) == 1 and doc.get("quantity"):
        quantities = [names.quantity(refs[0], doc["quantity"], doc.get("unit"))]
    extensions[ext("certificateNumber")] = doc["certificate_number"]
    extensions[ext("promise")] = doc["promise"]
    extensions[ext("basis")] = list(doc["basis"])
    if doc.get("contact_phone"):
        extensions[ext("contactPhone")] = doc["contact_phone"]
    if doc.get("quantity"):
        extensions[ext("quantity")] = doc["quantity"]
        extensions[ext("unit")] = doc.get("unit")
    return quantities


def _storage(
    names: EventNames,
    doc: dict[str, Any],
    refs: list[str],
    body: dict[str, Any],
    extensions: dict[str, Any],
) -> None:
    """CBV 2.0 bizStep ``holding``: a Temperature (and RelativeHumidity) report a reading."""
    readings = doc.get("readings", [])
    body["bizStep"] = "holding"
    if readings:
        body["sensorElementList"] = [_reading(r) for r in readings]
    extensions[ext("location")] = doc["location"]


def _reading(reading: dict[str, Any]) -> dict[str, Any]:
    """A storage reading as an EPCIS 2.0 sensorElement (CEL, and P1 for humidity)."""
    reports: list[dict[str, Any]] = [
        {"type": "Temperature", "value": number(reading["celsius"]), "uom": "CEL"}
    ]
    if reading.get("humidity") is not None:
        reports.append(
            {"type": "RelativeHumidity", "value": number(reading["humidity"]), "uom": "P1"}
        )
    return {"sensorMetadata": {"time": reading["time"]}, "sensorReport": reports}


def _transfer(
    kind: str,
    names: EventNames,
    doc: dict[str, Any],
    refs: list[str],
    body: dict[str, Any],
    extensions: dict[str, Any],
) -> Quantities | None:
    """Shipping or receiving: the other party as destinationList / sourceList (CBV 2.0
    source/destination types), the waybill as a ``bol`` business transaction."""
    party_key, list_key, item_key = (
        ("to", "destinationList", "destination")
        if kind == "shipping"
        else ("source", "sourceList", "source")
    )
    party = doc[party_key]
    body.update(bizStep=kind, disposition="in_transit" if kind == "shipping" else "in_progress")
    parties = _parties(names.base_url, party, item_key)
    if parties:
        body[list_key] = parties
    if doc.get("waybill"):
        body["bizTransactionList"] = [
            {
                "type": "bol",
                "bizTransaction": document_uri(names.base_url, "waybills", doc["waybill"]),
            }
        ]
        extensions[ext("waybill")] = doc["waybill"]
    quantities = None
    if doc.get("quantity") and len(refs) == 1:
        quantities = [names.quantity(refs[0], doc["quantity"], doc.get("unit"))]
        units = names.units([(refs[0], doc.get("unit"))])
        if units:
            extensions[ext("units")] = units
    extensions[ext(party_key)] = party
    if doc.get("vehicle"):
        extensions[ext("vehicle")] = doc["vehicle"]
    return quantities


def _parties(base_url: str, party: dict[str, Any], item_key: str) -> list[dict[str, Any]]:
    """The source or destination entries (CBV 2.0 ``owning_party``, ``location``)."""
    parties = []
    if party.get("org"):
        parties.append({"type": "owning_party", item_key: org_uri(base_url, party["org"])})
    if isinstance(party.get("place"), dict):
        parties.append(
            {"type": "location", item_key: region_uri(base_url, party["place"]["region"])}
        )
    return parties


def _recall(
    names: EventNames,
    doc: dict[str, Any],
    refs: list[str],
    body: dict[str, Any],
    extensions: dict[str, Any],
) -> None:
    """A recall: disposition ``recalled`` (CBV 2.0), the reason and scope as extensions."""
    body["disposition"] = "recalled"
    extensions[ext("reason")] = doc["reason"]
    extensions[ext("scope")] = doc.get("scope", "batch_and_descendants")


def _assignment(
    names: EventNames,
    doc: dict[str, Any],
    refs: list[str],
    body: dict[str, Any],
    extensions: dict[str, Any],
) -> None:
    """An assignment (委托): bizStep ``gr:assigning`` (CBV 2.0 has none), the organization
    handed the batch as a ``possessing_party`` destination, the party and task as
    extensions so a capture re-creates the record."""
    body["bizStep"] = ASSIGNING
    body["destinationList"] = [
        {"type": "possessing_party", "destination": org_uri(names.base_url, doc["to"]["org"])}
    ]
    extensions[ext("to")] = doc["to"]
    extensions[ext("task")] = doc["task"]


_BUILDERS: dict[str, Builder] = {
    "harvest": _harvest,
    "packing": _packing,
    "inspection": _inspection,
    "certificate": _certificate,
    "storage": _storage,
    "shipping": partial(_transfer, "shipping"),  # CBV 2.0 disposition in_transit
    "receiving": partial(_transfer, "receiving"),  # CBV 2.0 disposition in_progress
    "recall": _recall,
    "assignment": _assignment,
}
