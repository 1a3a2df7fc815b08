"""Sensor data is kept whole: every gs1:MeasurementType, in compact, prefixed and full IRI
form, with its values, statistics, device and raw data; it is exported back schema-valid
and equal; what the registry cannot represent is refused naming the field."""

from __future__ import annotations

from typing import Any

from tests.exports.conftest import (
    PROBLEM_JSON,
    Registry,
    assert_valid,
    epcis_document,
)


def _holding(demo: Registry, sensors: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    return {
        "type": "ObjectEvent",
        "eventTime": "2026-06-01T08:00:00+08:00",
        "eventTimeZoneOffset": "+08:00",
        "action": "OBSERVE",
        "bizStep": "sensor_reporting",
        "quantityList": [{"epcClass": f"{demo.ctx.settings.base_url}/b/{demo.code('AH2026-001')}"}],
        "bizLocation": {"id": "urn:epc:id:sgln:0614141.00777.0"},
        "sensorElementList": sensors,
        **fields,
    }


SENSORS = [
    {
        "sensorMetadata": {
            "time": "2026-06-01T07:00:00+08:00",
            "deviceID": "urn:epc:id:giai:4000001.111",
            "deviceMetadata": "https://id.gs1.org/8004/4000001111",
            "rawData": "https://sensors.example.com/raw/2026-06-01.csv",
            "dataProcessingMethod": "https://sensors.example.com/method/avg-5min",
        },
        "sensorReport": [
            {"type": "Temperature", "value": 4.5, "uom": "CEL"},
            {"type": "RelativeHumidity", "value": 61, "uom": "P1"},
        ],
    },
    {
        "sensorMetadata": {
            "startTime": "2026-06-01T06:00:00+08:00",
            "endTime": "2026-06-01T07:00:00+08:00",
        },
        "sensorReport": [
            {
                "type": "gs1:Temperature",
                "minValue": 3.9,
                "maxValue": 5.25,
                "meanValue": 4.4,
                "sDev": 0.3,
                "uom": "CEL",
            },
            {
                "type": "https://gs1.org/voc/Temperature",
                "value": 40.1,
                "uom": "FAH",
                "time": "2026-06-01T06:30:00+08:00",
            },
        ],
    },
    {
        "sensorReport": [
            {"type": "Speed", "value": 12.5, "uom": "KMH"},
            {"type": "Angle", "value": 90, "uom": "DD", "component": "x"},
            {"type": "Length", "value": 0.75, "uom": "MTR"},
            {"type": "Mass", "value": 1200, "uom": "KGM", "exception": "ALARM_CONDITION"},
            {"type": "ex:DoorOpen", "booleanValue": False},
            {
                "type": "ex:Firmware",
                "stringValue": "v2.1",
                "uriValue": "https://sensors.example.com/fw/2.1",
            },
            {"type": "ex:Blob", "hexBinaryValue": "0A0B"},
            {
                "type": "gs1:Pressure",
                "value": 101.3,
                "uom": "KPA",
                "percRank": 50,
                "percValue": 101.2,
            },
        ],
    },
]


def test_sensor_data_is_kept_whole_and_exported_back(demo: Registry, epcis_validator):
    event = _holding(demo, SENSORS, eventID="urn:uuid:77777777-7777-4777-8777-777777777777")
    response = demo.client.post(
        "/api/v1/epcis/capture",
        json=epcis_document([event], {"ex": "https://sensors.example.com/voc/"}),
        headers=demo.token("aohan-clerk"),
    )
    assert response.status_code == 201, response.text[:1500]
    digest = response.json()["records"][0]["digest"]
    record = demo.client.get(f"/api/v1/records/{digest}").json()["record"]
    sensors = record["sensors"]
    assert [len(s["reports"]) for s in sensors] == [2, 2, 8]
    types = [r["type"] for s in sensors for r in s["reports"]]
    assert (
        types[:4]
        == ["https://gs1.org/voc/Temperature", "https://gs1.org/voc/RelativeHumidity"]
        + ["https://gs1.org/voc/Temperature"] * 2
    ), "the three spellings of Temperature are one term"
    assert "https://sensors.example.com/voc/DoorOpen" in types
    assert sensors[0]["metadata"]["raw_data"] == "https://sensors.example.com/raw/2026-06-01.csv"
    assert sensors[0]["metadata"]["device_id"] == "urn:epc:id:giai:4000001.111"
    stats = sensors[1]["reports"][0]
    assert (stats["min_value"], stats["max_value"], stats["mean_value"], stats["s_dev"]) == (
        "3.9",
        "5.25",
        "4.4",
        "0.3",
    )
    assert sensors[2]["reports"][1]["component"] == "https://ref.gs1.org/cbv/Comp-x"
    assert sensors[2]["reports"][3]["exception"] == "https://gs1.org/voc/ALARM_CONDITION"
    assert sensors[2]["reports"][4]["boolean_value"] is False
    # The temperature in CEL is also a storage reading, as before.
    assert record["readings"] == [
        {"celsius": "4.5", "humidity": "61", "time": "2026-06-01T07:00:00+08:00"}
    ]

    exported = demo.client.get(
        "/api/v1/export/epcis", params={"batch": demo.code("AH2026-001")}
    ).json()
    assert_valid(epcis_validator, exported, "the export of captured sensor data")
    [back] = [e for e in exported["epcisBody"]["eventList"] if e.get("gr:digest") == digest]
    assert back["gr:capturedFrom"]["event_id"] == event["eventID"]
    expected = [
        {
            **({"sensorMetadata": s["sensorMetadata"]} if "sensorMetadata" in s else {}),
            "sensorReport": [
                {**r, "type": r["type"].replace("gs1:", "").replace("https://gs1.org/voc/", "")}
                for r in s["sensorReport"]
            ],
        }
        for s in SENSORS
    ]
    expected[2]["sensorReport"][4]["type"] = "https://sensors.example.com/voc/DoorOpen"
    expected[2]["sensorReport"][5]["type"] = "https://sensors.example.com/voc/Firmware"
    expected[2]["sensorReport"][6]["type"] = "https://sensors.example.com/voc/Blob"
    assert back["sensorElementList"] == expected


def test_what_cannot_be_represented_is_refused_naming_the_field(demo: Registry):
    size = demo.log_size()
    cases = {
        "sensorElementList[0].sensorReport[0].type": [
            {"sensorReport": [{"type": "Tempreature", "value": 4, "uom": "CEL"}]}
        ],
        # an extension field under a prefix the document does not bind (test_epcis_extensions
        # has those it binds, kept)
        "sensorElementList[0].sensorReport[0].nobody:calibration": [
            {"sensorReport": [{"type": "Temperature", "value": 4, "nobody:calibration": "x"}]}
        ],
        "sensorElementList[0].sensorReport[0].value": [
            {"sensorReport": [{"type": "Temperature", "value": "warm"}]}
        ],
        "sensorElementList[0].sensorMetadata.battery": [
            {"sensorMetadata": {"battery": 80}, "sensorReport": [{"type": "Mass", "value": 1}]}
        ],
    }
    for path, sensors in cases.items():
        response = demo.client.post(
            "/api/v1/epcis/capture",
            json=epcis_document(
                [_holding(demo, sensors)], {"ex": "https://sensors.example.com/voc/"}
            ),
            headers=demo.token("aohan-clerk"),
        )
        assert response.status_code == 422, (path, response.text[:500])
        assert response.headers["content-type"] == PROBLEM_JSON
        paths = [p["path"] for e in response.json()["errors"] for p in e["problems"]]
        assert f"epcisBody.eventList[0].{path}" in paths, (path, paths)
    assert demo.log_size() == size, "nothing refused is logged"
