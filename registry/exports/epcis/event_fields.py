"""The records that keep an EPCIS 2.0 event whole (their ``event``: ``aggregation``,
``association``, ``transaction``, ``observation``, and any record captured from an event)
written back as that event. The inverse of ``capture_events``."""

from __future__ import annotations

import json
import re
from typing import Any

from registry.exports.epcis.values import number

EVENT_TYPES = {
    "aggregation": ("AggregationEvent", "childEPCs", "childQuantityList"),
    "association": ("AssociationEvent", "childEPCs", "childQuantityList"),
    "transaction": ("TransactionEvent", "epcList", "quantityList"),
    "observation": ("ObjectEvent", "epcList", "quantityList"),
}
"""Record kind → (EPCIS event type, its identifier list, its quantity list)."""
_OTHER_TYPE = ("ObjectEvent", "epcList", "quantityList")
"""What a captured record of another kind was (processing: a TransformationEvent)."""


def _quantity(element: dict[str, Any]) -> dict[str, Any]:
    written: dict[str, Any] = {"epcClass": element["epc_class"]}
    if "quantity" in element:
        written["quantity"] = number(element["quantity"])
    if "uom" in element:
        written["uom"] = element["uom"]
    return written


def _links(links: list[dict[str, str]], item: str) -> list[dict[str, str]]:
    return [{**({"type": x["type"]} if "type" in x else {}), item: x["id"]} for x in links]


def _renamed(text: str, renamed: dict[str, str]) -> str:
    for old, new in renamed.items():
        text = re.sub(rf'(?<=")({re.escape(old)}):', f"{new}:", text)
    return text


def extension_fields(
    extensions: dict[str, str] | None, renamed: dict[str, str] | None = None
) -> dict[str, Any]:
    """User extension fields kept as RFC 8785 JSON text, as JSON again; ``renamed`` are
    prefixes written under another name (``Exporter._bind``)."""
    return {
        _renamed(f'"{key}', renamed or {})[1:]: json.loads(_renamed(text, renamed or {}))
        for key, text in (extensions or {}).items()
    }


def event_body(
    kind: str, fields: dict[str, Any], renamed: dict[str, str] | None = None
) -> dict[str, Any]:
    """The fields of the EPCIS event a record of ``kind`` keeps in ``event``; ``renamed``
    are prefixes its extensions are written under another name (``Exporter._bind``)."""
    event_type, items_key, quantities_key = EVENT_TYPES.get(kind, _OTHER_TYPE)
    if kind == "processing":
        event_type = "TransformationEvent"
    body: dict[str, Any] = {"type": event_type}
    if "transformation_id" in fields:
        body["transformationID"] = fields["transformation_id"]
    for name, key in (
        ("input_quantities", "inputQuantityList"),
        ("output_quantities", "outputQuantityList"),
    ):
        if name in fields:
            body[key] = [_quantity(q) for q in fields[name]]
    if "parent" in fields:
        body["parentID"] = fields["parent"]
    if "items" in fields:
        body[items_key] = list(fields["items"])
    if "quantities" in fields:
        body[quantities_key] = [_quantity(q) for q in fields["quantities"]]
    if "action" in fields:
        body["action"] = fields["action"]
    for name, key in (("biz_step", "bizStep"), ("disposition", "disposition")):
        if name in fields:
            body[key] = fields[name]
    if "persistent_disposition" in fields:
        body["persistentDisposition"] = dict(fields["persistent_disposition"])
    for name, key in (("read_point", "readPoint"), ("biz_location", "bizLocation")):
        if name in fields:
            body[key] = {"id": fields[name]}
            body[key].update(extension_fields(fields.get(f"{name}_extensions"), renamed))
    for name, key, item in (
        ("biz_transactions", "bizTransactionList", "bizTransaction"),
        ("sources", "sourceList", "source"),
        ("destinations", "destinationList", "destination"),
    ):
        if name in fields:
            body[key] = _links(fields[name], item)
    if "certification_info" in fields:
        listed = fields["certification_info"]
        body["certificationInfo"] = listed[0] if len(listed) == 1 else list(listed)
    if "ilmd" in fields:
        body["ilmd"] = dict(fields["ilmd"])
    body.update(extension_fields(fields.get("extensions"), renamed))
    return body
