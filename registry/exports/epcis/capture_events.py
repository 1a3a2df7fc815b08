"""Captured AggregationEvents, AssociationEvents and TransactionEvents: record kinds
``aggregation`` (packing into cases and pallets), ``association`` (a sensor or asset
associated with goods) and ``transaction`` (goods tied to business transactions); and
``observation``, an ObjectEvent whose bizStep has no registry kind of its own. The
event's what, where and why are kept whole in the record's ``event`` (docs/records.md);
the batches are those its class-level quantities and instance-level identifiers name.
A field the record cannot hold is a problem naming it, never dropped.
"""

from __future__ import annotations

from typing import Any

from registry.exports.epcis.event_view import (
    EventView,
    Resolver,
    extension_namespaces,
    instance_batches,
    keep_extension,
    quantity_elements,
    resolve_class,
)
from registry.exports.epcis.values import decimal_text
from registry.exports.epcis.vocabulary import (
    BIZ_STEPS,
    BIZ_TRANSACTION_TYPES,
    DISPOSITIONS,
    NS,
    SOURCE_DESTINATION_TYPES,
)

_COMMON = frozenset(
    {
        "type",
        "eventID",
        "eventTime",
        "eventTimeZoneOffset",
        "recordTime",
        "errorDeclaration",
        "action",
        "bizStep",
        "disposition",
        "persistentDisposition",
        "readPoint",
        "bizLocation",
        "bizTransactionList",
        "sourceList",
        "destinationList",
        "sensorElementList",
        "certificationInfo",
        "ilmd",
        "@context",
    }
)
_EXTENSIONS = ("extensions", "read_point_extensions", "biz_location_extensions")
"""The fields of a record's ``event`` that hold user extension fields."""
_SHAPES = {
    # event type: (record kind, identifier list, quantity list, parent allowed)
    "AggregationEvent": ("aggregation", "childEPCs", "childQuantityList"),
    "AssociationEvent": ("association", "childEPCs", "childQuantityList"),
    "TransactionEvent": ("transaction", "epcList", "quantityList"),
    "ObjectEvent": ("observation", "epcList", "quantityList"),
}


def _registry_field(view: EventView, key: str) -> bool:
    prefix, colon, _ = key.partition(":")
    return (bool(colon) and prefix in view.prefixes) or key.startswith(NS)


def _text(
    view: EventView, path: str, value: object, terms: frozenset[str] | None = None
) -> str | None:
    """An identifier or vocabulary value; with ``terms``, a bare word must be one of them
    (CBV 2.0) and anything else a URI."""
    if not isinstance(value, str) or not value or any(c.isspace() for c in value):
        view.problem(path, "must be an identifier or vocabulary value (no spaces)")
        return None
    if ":" not in value and (terms is None or value not in terms):
        what = "a CBV 2.0 term or a URI" if terms is not None else "a URI"
        view.problem(path, f"{value!r} is not {what}")
        return None
    return value


def _where(view: EventView, key: str) -> tuple[str, dict[str, str]] | None:
    """The ``id`` of a readPoint or bizLocation and the user extension fields inside it."""
    where = view.event.get(key)
    if where is None:
        return None
    if not isinstance(where, dict) or "id" not in where:
        view.problem(key, "must be an object with an id")
        return None
    inside: dict[str, str] = {}
    for extra, value in where.items():
        if extra != "id":
            keep_extension(view, f"{key}.{extra}", extra, value, inside)
    identifier = _text(view, f"{key}.id", where["id"])
    return (identifier, inside) if identifier else None


def _links(
    view: EventView, key: str, item: str, terms: frozenset[str]
) -> list[dict[str, str]] | None:
    links = []
    for i, entry in enumerate(view.list(key)):
        path = f"{key}[{i}]"
        if not isinstance(entry, dict) or item not in entry:
            view.problem(path, f"needs {item}")
            continue
        for extra in entry:
            if extra not in ("type", item):
                view.problem(f"{path}.{extra}", "cannot be represented")
        link: dict[str, str] = {}
        if "type" in entry:
            kind = _text(view, f"{path}.type", entry["type"], terms)
            if kind:
                link["type"] = kind
        identifier = _text(view, f"{path}.{item}", entry[item])
        if identifier:
            link["id"] = identifier
            links.append(link)
    return links or None


def _quantities(view: EventView, key: str) -> list[dict[str, Any]] | None:
    kept = []
    for path, element in quantity_elements(view, key):
        quantity: dict[str, Any] = {"epc_class": element["epcClass"]}
        for extra in element:
            if extra not in ("epcClass", "quantity", "uom"):
                view.problem(f"{path}.{extra}", "cannot be represented")
        if "quantity" in element:
            try:
                quantity["quantity"] = decimal_text(element["quantity"])
            except ValueError as exc:
                view.problem(f"{path}.quantity", str(exc))
        if "uom" in element:
            quantity["uom"] = element["uom"]
        kept.append(quantity)
    return kept or None


def _persistent(view: EventView) -> dict[str, list[str]] | None:
    value = view.event.get("persistentDisposition")
    if value is None:
        return None
    if not isinstance(value, dict):
        view.problem("persistentDisposition", "must be an object with set and/or unset")
        return None
    kept: dict[str, list[str]] = {}
    for key, items in value.items():
        if key not in ("set", "unset") or not isinstance(items, list):
            view.problem(f"persistentDisposition.{key}", "cannot be represented")
            continue
        kept[key] = [
            t
            for i, x in enumerate(items)
            if (t := _text(view, f"persistentDisposition.{key}[{i}]", x, DISPOSITIONS))
        ]
    return kept or None


