"""One builder per record kind: the typed values of its form as the record's draft."""

from __future__ import annotations

from typing import Any

from registry.records.schema import CertificateBasis
from web.office.drafts import DraftBuilder
from web.office.fields import (
    INSPECTION_RESULTS,
    PROCESSING_INPUTS,
    PROCESSING_OUTPUTS,
    SHIP_TO_KINDS,
    STORAGE_READINGS,
    TASKS,
    VERDICTS,
)


def harvest(b: DraftBuilder) -> dict[str, Any]:
    product = b.product("product")
    lot = b.lot("lot")
    place: dict[str, Any] = {"region": b.region("place.region", required=True)}
    for key in ("name", "lat", "lon"):
        value = b.text(f"place.{key}") if key == "name" else b.decimal(f"place.{key}")
        if value:
            place[key] = value
    draft: dict[str, Any] = {
        "kind": "harvest",
        "batches": [f"{product.id}:{lot}" if product and lot else ""],
        "quantity": b.decimal("quantity", required=True, positive=True),
        "unit": b.text("unit", required=True, max_length=16),
        "harvest_date": b.date("harvest_date", required=True),
        "place": place,
    }
    best_before = b.date("best_before")
    if best_before:
        draft["best_before"] = best_before
    return b.common(draft)


def packing(b: DraftBuilder) -> dict[str, Any]:
    draft: dict[str, Any] = {
        "kind": "packing",
        "batches": [b.batch_ref("batch")],
        "package": {
            "count": b.integer("package.count", required=True),
            "size": b.decimal("package.size", required=True, positive=True),
            "unit": b.text("package.unit", required=True, max_length=16),
        },
    }
    packaging = b.text("packaging")
    if packaging:
        draft["packaging"] = packaging
    return b.common(draft)


def certificate(b: DraftBuilder) -> dict[str, Any]:
    basis = [v for v in b.form.getlist("basis") if v in {c.value for c in CertificateBasis}]
    if not basis:
        b.fail("basis", b._("至少选择一项依据"))
    draft: dict[str, Any] = {
        "kind": "certificate",
        "batches": [b.batch_ref("batch")],
        "certificate_number": b.text("certificate_number", required=True),
        "promise": b.text("promise", required=True, max_length=500),
        "basis": basis,
    }
    phone = b.text("contact_phone")
    if phone:
        draft["contact_phone"] = phone
    _quantity_unit(b, draft)
    return b.common(draft)


def storage(b: DraftBuilder) -> dict[str, Any]:
    readings: list[dict[str, Any]] = []
    for i in b.filled_rows(STORAGE_READINGS):
        reading: dict[str, Any] = {
            "time": b.moment(f"readings.{i}.time", required=True),
            "celsius": b.decimal(f"readings.{i}.celsius", required=True),
        }
        humidity = b.decimal(f"readings.{i}.humidity")
        if humidity:
            reading["humidity"] = humidity
        b.path_map[f"readings.{len(readings)}"] = f"readings.{i}"
        readings.append(reading)
    return b.common(
        {
            "kind": "storage",
            "batches": [b.batch_ref("batch")],
            "location": b.text("location", required=True),
            "readings": readings,
        }
    )


def _quantity_unit(b: DraftBuilder, draft: dict[str, Any]) -> None:
    quantity = b.decimal("quantity", positive=True)
    unit = b.text("unit", max_length=16)
    if quantity:
        draft["quantity"] = quantity
        if not unit:
            b.fail("unit", b._("填写数量时请填写单位"))
        draft["unit"] = unit


def shipping(b: DraftBuilder) -> dict[str, Any]:
    to: dict[str, Any] = {"name": b.text("to.name", required=True)}
    org = b.organization("to.org", SHIP_TO_KINDS)
    if org is not None:
        to["org"] = str(org.id)
    region = b.region("to.place.region")
    if region:
        to["place"] = {"region": region}
    draft: dict[str, Any] = {"kind": "shipping", "batches": [b.batch_ref("batch")], "to": to}
    _quantity_unit(b, draft)
    for key in ("vehicle", "waybill"):
        value = b.text(key)
        if value:
            draft[key] = value
    return b.common(draft)


