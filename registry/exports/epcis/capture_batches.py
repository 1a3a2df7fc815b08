"""Captured events that make or change batches: commissioning (harvest), transformation
(processing) and packing, read from their class-level quantities (EPCIS 2.0 QuantityElement)
and ILMD (CBV 2.0 ``cbvmda:`` lot master data). The draft fields are those of
docs/records.md.
"""

from __future__ import annotations

from typing import Any

from registry.exports.epcis.event_view import (
    EventView,
    Resolver,
    amount,
    instance_batch,
    quantity_elements,
    resolve_class,
    unit_of,
)

NamedBatches = list[tuple[str, dict[str, Any], str]]
"""(path, quantity element, batch ref) of each class an ObjectEvent names."""


def processing(view: EventView, draft: dict[str, Any], resolve: Resolver) -> None:
    """A TransformationEvent as a processing draft: inputs consumed, outputs made."""
    draft["kind"] = "processing"
    inputs = []
    for path, element in quantity_elements(view, "inputQuantityList"):
        resolved = resolve_class(view, f"{path}.epcClass", element["epcClass"], resolve, False)
        consumed = amount(view, path, element, True)
        if resolved is not None and consumed is not None:
            inputs.append({"batch": resolved.ref, "quantity": consumed})
    outputs = _outputs(view, resolve)
    for key, name, listed in (
        ("inputEPCList", "input_items", inputs),
        ("outputEPCList", "output_items", outputs),
    ):
        items = _instances(view, key, resolve, listed)
        if items:
            draft[name] = items
    if not inputs and not view.problems:
        view.problem("inputQuantityList", "a transformation needs inputs (quantities or instances)")
    if not outputs and not view.problems:
        view.problem(
            "outputQuantityList", "a transformation needs outputs (quantities or instances)"
        )
    draft["inputs"] = inputs
    draft["outputs"] = outputs
    process = view.ext("process")
    if isinstance(process, str):
        draft["process"] = process


def _instances(
    view: EventView, key: str, resolve: Resolver, listed: list[dict[str, Any]]
) -> list[str]:
    """The instances of a transformation's ``inputEPCList`` or ``outputEPCList``, each
    naming its batch. A batch no quantity element names (``listed``) is added, counted in
    instances: so many pieces. An input batch the registry counts otherwise (kg …) cannot
    be: how much of it is consumed is its quantity element's to say."""
    creating = key == "outputEPCList"
    identifiers: list[str] = []
    counts: dict[str, list[Any]] = {}  # ref: [path of the first, unit, count]
    for i, identifier in enumerate(view.list(key)):
        path = f"{key}[{i}]"
        resolved = instance_batch(view, path, identifier, resolve, creating)
        if resolved is None:
            continue
        identifiers.append(str(identifier))
        counts.setdefault(resolved.ref, [path, resolved.unit, 0])[2] += 1
    named = {entry["batch"] for entry in listed}
    for ref, (path, unit, count) in counts.items():
        if ref in named:
            continue
        if creating:
            listed.append({"batch": ref, "quantity": str(count), "unit": "piece", "counted": True})
        elif unit not in (None, "piece"):
            view.problem(
                path,
                f"its batch is counted in {unit}, not in pieces: how much of it is consumed is "
                "an inputQuantityList element of its class",
            )
        else:
            listed.append({"batch": ref, "quantity": str(count), "counted": True})
    return identifiers


def _outputs(view: EventView, resolve: Resolver) -> list[dict[str, Any]]:
    """The output batches of a transformation, with their best-before dates (``gr:outputs``,
    else the ILMD, else the document's master data)."""
    outputs_ext = view.ext("outputs")
    best_before_of = {
        o.get("epcClass"): o.get("bestBefore")
        for o in (outputs_ext if isinstance(outputs_ext, list) else [])
        if isinstance(o, dict)
    }
    ilmd = view.ilmd()
    outputs = []
    for path, element in quantity_elements(view, "outputQuantityList"):
        identifier = element["epcClass"]
        resolved = resolve_class(view, f"{path}.epcClass", identifier, resolve, True)
        made = amount(view, path, element, True)
        if resolved is None or made is None:
            continue
        output: dict[str, Any] = {
            "batch": resolved.ref,
            "quantity": made,
            "unit": unit_of(view, path, element, resolved.unit),
        }
        best_before = best_before_of.get(identifier) or ilmd.get("cbvmda:bestBeforeDate")
        if best_before is None and identifier in view.classes:
            best_before = view.classes[identifier].best_before
        if best_before:
            output["best_before"] = best_before
        outputs.append(output)
    return outputs


def harvest(view: EventView, draft: dict[str, Any], resolve: Resolver) -> None:
    """A commissioning ObjectEvent (action ADD) as a harvest draft: exactly one new batch,
    its quantity, harvest date (``cbvmda:harvestStartDate``) and best-before date."""
    draft["kind"] = "harvest"
    elements = quantity_elements(view, "quantityList")
    if len(elements) != 1:
        view.problem("quantityList", "a commissioning (harvest) event creates exactly one batch")
        return
    path, element = elements[0]
    resolved = resolve_class(view, f"{path}.epcClass", element["epcClass"], resolve, True)
    harvested_amount = amount(view, path, element, True)
    if resolved is None or harvested_amount is None:
        return
    draft["batches"] = [resolved.ref]
    draft["quantity"] = harvested_amount
    draft["unit"] = unit_of(view, path, element, resolved.unit)
    ilmd = view.ilmd()
    harvested = ilmd.get("cbvmda:harvestStartDate")
    if not isinstance(harvested, str) and "time" in draft:
        harvested = str(draft["time"])[:10]
    draft["harvest_date"] = harvested
    best_before = ilmd.get("cbvmda:bestBeforeDate") or ilmd.get("cbvmda:itemExpirationDate")
    if best_before:
        draft["best_before"] = best_before


def packing(view: EventView, draft: dict[str, Any], batches: NamedBatches) -> None:
    """A ``packing`` ObjectEvent as a packing draft: ``gr:package``, else one package of
    the single batch's quantity."""
    draft["kind"] = "packing"
    package = view.ext("package")
    if isinstance(package, dict):
        draft["package"] = package
    elif len(batches) == 1 and "quantity" in batches[0][1]:
        path, element, _ = batches[0]
        draft["package"] = {
            "count": 1,
            "size": amount(view, path, element, True),
            "unit": unit_of(view, path, element, None),
        }
    else:
        view.problem("quantityList", "packing needs a quantity (or the gr:package extension)")
    packaging = view.ext("packaging")
    if isinstance(packaging, str):
        draft["packaging"] = packaging