def _ilmd(view: EventView) -> dict[str, str] | None:
    ilmd = view.event.get("ilmd")
    if ilmd is None:
        return None
    if not isinstance(ilmd, dict):
        view.problem("ilmd", "must be an object")
        return None
    kept = {}
    for key, value in ilmd.items():
        if ":" not in key:
            view.problem(f"ilmd.{key}", "an ILMD field is a namespaced IRI (cbvmda:… or yours)")
            continue
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            view.problem(f"ilmd.{key}", "cannot be represented: the registry keeps text values")
            continue
        kept[key] = value if isinstance(value, str) else decimal_text(value)
    return kept or None


_TRANSFORMATION = (
    "inputEPCList",
    "outputEPCList",
    "inputQuantityList",
    "outputQuantityList",
    "transformationID",
)


def event_fields(view: EventView, items_key: str, quantities_key: str) -> dict[str, Any]:
    """The record's ``event``: every standard field of the event but the sensor data (and
    the instance-level identifiers, which the record keeps in ``items``)."""
    fields: dict[str, Any] = {}
    extensions: dict[str, str] = {}
    transformation = view.event.get("type") == "TransformationEvent"
    for key, value in view.event.items():
        own = key in _COMMON or key in ("parentID", items_key, quantities_key)
        own = own or (transformation and key in _TRANSFORMATION)
        if own or _registry_field(view, key):
            continue
        keep_extension(view, key, key, value, extensions)
    if extensions:
        fields["extensions"] = extensions
    action = view.text("action")
    if transformation:  # no action: what it consumes and makes
        for key, name in (
            ("inputQuantityList", "input_quantities"),
            ("outputQuantityList", "output_quantities"),
        ):
            quantities = _quantities(view, key)
            if quantities:
                fields[name] = quantities
        if "transformationID" in view.event:
            identifier = _text(view, "transformationID", view.event["transformationID"])
            if identifier:
                fields["transformation_id"] = identifier
    elif action not in ("ADD", "OBSERVE", "DELETE"):
        view.problem("action", "ADD, OBSERVE or DELETE")
    else:
        fields["action"] = action
    if "parentID" in view.event:
        parent = _text(view, "parentID", view.event["parentID"])
        if parent:
            fields["parent"] = parent
    if view.items:
        fields["items"] = list(view.items)
    quantities = _quantities(view, quantities_key) if not transformation else None
    if quantities:
        fields["quantities"] = quantities
    for key, name, terms in (
        ("bizStep", "biz_step", BIZ_STEPS),
        ("disposition", "disposition", DISPOSITIONS),
    ):
        if key in view.event:
            value = _text(view, key, view.event[key], terms)
            if value:
                fields[name] = value
    persistent = _persistent(view)
    if persistent:
        fields["persistent_disposition"] = persistent
    for key, name in (("readPoint", "read_point"), ("bizLocation", "biz_location")):
        where = _where(view, key)
        if where:
            fields[name], inside = where
            if inside:
                fields[f"{name}_extensions"] = inside
    for key, item, name, terms in (
        ("bizTransactionList", "bizTransaction", "biz_transactions", BIZ_TRANSACTION_TYPES),
        ("sourceList", "source", "sources", SOURCE_DESTINATION_TYPES),
        ("destinationList", "destination", "destinations", SOURCE_DESTINATION_TYPES),
    ):
        links = _links(view, key, item, terms)
        if links:
            fields[name] = links
    certification = view.event.get("certificationInfo")
    if certification is not None:
        listed = certification if isinstance(certification, list) else [certification]
        texts = [
            t for i, c in enumerate(listed) if (t := _text(view, f"certificationInfo[{i}]", c))
        ]
        if texts:
            fields["certification_info"] = texts
    ilmd = _ilmd(view)
    if ilmd:
        fields["ilmd"] = ilmd
    kept = [fields.get(k) or {} for k in _EXTENSIONS]
    namespaces = extension_namespaces(view, kept)
    if namespaces:
        fields["namespaces"] = namespaces
    return fields


def kept_whole(view: EventView, draft: dict[str, Any]) -> None:
    """What a record of a kind with fields of its own (harvest, shipping, processing …)
    keeps of the event beside them, so it exports back as the event captured: the event's
    what, where and why in ``event``, its instances still in ``items``."""
    fields = event_fields(view, "epcList", "quantityList")
    fields.pop("items", None)
    if fields:
        draft["event"] = fields


def other_event(view: EventView, draft: dict[str, Any], resolve: Resolver, event_type: str) -> None:
    """An AggregationEvent, AssociationEvent or TransactionEvent as a record draft."""
    kind, items_key, quantities_key = _SHAPES[event_type]
    draft["kind"] = kind
    refs: list[str] = []
    for path, element in quantity_elements(view, quantities_key):
        resolved = resolve_class(view, f"{path}.epcClass", element["epcClass"], resolve, False)
        if resolved is not None and resolved.ref not in refs:
            refs.append(resolved.ref)
    for _, _, ref in instance_batches(view, items_key, resolve):
        if ref not in refs:
            refs.append(ref)
    if not refs and not view.problems:
        view.problem(quantities_key, f"names no batch ({items_key} or {quantities_key})")
    draft["batches"] = refs
    draft["event"] = event_fields(view, items_key, quantities_key)
    view.items.clear()  # kept in event.items
