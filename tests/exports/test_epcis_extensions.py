"""User extension fields inside an event's parts (EPCIS 2.0 §6.4): inside sensor data (the
sensorElement, its sensorMetadata, each sensorReport) and inside readPoint and bizLocation.
They are kept as the event's own extensions are (RFC 8785 JSON text, with the namespaces of
the prefixes they use), exported back in place, and the event exported has the CBV 2.0
event hash of the event captured; where the schema allows no extension (a quantity, a
source) it is still refused naming it."""

from __future__ import annotations

import json
from typing import Any

from registry.exports.epcis.event_hash import event_hash
from tests.exports.conftest import PROBLEM_JSON, Registry, assert_valid

CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"


def _document(events: list[dict[str, Any]], namespace: str) -> dict[str, Any]:
    return {
        "@context": [CONTEXT, {"ex": namespace}],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-06-01T08:00:00Z",
        "epcisBody": {"eventList": events},
    }


def _arriving(demo: Registry, minute: int, **fields: Any) -> dict[str, Any]:
    lot = f"https://id.gs1.org/01/{demo.gtin('GF2026-001')}/10/GF2026-001"
    return {
        "type": "ObjectEvent",
        "eventTime": f"2026-06-01T08:{minute:02d}:00+08:00",
        "eventTimeZoneOffset": "+08:00",
        "action": "OBSERVE",
        "bizStep": "arriving",
        "quantityList": [{"epcClass": lot, "quantity": 20, "uom": "KGM"}],
        "readPoint": {
            "id": "urn:epc:id:sgln:0614141.00777.0",
            "ex:shelf": {"row": 3, "ex:side": "left"},
        },
        "bizLocation": {"id": "urn:epc:id:sgln:0614141.00888.0", "ex:dock": "D2"},
        "sensorElementList": [
            {
                "sensorMetadata": {
                    "time": "2026-06-01T07:55:00+08:00",
                    "deviceID": "urn:epc:id:giai:4000001.111",
                    "ex:battery": 80,
                },
                "sensorReport": [
                    {"type": "Temperature", "value": 4.5, "uom": "CEL", "ex:feature": "core"},
                    {"type": "RelativeHumidity", "value": 61, "uom": "P1"},
                ],
                "ex:furtherSensorData": [{"ex:measure": "12.5"}, {"ex:measure": "13"}],
            }
        ],
        **fields,
    }


def _captured(demo: Registry, document: dict[str, Any]) -> list[dict[str, Any]]:
    response = demo.client.post(
        "/api/v1/epcis/capture", json=document, headers=demo.token("mengdong-driver")
    )
    assert response.status_code == 201, response.text[:1500]
    records: list[dict[str, Any]] = response.json()["records"]
    return records


def _without_registry_fields(event: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in event.items() if not k.startswith("gr:")}


def test_extensions_inside_sensor_data_and_locations_are_kept_and_exported_in_place(
    demo: Registry, epcis_validator
):
    first = _document([_arriving(demo, 1)], "https://sensors.example.com/voc/")
    # A second document binds the same prefix to another namespace: the export renames it.
    second = _document([_arriving(demo, 2)], "https://other.example.org/ns/")
    made = _captured(demo, first) + _captured(demo, second)
    assert [r["kind"] for r in made] == ["observation", "observation"]

    record = demo.client.get(f"/api/v1/records/{made[0]['digest']}").json()["record"]
    event = record["event"]
    assert event["read_point"] == "urn:epc:id:sgln:0614141.00777.0"
    assert json.loads(event["read_point_extensions"]["ex:shelf"]) == {"ex:side": "left", "row": 3}
    assert event["biz_location_extensions"] == {"ex:dock": '"D2"'}
    assert event["namespaces"] == {"ex": "https://sensors.example.com/voc/"}
    [sensor] = record["sensors"]
    assert sensor["metadata"]["extensions"] == {"ex:battery": "80"}
    assert sensor["reports"][0]["extensions"] == {"ex:feature": '"core"'}
    assert "extensions" not in sensor["reports"][1]
    assert json.loads(sensor["extensions"]["ex:furtherSensorData"]) == [
        {"ex:measure": "12.5"},
        {"ex:measure": "13"},
    ]
    assert sensor["namespaces"] == {"ex": "https://sensors.example.com/voc/"}

    exported = demo.client.get(
        "/api/v1/export/epcis", params={"batch": demo.code("GF2026-001")}
    ).json()
    assert_valid(epcis_validator, exported, "the export of extensions inside an event's parts")
    context = exported["@context"]
    assert {"ex": "https://sensors.example.com/voc/"}.items() <= context[1].items()
    assert context[1]["ex2"] == "https://other.example.org/ns/"
    back = {e["gr:digest"]: e for e in exported["epcisBody"]["eventList"]}
    one, two = (_without_registry_fields(back[r["digest"]]) for r in made)
    assert one["readPoint"] == first["epcisBody"]["eventList"][0]["readPoint"]
    assert one["sensorElementList"] == first["epcisBody"]["eventList"][0]["sensorElementList"]
    assert two["bizLocation"] == {"id": "urn:epc:id:sgln:0614141.00888.0", "ex2:dock": "D2"}
    assert two["sensorElementList"][0]["ex2:furtherSensorData"] == [
        {"ex2:measure": "12.5"},
        {"ex2:measure": "13"},
    ]
    for document, again in ((first, one), (second, two)):
        original = document["epcisBody"]["eventList"][0]
        assert event_hash(again, context) == event_hash(original, document["@context"]), (
            "exported with the CBV 2.0 event hash of the event captured"
        )


def test_extensions_the_registry_cannot_keep_are_refused_naming_them(demo: Registry):
    size = demo.log_size()
    lot = f"https://id.gs1.org/01/{demo.gtin('GF2026-001')}/10/GF2026-001"
    cases: dict[str, dict[str, Any]] = {
        # a prefix the document does not bind: no namespace to keep it under
        "readPoint.nobody:shelf": {
            "readPoint": {"id": "urn:epc:id:sgln:0614141.00777.0", "nobody:shelf": 3}
        },
        "sensorElementList[0].sensorReport[0].calibration": {
            "sensorElementList": [
                {"sensorReport": [{"type": "Temperature", "value": 4, "calibration": "x"}]}
            ]
        },
        # the EPCIS 2.0 schema allows no extension inside a quantity or a source
        "quantityList[0].ex:grade": {"quantityList": [{"epcClass": lot, "ex:grade": "A"}]},
        "sourceList[0].ex:note": {
            "sourceList": [
                {"type": "owning_party", "source": "urn:epc:id:pgln:0614141.00001", "ex:note": 1}
            ]
        },
    }
    for path, fields in cases.items():
        document = _document([_arriving(demo, 3, **fields)], "https://sensors.example.com/voc/")
        response = demo.client.post(
            "/api/v1/epcis/capture", json=document, headers=demo.token("mengdong-driver")
        )
        assert response.status_code == 422, (path, response.text[:500])
        assert response.headers["content-type"] == PROBLEM_JSON
        paths = [p["path"] for e in response.json()["errors"] for p in e["problems"]]
        assert f"epcisBody.eventList[0].{path}" in paths, (path, paths)
    assert demo.log_size() == size, "nothing refused is logged"
