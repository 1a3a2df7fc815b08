"""EPCIS 2.0 sensor data (EPCIS 2.0.1 §7.3.9) kept whole: a ``sensorElementList`` to the
record's ``sensors`` on capture and back on export.

Every field of ``sensorMetadata`` and ``sensorReport`` the standard defines is kept, under
its snake_case name; numbers become decimal strings; ``type``, ``exception`` and
``component`` are resolved to full IRIs through the JSON-LD context (``Temperature``,
``gs1:Temperature`` and ``https://gs1.org/voc/Temperature`` are one term). A field the
registry cannot represent (a type that is no term of the vocabulary, a value that is no
number) is a problem naming its path: a capture never drops it silently. User extension
fields inside sensor data (of the element, its metadata or a report) are kept as the
event's own are: each value as its RFC 8785 JSON text, with the namespaces of the prefixes
they use (the element's ``namespaces``), and written back in place.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from registry.exports.epcis.event_fields import extension_fields
from registry.exports.epcis.event_view import EventView, extension_namespaces, keep_extension
from registry.exports.epcis.sensor_vocabulary import (
    COMPONENT_PREFIX,
    COMPONENTS,
    GS1_VOC,
    MEASUREMENT_TYPES,
    SENSOR_ALERT_TYPES,
    compact_term,
    resolve_term,
)
from registry.exports.epcis.values import decimal_text, number
from registry.exports.epcis.vocabulary import NS

_METADATA = {
    "time": "time",
    "startTime": "start_time",
    "endTime": "end_time",
    "deviceID": "device_id",
    "deviceMetadata": "device_metadata",
    "rawData": "raw_data",
    "dataProcessingMethod": "data_processing_method",
    "bizRules": "biz_rules",
}
_REPORT = {
    "type": "type",
    "exception": "exception",
    "deviceID": "device_id",
    "deviceMetadata": "device_metadata",
    "rawData": "raw_data",
    "dataProcessingMethod": "data_processing_method",
    "bizRules": "biz_rules",
    "time": "time",
    "microorganism": "microorganism",
    "chemicalSubstance": "chemical_substance",
    "coordinateReferenceSystem": "coordinate_reference_system",
    "value": "value",
    "component": "component",
    "stringValue": "string_value",
    "booleanValue": "boolean_value",
    "hexBinaryValue": "hex_binary_value",
    "uriValue": "uri_value",
    "minValue": "min_value",
    "maxValue": "max_value",
    "meanValue": "mean_value",
    "sDev": "s_dev",
    "percRank": "perc_rank",
    "percValue": "perc_value",
    "uom": "uom",
}
_NUMBERS = frozenset(
    {"value", "minValue", "maxValue", "meanValue", "sDev", "percRank", "percValue"}
)
_VOCABULARY = {
    "type": (MEASUREMENT_TYPES, GS1_VOC, "gs1:MeasurementType"),
    "exception": (SENSOR_ALERT_TYPES, GS1_VOC, "gs1:SensorAlertType"),
    "component": (COMPONENTS, COMPONENT_PREFIX, "CBV 2.0 component"),
}
_UOM = re.compile(r"^[A-Z0-9]{2,3}$")


def _fields(
    view: EventView, path: str, source: object, names: dict[str, str]
) -> dict[str, Any] | None:
    """The fields of a sensorMetadata or sensorReport, by their record names."""
    if not isinstance(source, dict):
        view.problem(path, "must be a JSON object")
        return None
    kept: dict[str, Any] = {}
    extensions: dict[str, str] = {}
    for key, value in source.items():
        where = f"{path}.{key}"
        if _registry_extension(view, key):
            continue  # the registry's own fields (a lab result's limit …), read elsewhere
        if key not in names:
            keep_extension(view, where, key, value, extensions)
            continue
        try:
            kept[names[key]] = _value(view, key, value)
        except ValueError as exc:
            view.problem(where, str(exc))
    if extensions:
        kept["extensions"] = extensions
    return kept


def _registry_extension(view: EventView, key: str) -> bool:
    prefix, colon, _ = key.partition(":")
    return (bool(colon) and prefix in view.prefixes) or key.startswith(NS)


def _value(view: EventView, key: str, value: object) -> Any:
    if key in _NUMBERS:
        return decimal_text(value)
    if key in _VOCABULARY:
        terms, namespace, what = _VOCABULARY[key]
        return resolve_term(value, terms, namespace, what, view.namespaces)
    if key == "booleanValue":
        if not isinstance(value, bool):
            raise ValueError("must be true or false")
        return value
    if not isinstance(value, str):
        raise ValueError("must be a string")
    if key == "uom" and not _UOM.match(value):
        raise ValueError("must be a UN/ECE Recommendation 20 code (2-3 letters or digits)")
    return value


def sensors_of_event(view: EventView) -> list[dict[str, Any]] | None:
    """The event's sensorElementList as the record's ``sensors`` (None if it has none)."""
    elements = view.list("sensorElementList")
    if not elements:
        return None
    sensors = []
    for i, element in enumerate(elements):
        path = f"sensorElementList[{i}]"
        if not isinstance(element, dict):
            view.problem(path, "must be a JSON object")
            continue
        extensions: dict[str, str] = {}
        for key, value in element.items():
            if key not in ("sensorMetadata", "sensorReport"):
                keep_extension(view, f"{path}.{key}", key, value, extensions)
        kept: dict[str, Any] = {}
        if "sensorMetadata" in element:
            metadata = _fields(view, f"{path}.sensorMetadata", element["sensorMetadata"], _METADATA)
            if metadata:
                kept["metadata"] = metadata
        reports = element.get("sensorReport")
        if not isinstance(reports, list) or not reports:
            view.problem(f"{path}.sensorReport", "a sensorElement has a list of sensorReport")
            continue
        kept["reports"] = []
        for j, report in enumerate(reports):
            fields = _fields(view, f"{path}.sensorReport[{j}]", report, _REPORT)
            if fields is not None and "type" not in fields and not view.problems:
                view.problem(f"{path}.sensorReport[{j}].type", "required")
            if fields is not None:
                kept["reports"].append(fields)
        if extensions:
            kept["extensions"] = extensions
        inside = [extensions, (kept.get("metadata") or {}).get("extensions") or {}]
        inside += [r.get("extensions") or {} for r in kept["reports"]]
        namespaces = extension_namespaces(view, inside)
        if namespaces:
            kept["namespaces"] = namespaces
        sensors.append(kept)
    return sensors


def sensor_element_list(
    sensors: list[dict[str, Any]], bind: Callable[[dict[str, str]], dict[str, str]]
) -> list[dict[str, Any]]:
    """A record's ``sensors`` as an EPCIS 2.0 sensorElementList (GS1 terms written bare);
    ``bind`` binds the prefixes of an element's extension fields in the document and
    returns those written under another name (``Exporter._bind``)."""
    elements = []
    for sensor in sensors:
        renamed = bind(sensor.get("namespaces") or {})
        element: dict[str, Any] = {}
        if sensor.get("metadata"):
            metadata = sensor["metadata"]
            element["sensorMetadata"] = {
                n: metadata[k] for n, k in _METADATA.items() if k in metadata
            }
            element["sensorMetadata"].update(extension_fields(metadata.get("extensions"), renamed))
        element["sensorReport"] = [_report(report, renamed) for report in sensor["reports"]]
        element.update(extension_fields(sensor.get("extensions"), renamed))
        elements.append(element)
    return elements


def _report(report: dict[str, Any], renamed: dict[str, str]) -> dict[str, Any]:
    written: dict[str, Any] = {}
    for name, key in _REPORT.items():  # in the standard's order, not the record's
        if key not in report:
            continue
        value = report[key]
        if name in _NUMBERS:
            value = number(value)
        elif name in _VOCABULARY:
            value = compact_term(value, _VOCABULARY[name][1])
        written[name] = value
    written.update(extension_fields(report.get("extensions"), renamed))
    return written


def temperature_readings(
    sensors: list[dict[str, Any]], fallback: str | None
) -> list[dict[str, Any]]:
    """Storage readings (docs/records.md) from sensor data: each element's temperature in
    CEL, and its relative humidity, at the element's (or the report's) time."""
    readings = []
    for sensor in sensors:
        reading: dict[str, Any] = {}
        when = (sensor.get("metadata") or {}).get("time")
        for report in sensor["reports"]:
            kind = report.get("type")
            if kind == GS1_VOC + "Temperature" and report.get("uom", "CEL") == "CEL":
                if "value" in report and "celsius" not in reading:
                    reading["celsius"] = report["value"]
                    when = when or report.get("time")
            elif kind == GS1_VOC + "RelativeHumidity" and "value" in report:
                reading.setdefault("humidity", report["value"])
        if "celsius" in reading:
            reading["time"] = when or fallback
            readings.append(reading)
    return readings
