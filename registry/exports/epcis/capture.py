"""EPCIS 2.0 events to record drafts, for the capturing organization to sign.

An ObjectEvent is read by its CBV 2.0 bizStep and disposition, a TransformationEvent as
processing (the table in the package docstring); the draft fields are those of
docs/records.md. Every problem found is reported with its path within the event.
"""

from __future__ import annotations

from typing import Any

from registry.exports.epcis.capture_batches import NamedBatches, harvest, packing, processing
from registry.exports.epcis.capture_events import kept_whole, other_event
from registry.exports.epcis.capture_sensors import inspection, storage
from registry.exports.epcis.document import CaptureDocument, EventProblem
from registry.exports.epcis.event_view import EventView, Resolver, amount, named_batches, unit_of
from registry.exports.epcis.identifiers import region_of_uri, text_of_uri
from registry.exports.epcis.sensor_data import sensors_of_event
from registry.exports.epcis.values import record_time
from registry.exports.epcis.vocabulary import ASSIGNING, CERTIFYING, PREFIX

_STORAGE_STEPS = ("holding", "sensor_reporting", "storing")
_OWN_STEPS = frozenset(
    {"packing", "inspecting", "shipping", "receiving", ASSIGNING, *_STORAGE_STEPS}
)
"""bizSteps of an ObjectEvent that have a record kind of their own (the others are kept
whole as an ``observation``)."""


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
    view = EventView(event, document.prefixes, document.classes, document.namespaces)
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
    sensors = sensors_of_event(view)
    if sensors:
        draft["sensors"] = sensors
    if event.get("errorDeclaration") is not None:
        # The capture service makes corrections of them (capture_corrections).
        view.problem("errorDeclaration", "an error declaration is captured as a correction")
    elif event_type == "TransformationEvent":
        processing(view, draft, resolve)
    elif event_type == "ObjectEvent":
        _object_event(view, draft, resolve, default_region)
    elif event_type in ("AggregationEvent", "AssociationEvent", "TransactionEvent"):
        other_event(view, draft, resolve, str(event_type))
    else:
        view.problem("type", f"{event_type!r} is not an EPCIS 2.0 event type")
    if draft.get("kind") is not None and "event" not in draft:
        kept_whole(view, draft)
    if view.items:
        draft["items"] = list(view.items)
    if draft.get("kind") == "inspection" and sensors:
        _keep_other_than_results(draft)
    if view.problems:
        raise EventProblem(list(dict.fromkeys(view.problems)))
    return draft


def _keep_other_than_results(draft: dict[str, Any]) -> None:
    """An inspection's chemicalSubstance reports are its ``results``; ``sensors`` keeps the
    rest of its sensor data."""
    kept = []
    for sensor in draft.pop("sensors"):
        reports = [r for r in sensor["reports"] if "chemical_substance" not in r]
        if reports:
            kept.append({**sensor, "reports": reports})
    if kept:
        draft["sensors"] = kept


def _object_event(
    view: EventView, draft: dict[str, Any], resolve: Resolver, default_region: str
) -> None:
    """An ObjectEvent by its bizStep (and action, disposition)."""
    biz_step = view.text("bizStep")
    action = view.text("action")
    place = view.ext("place")
    if isinstance(place, dict):
        draft["place"] = place
    if biz_step == "commissioning" and action == "ADD":
        if "place" not in draft:  # a harvest names its origin: the read point's region
            read_point = view.event.get("readPoint")
            where = read_point.get("id") if isinstance(read_point, dict) else None
            draft["place"] = {"region": region_of_uri(where) or default_region}
        harvest(view, draft, resolve)
        return
    if view.text("disposition") == "recalled":
        _recall(view, draft, resolve)
        return
    if biz_step == "commissioning":
        view.problem("action", "a commissioning (harvest) event has action ADD")
        return
    certifying = biz_step == CERTIFYING or (
        biz_step is None and bool(view.event.get("certificationInfo"))
    )
    if biz_step not in _OWN_STEPS and not certifying:
        other_event(view, draft, resolve, "ObjectEvent")  # no registry kind: kept whole
        return
    batches = named_batches(view, resolve)
    draft["batches"] = [ref for _, _, ref in batches]
    if biz_step == "packing":
        packing(view, draft, batches)
    elif biz_step == "inspecting":
        inspection(view, draft)
    elif biz_step in _STORAGE_STEPS:
        storage(view, draft)
    elif biz_step in ("shipping", "receiving"):
        _transfer(view, draft, biz_step, batches)
    elif biz_step == ASSIGNING:
        _assignment(view, draft)
    else:
        _certificate(view, draft)


def _recall(view: EventView, draft: dict[str, Any], resolve: Resolver) -> None:
    """Disposition ``recalled`` (CBV 2.0) as a recall of the batches named."""
    draft["kind"] = "recall"
    draft["batches"] = [ref for _, _, ref in named_batches(view, resolve)]
    reason = view.ext("reason")
    draft["reason"] = reason if isinstance(reason, str) else "EPCIS: disposition recalled"


def _party(view: EventView, list_key: str, item_key: str) -> dict[str, Any] | None:
    """The first source or destination of the event, as a party by name."""
    for entry in view.list(list_key):
        if isinstance(entry, dict) and isinstance(entry.get(item_key), str):
            return {"name": str(entry[item_key])[:100]}
    return None


def _transfer(view: EventView, draft: dict[str, Any], kind: str, batches: NamedBatches) -> None:
    """A ``shipping`` or ``receiving`` ObjectEvent: the other party (``gr:to`` / ``gr:source``,
    else destinationList / sourceList), the waybill (``bol`` or ``desadv``), the quantity."""
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
                waybill = text_of_uri(str(transaction.get("bizTransaction")), "/waybills/")
                break
    if isinstance(waybill, str):
        draft["waybill"] = waybill
    vehicle = view.ext("vehicle")
    if kind == "shipping" and isinstance(vehicle, str):
        draft["vehicle"] = vehicle
    if len(batches) == 1 and "quantity" in batches[0][1]:
        path, element, _ = batches[0]
        draft["quantity"] = amount(view, path, element, True)
        draft["unit"] = unit_of(view, path, element, None)


def _assignment(view: EventView, draft: dict[str, Any]) -> None:
    """A ``gr:assigning`` event: the organization handed the batch (``gr:to``) and the task."""
    draft["kind"] = "assignment"
    for name in ("to", "task"):
        value = view.ext(name)
        if value is None:
            view.problem(f"{PREFIX}:{name}", "required for an assignment")
        else:
            draft[name] = value


def _certificate(view: EventView, draft: dict[str, Any]) -> None:
    """A 合格证 event (``gr:certifying`` or certificationInfo): number, promise, basis."""
    draft["kind"] = "certificate"
    for name, key in (("certificateNumber", "certificate_number"), ("promise", "promise")):
        value = view.ext(name)
        if not isinstance(value, str):
            view.problem(f"{PREFIX}:{name}", "required for a 合格证")
        else:
            draft[key] = value
    basis = view.ext("basis")
    draft["basis"] = basis if isinstance(basis, list) else ["self_test"]
    phone = view.ext("contactPhone")
    if isinstance(phone, str):
        draft["contact_phone"] = phone
    quantity = view.ext("quantity")
    if isinstance(quantity, str):
        draft["quantity"] = quantity
        unit = view.ext("unit")
        if isinstance(unit, str):
            draft["unit"] = unit