def assignment(b: DraftBuilder) -> dict[str, Any]:
    task = b.choice("task", TASKS)
    kinds = ("lab",) if task == "inspection" else ("carrier",)
    org = b.organization("to.org", kinds, required=True)
    draft: dict[str, Any] = {
        "kind": "assignment",
        "batches": [b.batch_ref("batch")],
        "task": task,
        "to": {"org": str(org.id) if org else "", "name": org.name_zh if org else ""},
    }
    return b.common(draft)


def receiving(b: DraftBuilder) -> dict[str, Any]:
    draft: dict[str, Any] = {
        "kind": "receiving",
        "batches": [b.batch_ref("batch")],
        "source": {"name": b.text("source.name", required=True)},
    }
    _quantity_unit(b, draft)
    waybill = b.text("waybill")
    if waybill:
        draft["waybill"] = waybill
    return b.common(draft)


def inspection(b: DraftBuilder) -> dict[str, Any]:
    results: list[dict[str, Any]] = []
    for i in b.filled_rows(INSPECTION_RESULTS):
        prefix = f"results.{i}"
        results.append(
            {
                "substance": b.text(f"{prefix}.substance", required=True),
                "value": b.decimal(f"{prefix}.value", required=True),
                "limit": b.decimal(f"{prefix}.limit", required=True),
                "unit": b.text(f"{prefix}.unit", required=True, max_length=16),
                "method": b.text(f"{prefix}.method", required=True),
                "verdict": b.choice(f"{prefix}.verdict", VERDICTS),
            }
        )
        b.path_map[f"results.{len(results) - 1}"] = prefix
    if not results:
        b.fail("results.0.substance", b._("至少填写一项检测结果"))
    failed = any(r["verdict"] == "fail" for r in results)
    draft: dict[str, Any] = {
        "kind": "inspection",
        "batches": [b.batch_ref("batch")],
        "report_number": b.text("report_number", required=True),
        "results": results,
        "verdict": "fail" if failed else "pass",
    }
    sampled_on = b.date("sampled_on")
    if sampled_on:
        draft["sampled_on"] = sampled_on
    return b.common(draft)


def processing(b: DraftBuilder) -> dict[str, Any]:
    inputs: list[dict[str, Any]] = []
    for i in b.filled_rows(PROCESSING_INPUTS):
        inputs.append(
            {
                "batch": b.batch_ref(f"inputs.{i}.batch"),
                "quantity": b.decimal(f"inputs.{i}.quantity", required=True, positive=True),
            }
        )
        b.path_map[f"inputs.{len(inputs) - 1}"] = f"inputs.{i}"
    if not inputs:
        b.fail("inputs.0.batch", b._("至少填写一个原料批次"))
    outputs: list[dict[str, Any]] = []
    for i in b.filled_rows(PROCESSING_OUTPUTS):
        prefix = f"outputs.{i}"
        product = b.product(f"{prefix}.product")
        lot = b.lot(f"{prefix}.lot")
        output: dict[str, Any] = {
            "batch": f"{product.id}:{lot}" if product and lot else None,
            "quantity": b.decimal(f"{prefix}.quantity", required=True, positive=True),
            "unit": b.text(f"{prefix}.unit", required=True, max_length=16),
        }
        best_before = b.date(f"{prefix}.best_before")
        if best_before:
            output["best_before"] = best_before
        b.path_map[f"outputs.{len(outputs)}"] = prefix
        outputs.append(output)
    if not outputs:
        b.fail("outputs.0.product", b._("至少填写一个产出批次"))
    draft: dict[str, Any] = {"kind": "processing", "inputs": inputs, "outputs": outputs}
    process = b.text("process")
    if process:
        draft["process"] = process
    return b.common(draft)


def recall(b: DraftBuilder) -> dict[str, Any]:
    return b.common(
        {
            "kind": "recall",
            "batches": [b.batch_ref("batch")],
            "reason": b.text("reason", required=True, max_length=500),
        }
    )
