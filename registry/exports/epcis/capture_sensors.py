"""Captured events that report measurements (EPCIS 2.0 sensorElementList): inspections
(``inspecting``, a chemicalSubstance result per sensorReport) and storage (``holding``,
Temperature and RelativeHumidity readings). The sensor data itself is kept whole by
``sensor_data``. The draft fields are those of docs/records.md.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from registry.exports.epcis.event_view import EventView
from registry.exports.epcis.identifiers import text_of_uri
from registry.exports.epcis.sensor_data import temperature_readings
from registry.exports.epcis.values import decimal_text
from registry.exports.epcis.vocabulary import MEASURE_UNITS, PREFIX


def inspection(view: EventView, draft: dict[str, Any]) -> None:
    """An ``inspecting`` ObjectEvent as an inspection draft: the report (``testres``), the
    results and the verdict (``gr:verdict``, else the CBV 2.0 disposition, else the results)."""
    draft["kind"] = "inspection"
    report = view.ext("reportNumber")
    if not isinstance(report, str):
        for transaction in view.list("bizTransactionList"):
            if isinstance(transaction, dict) and transaction.get("type") == "testres":
                report = text_of_uri(str(transaction.get("bizTransaction")), "/reports/")
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
            results.append(substance_result(view, path, reading))
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


def substance_result(view: EventView, path: str, reading: dict[str, Any]) -> dict[str, Any]:
    """A sensorReport with ``chemicalSubstance`` as a lab result: substance, value, limit,
    unit, method standard and verdict (judged against the limit when not given)."""
    substance = view.ext("substance", reading)
    if not isinstance(substance, str):
        substance = text_of_uri(str(reading["chemicalSubstance"]), "/substances/")
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
    limit = _limit(view, path, reading)
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


def _limit(view: EventView, path: str, reading: dict[str, Any]) -> Any:
    """The ``gr:limit`` a result is judged against, as a decimal string when it is one."""
    limit = view.ext("limit", reading)
    if limit is None:
        view.problem(f"{path}.{PREFIX}:limit", "the limit the value is judged against")
        return None
    try:
        return decimal_text(limit)
    except ValueError as exc:
        view.problem(f"{path}.{PREFIX}:limit", str(exc))
        return limit


def storage(view: EventView, draft: dict[str, Any]) -> None:
    """A ``holding`` (or ``sensor_reporting``) ObjectEvent as a storage draft: where
    (``gr:location``, else bizLocation or readPoint) and the temperature readings of its
    sensor data (which the record also keeps whole, ``sensors``)."""
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
    draft["readings"] = temperature_readings(draft.get("sensors") or [], draft.get("time"))
